"""streamlit-server-state's API on the relay: one import line moves an app, and its state is then
shared by every process, machine and web page on the same room.

Replace ``from streamlit_server_state import ...`` with::

    from y_server_state.streamlit import server_state, server_state_lock, no_rerun, force_rerun_bound_sessions

The relay and room come from ``YSS_URL`` (default ``http://127.0.0.1:1234``), ``YSS_ROOM``
(default ``default``) and ``YSS_TOKEN`` (none), or from :func:`configure` before the first use.

Behaviour, as the original's (SEMANTICS.md §1) with our contract's fixes:

- ``server_state.key`` and ``server_state["key"]`` read and write a key; reading binds the session
  (``in`` too; iteration and ``len`` bind it to every key).
- A change re-runs every session bound to the key, in this process, by Streamlit's rerun request,
  whichever process or web page made it; not the writer's own run, not for a quiet change.
- ``with server_state_lock["key"]:`` (or ``server_state_lock.key``, or ``server_state_lock("a", "b")``)
  holds the relay's lease: exact across processes.
- ``with no_rerun:`` makes writes quiet (it nests); ``force_rerun_bound_sessions(key)`` re-runs
  the bound sessions without a change, and raises ``RerunSuppressedError`` inside ``no_rerun``.

Example::

    import streamlit as st
    from y_server_state.streamlit import server_state, server_state_lock

    with server_state_lock["count"]:
        if "count" not in server_state:
            server_state.count = 0
    if st.button("Increment"):
        with server_state_lock.count:
            server_state.count += 1
    st.write("Count = ", server_state.count)
"""

from __future__ import annotations

import os
import threading
from types import TracebackType
from typing import Any, List, Mapping, Optional, Sequence, Tuple, Type

from .errors import RerunSuppressedError
from .lock import DEFAULT_LOCK_TIMEOUT, Lock
from .relay_http import RoomHttp
from .rerun_hub import RerunHub, write_mark
from .scope import Write
from .state import ServerState, WriteDone
from .streamlit_runtime import StreamlitSessions, current_run
from .values import fingerprint
from .watch import Watcher

__all__ = [
    "RerunSuppressedError",
    "StreamlitServerState",
    "configure",
    "force_rerun_bound_sessions",
    "no_rerun",
    "server_state",
    "server_state_lock",
]

DEFAULT_URL = "http://127.0.0.1:1234"
DEFAULT_ROOM = "default"
#: How long the first use waits for the room's watch to start, so no change is missed after it.
WATCH_START_WAIT = 5.0


def _nothing(ok: bool) -> None:
    pass


class StreamlitServerState(ServerState):
    """A :class:`ServerState` that binds the calling Streamlit session on reads and re-runs bound sessions."""

    _hub: RerunHub
    _watcher: Optional[Watcher]
    _watch_lock: threading.Lock

    def __init__(self, url: str, room: str, token: Optional[str], hub: RerunHub) -> None:
        super().__init__(url, room, token)
        object.__setattr__(self, "_hub", hub)
        object.__setattr__(self, "_watcher", None)
        object.__setattr__(self, "_watch_lock", threading.Lock())

    def _configure(self, url: str, room: str, token: Optional[str]) -> None:
        with self._watch_lock:
            if self._watcher is not None:
                self._watcher.close()
            object.__setattr__(self, "_watcher", None)
            object.__setattr__(self, "_http", RoomHttp(url, room, token))

    def _watching(self) -> Watcher:
        """The process's one watch of the room, started on first use (and waited for, briefly)."""
        with self._watch_lock:
            watcher = self._watcher
            started = watcher is None
            if watcher is None:
                watcher = self.watch(on_change=self._hub.on_change)
                object.__setattr__(self, "_watcher", watcher)
        if started:
            # Once: a relay that is down must not slow every read; the watch keeps reconnecting.
            watcher.ready.wait(WATCH_START_WAIT)
        return watcher

    def _reading(self, key: Optional[str]) -> None:
        run = current_run()
        if run is None:
            return
        self._watching()
        session_id, token, fragment = run
        self._hub.bind(session_id, token, key, fragment)

    def _writing(self, writes: Mapping[str, Write], forces: Sequence[str], quiet: bool) -> WriteDone:
        run = current_run()
        if quiet or run is None:
            return _nothing
        known = self._watching().values
        marks: List[Tuple[str, str]] = []
        for key, (kind, value) in writes.items():
            # A write equal to what the room holds changes nothing, so no change will come back to spare.
            if kind == "delete" and key not in known:
                continue
            if kind == "set" and key in known and fingerprint(known[key][0]) == fingerprint(value):
                continue
            marks.append((key, write_mark(kind, value)))
        marks.extend((key, "force") for key in forces)
        session_id = run[0]
        entries = self._hub.expect_own(session_id, marks)

        def done(ok: bool) -> None:
            if not ok:
                self._hub.drop_own(session_id, entries)

        return done


class ServerStateLock:
    """``server_state_lock["key"]``, ``server_state_lock.key``, ``server_state_lock("a", "b")``: lease context managers."""

    _state: ServerState

    def __init__(self, state: ServerState) -> None:
        object.__setattr__(self, "_state", state)

    def __getitem__(self, key: str) -> Lock:
        return self._state.lock(key)

    def __getattr__(self, name: str) -> Lock:
        if name.startswith("_"):
            raise AttributeError(name)
        return self._state.lock(name)

    def __call__(self, *keys: str, timeout: float = DEFAULT_LOCK_TIMEOUT) -> Lock:
        return self._state.lock(*keys, timeout=timeout)


class NoRerun:
    """``with no_rerun:`` (as the original) or ``with no_rerun():``: writes inside re-run nobody. Nests."""

    def __init__(self, state: ServerState) -> None:
        self._state = state

    def __call__(self) -> "NoRerun":
        return self

    def __enter__(self) -> None:
        self._state._scopes.current().quiet_depth += 1

    def __exit__(self, t: Optional[Type[BaseException]], e: Optional[BaseException], tb: Optional[TracebackType]) -> None:
        self._state._scopes.current().quiet_depth -= 1


_hub = RerunHub(StreamlitSessions())

#: The room's shared state; see the module's doc.
server_state = StreamlitServerState(
    os.environ.get("YSS_URL") or DEFAULT_URL, os.environ.get("YSS_ROOM") or DEFAULT_ROOM, os.environ.get("YSS_TOKEN") or None, _hub
)
server_state_lock = ServerStateLock(server_state)
no_rerun = NoRerun(server_state)


def force_rerun_bound_sessions(key: str) -> None:
    """Re-runs every session bound to ``key``, in every process, without changing it."""
    server_state.force_rerun(key)


def configure(url: Optional[str] = None, room: Optional[str] = None, token: Optional[str] = None) -> None:
    """Points ``server_state`` at another relay or room than the environment's (call before the first use)."""
    server_state._configure(url or server_state.url, room or server_state.room, token if token is not None else server_state._http.token)
