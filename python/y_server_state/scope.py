"""What one thread is inside of: a stack of held leases (``lock``) and the depth of ``no_rerun``.

A :class:`ServerState` keeps one :class:`ThreadScope` per thread, so a Streamlit session's script
thread and a background thread of the same process never see each other's locks or quiet writes.

Example::

    scope = scopes.current()
    with scope.quiet():
        assert scope.is_quiet
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional, Tuple

#: A buffered write: ("set", value) or ("delete", None).
Write = Tuple[str, Any]


@dataclass
class HeldLease:
    """One lease this thread holds: its keys' values at the grant and the writes waiting for its commit."""

    lease: str
    keys: Tuple[str, ...]
    #: key -> (is set, value) as the relay held it at the grant.
    granted: Dict[str, Tuple[bool, Any]]
    fence: int = 0
    writes: Dict[str, Write] = field(default_factory=dict)
    forces: List[str] = field(default_factory=list)
    #: Whether every write so far was made inside ``no_rerun``; one loud write makes the commit loud.
    all_quiet: bool = True
    wrote: bool = False
    #: Writes of keys no held lease covers: a commit writes only its lease's keys, so these go just
    #: after it, in a transaction of their own (and, like the rest, not at all if the block raises).
    after: Dict[str, Write] = field(default_factory=dict)
    after_forces: List[str] = field(default_factory=list)
    after_quiet: bool = True


class ThreadScope:
    """The leases held and the ``no_rerun`` depth of one thread."""

    def __init__(self) -> None:
        self.leases: List[HeldLease] = []
        self.quiet_depth = 0

    @property
    def is_quiet(self) -> bool:
        """Whether writes now are quiet (inside ``no_rerun``, at any depth)."""
        return self.quiet_depth > 0

    @contextmanager
    def quiet(self) -> Iterator[None]:
        """Makes writes quiet until the outermost ``no_rerun`` ends: it nests."""
        self.quiet_depth += 1
        try:
            yield
        finally:
            self.quiet_depth -= 1

    def holder(self, key: str) -> Optional[HeldLease]:
        """The innermost held lease over ``key``, or None."""
        for held in reversed(self.leases):
            if key in held.keys:
                return held
        return None



class Scopes:
    """One :class:`ThreadScope` per thread."""

    def __init__(self) -> None:
        self._local = threading.local()

    def current(self) -> ThreadScope:
        scope: Optional[ThreadScope] = getattr(self._local, "scope", None)
        if scope is None:
            scope = ThreadScope()
            self._local.scope = scope
        return scope
