"""``lock(*keys)``: a lease of the relay held for a ``with`` block, FIFO with every other session's locks.

Inside the block, reads of the locked keys see their values at the grant (and the block's own
writes); every write waits in the block and is committed, as one transaction, when it ends. An
exception ends the lease with nothing applied and goes on to the caller. A lock of keys this thread
already holds runs at once (reentrant): if its block raises, its writes are cut back and the outer
block may catch the error and go on.

Example::

    with state.lock("count"):
        state["count"] = state.get("count", 0) + 1
"""

from __future__ import annotations

import copy
from types import TracebackType
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple, Type

from .errors import HttpApiError
from .scope import HeldLease, ThreadScope, Write  # noqa: F401

if TYPE_CHECKING:
    from .state import ServerState

#: Default wait for a lease, as the JS client's lock timeout.
DEFAULT_LOCK_TIMEOUT = 10.0

_Savepoint = List[Tuple[HeldLease, Dict[str, Any]]]
_SAVED = ("writes", "forces", "all_quiet", "wrote", "after", "after_forces", "after_quiet")


class Lock:
    """A context manager holding the leases of ``keys`` (sorted, so two multi-key locks cannot deadlock)."""

    def __init__(self, state: "ServerState", keys: Tuple[str, ...], timeout: float = DEFAULT_LOCK_TIMEOUT) -> None:
        if not keys:
            raise ValueError("lock() needs at least one key")
        for key in keys:
            if not isinstance(key, str) or key == "":
                raise TypeError(f"lock keys are non-empty strings, not {key!r}")
        self._state = state
        self.keys = tuple(sorted(set(keys)))
        self.timeout = timeout
        self._entered: List[Tuple[ThreadScope, Optional[HeldLease], _Savepoint]] = []

    def __enter__(self) -> "ServerState":
        scope = self._state._scopes.current()
        savepoint: _Savepoint = [(h, {f: copy.copy(getattr(h, f)) for f in _SAVED}) for h in scope.leases]
        missing = [k for k in self.keys if scope.holder(k) is None]
        held = self._acquire(missing) if missing else None
        if held is not None:
            scope.leases.append(held)
        self._entered.append((scope, held, savepoint))
        return self._state

    def __exit__(
        self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException], tb: Optional[TracebackType]
    ) -> None:
        scope, held, savepoint = self._entered.pop()
        if held is not None:
            scope.leases.remove(held)
        if exc_type is not None:
            for h, saved in savepoint:
                for f, v in saved.items():
                    setattr(h, f, v)
            if held is not None:
                self._release(held)
            return
        if held is not None:
            self._commit(held)

    def _acquire(self, keys: List[str]) -> HeldLease:
        _, grant = self._state._http.request(
            "POST",
            "leases",
            {"keys": keys, "timeoutMs": int(self.timeout * 1000)},
            timeout=self.timeout + 15,
            lock_keys=keys,
        )
        values: Dict[str, Any] = grant.get("values") or {}
        granted = {k: _granted(values.get(k)) for k in keys}
        return HeldLease(lease=str(grant["lease"]), keys=tuple(keys), granted=granted, fence=int(grant.get("fence", 0)))

    def _release(self, held: HeldLease) -> None:
        try:
            self._state._http.request("DELETE", f"leases/{held.lease}", accept=(404, 409))
        except HttpApiError:
            # The lease ends at its expiry anyway, and the caller's own exception matters more.
            pass

    def _commit(self, held: HeldLease) -> None:
        if not held.wrote:
            self._release(held)
        else:
            body = commit_body(held.writes, held.forces)
            quiet = held.all_quiet
            done = self._state._writing(held.writes, held.forces, quiet)
            ok = False
            try:
                self._state._http.request(
                    "POST", f"leases/{held.lease}/commit", body, query={"quiet": "1"} if quiet else None, lock_keys=held.keys
                )
                ok = True
            finally:
                done(ok)
        if held.after or held.after_forces:
            self._state._send(held.after, held.after_forces, held.after_quiet)


def commit_body(writes: Dict[str, Write], forces: List[str]) -> Dict[str, Any]:
    """The body of a commit or ``PATCH /state``: ``{"set": {...}, "delete": [...], "force": [...]}``."""
    body: Dict[str, Any] = {}
    sets = {k: v for k, (kind, v) in writes.items() if kind == "set"}
    deletes = [k for k, (kind, _) in writes.items() if kind == "delete"]
    if sets:
        body["set"] = sets
    if deletes:
        body["delete"] = deletes
    if forces:
        body["force"] = list(dict.fromkeys(forces))
    return body


def _granted(entry: Any) -> Tuple[bool, Any]:
    """(is set, value) from a grant's ``values`` entry; an unset key has no entry or no ``value``."""
    if isinstance(entry, dict) and "value" in entry:
        return True, entry["value"]
    return False, None
