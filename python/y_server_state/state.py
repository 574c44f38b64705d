"""``ServerState``: a room's shared keys as a Python mapping, over the relay's HTTP API.

Item and attribute access are the same (``state["count"]`` is ``state.count``), as in
streamlit-server-state. Every read asks the relay (so it sees every write stored before it), and
every write is answered once the relay has stored it. Inside ``lock(...)`` reads of the locked keys
see the grant's values and writes wait for the commit; inside ``no_rerun()`` writes are quiet.

Example::

    from y_server_state import ServerState

    state = ServerState("http://127.0.0.1:1234", "default")
    with state.lock("count"):
        state.count = state.get("count", 0) + 1
    with state.no_rerun():
        state["draft"] = "quiet write"
    for change in state.watch(["count"]):
        print(change.key, change.value)
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, MutableMapping, Optional, Sequence, Tuple, Union

from .errors import RerunSuppressedError
from .lock import DEFAULT_LOCK_TIMEOUT, Lock, commit_body
from .relay_http import RoomHttp, encode_segment
from .scope import Scopes, Write
from .values import checked, copied
from .watch import ChangeEvent, Watcher

_UNSET = object()
#: Called once a write's request has ended: with True if the relay stored it.
WriteDone = Callable[[bool], None]


def _nothing(ok: bool) -> None:
    pass


class ServerState(MutableMapping[str, Any]):
    """The shared keys of one room of a relay. Thread-safe: locks and ``no_rerun`` are per thread."""

    def __init__(self, url: str = "http://127.0.0.1:1234", room: str = "default", token: Optional[str] = None, *, timeout: float = 30.0) -> None:
        object.__setattr__(self, "_http", RoomHttp(url, room, token, timeout))
        object.__setattr__(self, "_scopes", Scopes())

    _http: RoomHttp
    _scopes: Scopes

    @property
    def url(self) -> str:
        return self._http.url

    @property
    def room(self) -> str:
        return self._http.room

    # -- hooks for adapters (the Streamlit one binds sessions on reads and spares writers) --

    def _reading(self, key: Optional[str]) -> None:
        """Called on each read of ``key`` (None: the set of keys, by ``keys()``, ``len``, iteration)."""

    def _writing(self, writes: Mapping[str, Write], forces: Sequence[str], quiet: bool) -> WriteDone:
        """Called just before writes go to the relay; the returned function learns whether they were stored."""
        return _nothing

    # -- reads --

    def _fetch(self, key: str) -> Tuple[bool, Any, int]:
        status, body = self._http.request("GET", f"state/{encode_segment(key)}", accept=(404,))
        body = body or {}
        return status != 404, body.get("value"), int(body.get("version", 0))

    def _lookup(self, key: str) -> Tuple[bool, Any]:
        _check_key(key)
        self._reading(key)
        scope = self._scopes.current()
        for held in reversed(scope.leases):
            for buffered in (held.writes, held.after):
                if key in buffered:
                    kind, value = buffered[key]
                    return kind == "set", copied(value)
        holder = scope.holder(key)
        if holder is not None:
            is_set, value = holder.granted[key]
            return is_set, copied(value)
        is_set, value, _ = self._fetch(key)
        return is_set, value

    def __getitem__(self, key: str) -> Any:
        is_set, value = self._lookup(key)
        if not is_set:
            raise KeyError(key)
        return value

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key != "" and self._lookup(key)[0]

    def get(self, key: str, default: Any = None) -> Any:
        is_set, value = self._lookup(key)
        return value if is_set else default

    def snapshot(self) -> Dict[str, Any]:
        """Every set key and its value, in one request (with this thread's unstored lock writes over them)."""
        self._reading(None)
        _, body = self._http.request("GET", "state")
        values = {k: e.get("value") for k, e in ((body or {}).get("keys") or {}).items()}
        for held in self._scopes.current().leases:
            for k, (is_set, v) in held.granted.items():
                if is_set:
                    values[k] = v
                else:
                    values.pop(k, None)
            for k, (kind, v) in [*held.after.items(), *held.writes.items()]:
                if kind == "set":
                    values[k] = copied(v)
                else:
                    values.pop(k, None)
        return values

    def __iter__(self) -> Iterator[str]:
        return iter(list(self.snapshot()))

    def __len__(self) -> int:
        return len(self.snapshot())

    def keys(self) -> List[str]:  # type: ignore[override]
        return list(self.snapshot())

    def items(self) -> List[Tuple[str, Any]]:  # type: ignore[override]
        return list(self.snapshot().items())

    def values(self) -> List[Any]:  # type: ignore[override]
        return list(self.snapshot().values())

    def version(self, key: str) -> int:
        """How many forced re-runs ``key`` has had (``force_rerun``), as the relay counts them."""
        _check_key(key)
        return self._fetch(key)[2]

    # -- writes --

    def __setitem__(self, key: str, value: Any) -> None:
        self._write({key: ("set", checked(key, value))}, [])

    def __delitem__(self, key: str) -> None:
        _check_key(key)
        self._write({key: ("delete", None)}, [])

    def update(self, other: Union[Mapping[str, Any], Iterable[Tuple[str, Any]]] = (), **kwargs: Any) -> None:  # type: ignore[override]
        """Sets several keys in one transaction (one request, or the current lock's commit)."""
        pairs = dict(other, **kwargs)
        self._write({k: ("set", checked(k, v)) for k, v in pairs.items()}, [])

    def force_rerun(self, key: str) -> None:
        """Re-runs every session bound to ``key`` without changing it, and counts one in ``version(key)``."""
        _check_key(key)
        if self._scopes.current().is_quiet:
            raise RerunSuppressedError("force_rerun() cannot be used inside no_rerun()")
        self._write({}, [key])

    def _write(self, writes: Dict[str, Write], forces: List[str]) -> None:
        for key in writes:
            _check_key(key)
        scope = self._scopes.current()
        if not scope.leases:
            self._send(writes, forces, scope.is_quiet)
            return
        innermost = scope.leases[-1]
        for key, w in writes.items():
            held = scope.holder(key)
            if held is not None:
                held.writes[key] = w
                held.all_quiet = held.all_quiet and scope.is_quiet
                held.wrote = True
            else:
                innermost.after[key] = w
                innermost.after_quiet = innermost.after_quiet and scope.is_quiet
        for key in forces:
            held = scope.holder(key)
            if held is not None:
                held.forces.append(key)
                held.all_quiet = False
                held.wrote = True
            else:
                innermost.after_forces.append(key)
                innermost.after_quiet = False

    def _send(self, writes: Mapping[str, Write], forces: Sequence[str], quiet: bool) -> None:
        """Sends writes outside any lease: one request, answered once stored."""
        query = {"quiet": "1"} if quiet else None
        done = self._writing(writes, forces, quiet)
        ok = False
        try:
            if len(writes) == 1 and not forces:
                ((key, (kind, value)),) = writes.items()
                path = f"state/{encode_segment(key)}"
                if kind == "set":
                    self._http.request("PUT", path, value, has_body=True, query=query)
                else:
                    self._http.request("DELETE", path, query=query)
            elif len(forces) == 1 and not writes:
                self._http.request("POST", f"state/{encode_segment(forces[0])}/force", query=query)
            elif writes or forces:
                self._http.request("PATCH", "state", commit_body(dict(writes), list(forces)), query=query)
            ok = True
        finally:
            done(ok)

    # -- attribute access, as streamlit-server-state allows --

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"server state has no key {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            object.__setattr__(self, name, value)
        else:
            self[name] = value

    def __delattr__(self, name: str) -> None:
        if name.startswith("_"):
            object.__delattr__(self, name)
        else:
            del self[name]

    # -- locks, quiet writes, mutations, watching --

    def lock(self, *keys: str, timeout: float = DEFAULT_LOCK_TIMEOUT) -> Lock:
        """A context manager holding the relay's lease of ``keys``: see :mod:`y_server_state.lock`."""
        return Lock(self, keys, timeout)

    @contextmanager
    def no_rerun(self) -> Iterator[None]:
        """Writes made inside re-run no session (they are still stored and seen). Nests."""
        with self._scopes.current().quiet():
            yield

    def call(self, name: str, **args: Any) -> Any:
        """Runs the relay's mutation ``name`` with ``args`` and returns its result once stored."""
        _, body = self._http.request("POST", f"mutations/{encode_segment(name)}", checked(name, args), has_body=True)
        return (body or {}).get("result")

    def watch(self, keys: Optional[Iterable[str]] = None, on_change: Optional[Callable[[ChangeEvent], None]] = None) -> Watcher:
        """Watches ``keys`` (all when None) on a background thread: iterate it, or pass ``on_change``.

        Reconnects by itself, resuming with ``Last-Event-ID``; close it with ``close()`` or ``with``.
        """
        return Watcher(self._http, keys, on_change)

    def __repr__(self) -> str:
        return f"ServerState(url={self.url!r}, room={self.room!r})"


def _check_key(key: object) -> None:
    if not isinstance(key, str) or key == "":
        raise TypeError(f"server state keys are non-empty strings, not {key!r}")
