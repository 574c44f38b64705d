"""Which sessions of this process re-run for a change of the room, and asking them to, once each.

A session is bound to the keys its script run read: those of its current run and of the run
before it (a run cut short by a re-run may not have read everything yet), so a key it stopped
reading is unbound two runs later, not never, as in streamlit-server-state. A change re-runs every
session bound to its key, except:

- a quiet change (made inside ``no_rerun``): nobody;
- the writing session itself, for the writes it made (``expect_own``): a run that writes a key it
  reads must not trigger itself again, or ``x = x + 1`` at the top of a script would loop.

Re-runs go through a :class:`SessionRuntime` (the Streamlit one is in ``streamlit_runtime.py``); a
session busy running its script is asked again once it has finished, so a re-run never cuts
short a run that the user's own click started. This module needs no Streamlit: the tests drive it
with a runtime of their own.

Example::

    hub = RerunHub(runtime)
    hub.bind("session-1", run_token, "count")
    hub.on_change(change)     # re-runs session-1 if change.key == "count" and it is loud
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Protocol, Set, Tuple

from .values import fingerprint
from .watch import ChangeEvent

#: A session bound to every key: it read the set of keys (iteration, ``len``, ``keys()``).
ANY_KEY = "\0any"
#: How long a session's own write waits for its change to come back before it is forgotten.
OWN_WRITE_TTL = 10.0
#: How often a session that was busy running its script is asked again.
RETRY_INTERVAL = 0.05


class SessionRuntime(Protocol):
    """What the hub needs of the web framework: to ask a session for a re-run."""

    def rerun(self, session_id: str) -> str:
        """``"done"``, ``"busy"`` (running its script now: ask again later) or ``"gone"`` (ended)."""
        ...

    def alive(self, session_id: str) -> bool:
        """Whether the session is still connected."""
        ...


@dataclass
class _Session:
    run: Any = None
    current: Set[str] = field(default_factory=set)
    previous: Set[str] = field(default_factory=set)
    #: (key, what was written, expiry): "force", "delete" or the value's fingerprint.
    own: List[Tuple[str, str, float]] = field(default_factory=list)


def write_mark(kind: str, value: Any = None) -> str:
    """How a write is recognised when its change comes back: ``force``, ``delete`` or the value."""
    return kind if kind in ("force", "delete") else "set:" + fingerprint(value)


def change_mark(change: ChangeEvent) -> str:
    if change.forced:
        return "force"
    return "delete" if change.deleted else write_mark("set", change.value)


class RerunHub:
    """The bindings of this process's sessions, and a thread that asks them to re-run."""

    def __init__(self, runtime: SessionRuntime, *, own_write_ttl: float = OWN_WRITE_TTL, retry_interval: float = RETRY_INTERVAL) -> None:
        self._runtime = runtime
        self._ttl = own_write_ttl
        self._retry = retry_interval
        self._sessions: Dict[str, _Session] = {}
        self._wanted: Set[str] = set()
        self._cond = threading.Condition()
        self._closed = False
        self._thread: Optional[threading.Thread] = None

    # -- bindings --

    def bind(self, session_id: str, run: Any, key: Optional[str], fragment: bool = False) -> None:
        """Binds ``session_id`` to ``key`` (None: the set of keys), read in the run ``run``.

        ``run`` is anything that is the same object for one run and another for the next (None:
        runs cannot be told apart, and bindings only grow). A fragment's run adds to the run it is
        part of.
        """
        with self._cond:
            s = self._sessions.get(session_id)
            if s is None:
                # A session seen for the first time: drop those that ended meanwhile, so a process
                # serving many short sessions keeps only the live ones' bindings.
                self._sweep()
                s = self._sessions[session_id] = _Session()
            if run is not None and run is not s.run and not fragment:
                s.run = run
                s.previous, s.current = s.current, set()
            s.current.add(ANY_KEY if key is None else key)

    def bound(self, session_id: str) -> Set[str]:
        """The keys ``session_id`` is bound to (ANY_KEY for the set of keys)."""
        with self._cond:
            s = self._sessions.get(session_id)
            return set() if s is None else s.current | s.previous

    def expect_own(self, session_id: str, marks: List[Tuple[str, str]]) -> List[Tuple[str, str, float]]:
        """Records writes ``session_id`` is sending, as (key, :func:`write_mark`); returns them for :meth:`drop_own`."""
        until = time.monotonic() + self._ttl
        entries = [(k, m, until) for k, m in marks]
        with self._cond:
            self._sessions.setdefault(session_id, _Session()).own.extend(entries)
        return entries

    def drop_own(self, session_id: str, entries: List[Tuple[str, str, float]]) -> None:
        """Forgets own writes that will not come back (the relay refused them, or they changed nothing)."""
        with self._cond:
            s = self._sessions.get(session_id)
            if s is not None:
                s.own = [e for e in s.own if not any(e is x for x in entries)]

    def forget(self, session_id: str) -> None:
        """Drops a session that ended."""
        with self._cond:
            self._sessions.pop(session_id, None)
            self._wanted.discard(session_id)

    def _sweep(self) -> None:
        for sid in [sid for sid in self._sessions if not self._runtime.alive(sid)]:
            del self._sessions[sid]
            self._wanted.discard(sid)

    def sessions(self) -> List[str]:
        with self._cond:
            return list(self._sessions)

    # -- changes --

    def on_change(self, change: ChangeEvent) -> None:
        """Re-runs the sessions a change concerns (see the module's doc)."""
        if change.quiet and not change.forced:
            return
        mark = change_mark(change)
        now = time.monotonic()
        with self._cond:
            for sid, s in self._sessions.items():
                s.own = [e for e in s.own if e[2] > now]
                if change.key not in s.current and change.key not in s.previous and ANY_KEY not in s.current | s.previous:
                    continue
                own = next((e for e in s.own if e[0] == change.key and e[1] == mark), None)
                if own is not None:
                    s.own.remove(own)
                    continue
                self._wanted.add(sid)
            if self._wanted:
                self._start()
                self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(5)

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._dispatch, name="y-server-state reruns", daemon=True)
            self._thread.start()

    def _dispatch(self) -> None:
        while True:
            with self._cond:
                while not self._wanted and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                wanted = list(self._wanted)
                self._wanted.clear()
            busy: List[str] = []
            for sid in wanted:
                try:
                    outcome = self._runtime.rerun(sid)
                except Exception:  # noqa: BLE001 - a session torn down under us is a gone session
                    outcome = "gone"
                if outcome == "busy":
                    busy.append(sid)
                elif outcome == "gone":
                    self.forget(sid)
            if busy:
                with self._cond:
                    self._wanted.update(s for s in busy if s in self._sessions)
                    if not self._closed:
                        self._cond.wait(self._retry)
