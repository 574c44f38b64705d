"""``watch()``: a room's changes as they are stored, on a background thread, over Server-Sent Events.

The first ``snapshot`` gives the watched keys' values; each ``change`` event after it becomes a
:class:`ChangeEvent`, in commit order. A dropped stream reconnects with ``Last-Event-ID``, so the
relay resends what was missed; if it no longer holds that, it sends a new snapshot, and the
watcher turns every difference from what it knew into a ``ChangeEvent`` with ``resync=True``.

Example::

    with state.watch(["count"]) as changes:
        for change in changes:
            print(change.key, change.value, change.quiet)
"""

from __future__ import annotations

import json
import logging
import queue
import socket
import threading
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple, Type

from .errors import HttpApiError, error_for
from .relay_http import RoomHttp
from .sse import EventStreamParser, StreamEvent

#: The relay pings every 15 s; a stream silent for longer than this is taken as dead.
READ_TIMEOUT = 45.0
_STOP = object()
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChangeEvent:
    """One key changed by one commit (or found changed on a resync)."""

    key: str
    value: Any
    version: int
    deleted: bool
    #: Written inside ``no_rerun``: nobody should re-run for it.
    quiet: bool
    #: The key's version moved: a forced re-run.
    forced: bool
    #: The stream's event id, None for a resync's differences.
    id: Optional[str] = None
    #: Found by comparing a new snapshot after a reconnection, not sent as a change.
    resync: bool = False


class Watcher:
    """A running watch of one room. Iterate it for :class:`ChangeEvent` s, or give ``on_change``."""

    def __init__(
        self,
        http: RoomHttp,
        keys: Optional[Iterable[str]] = None,
        on_change: Optional[Callable[[ChangeEvent], None]] = None,
        *,
        min_delay: float = 0.1,
        max_delay: float = 5.0,
    ) -> None:
        self._http = http
        self.keys: Optional[Tuple[str, ...]] = tuple(keys) if keys is not None else None
        self._on_change = on_change
        self._queue: "queue.Queue[object]" = queue.Queue()
        self._min_delay, self._max_delay = min_delay, max_delay
        #: key -> (value, version) as last known; a key absent is unset.
        self.values: Dict[str, Tuple[Any, int]] = {}
        self.ready = threading.Event()
        self.connected = False
        #: Why the watch stopped for good (credentials refused, no such room), else None.
        self.error: Optional[HttpApiError] = None
        self.last_id: Optional[str] = None
        self._closed = threading.Event()
        self._sock_lock = threading.Lock()
        self._sock: Optional[socket.socket] = None
        self._thread = threading.Thread(target=self._run, name=f"y-server-state watch {http.room}", daemon=True)
        self._thread.start()

    def wait_ready(self, timeout: Optional[float] = None) -> bool:
        """Waits for the first snapshot; False on timeout. Raises the watch's error if it stopped for good."""
        ok = self.ready.wait(timeout)
        if self.error is not None:
            raise self.error
        return ok

    def close(self) -> None:
        """Stops the watch and its thread; an iteration in progress ends."""
        self._closed.set()
        with self._sock_lock:
            if self._sock is not None:
                try:
                    self._sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        self._queue.put(_STOP)
        if threading.current_thread() is not self._thread:
            self._thread.join(5)

    def __enter__(self) -> "Watcher":
        return self

    def __exit__(self, t: Optional[Type[BaseException]], e: Optional[BaseException], tb: Optional[TracebackType]) -> None:
        self.close()

    def __iter__(self) -> Iterator[ChangeEvent]:
        while True:
            item = self._queue.get()
            if item is _STOP:
                self._queue.put(_STOP)
                if self.error is not None:
                    raise self.error
                return
            assert isinstance(item, ChangeEvent)
            yield item

    # -- the background thread --

    def _run(self) -> None:
        delay = self._min_delay
        while not self._closed.is_set():
            try:
                got_events = self._stream()
                if got_events:
                    delay = self._min_delay
            except HttpApiError as err:
                if err.status in (400, 401, 403, 404):
                    self.error = err
                    self.ready.set()
                    self._queue.put(_STOP)
                    return
            except (OSError, ValueError):
                pass
            self.connected = False
            if self._closed.wait(delay):
                break
            delay = min(delay * 2, self._max_delay)
        self._queue.put(_STOP)

    def _stream(self) -> bool:
        """Reads one connection until it ends; True if it delivered anything."""
        query: Optional[List[Tuple[str, str]]] = None
        if self.keys is not None:
            # A key with a comma cannot go in `keys=a,b`: each is then named by a `key=` of its own.
            plain = [k for k in self.keys if "," not in k]
            query = ([("keys", ",".join(plain))] if plain else []) + [("key", k) for k in self.keys if "," in k]
        headers = {"accept": "text/event-stream", "cache-control": "no-cache"}
        if self.last_id is not None:
            headers["last-event-id"] = self.last_id
        conn = self._http.connection(READ_TIMEOUT)
        try:
            conn.request("GET", self._http.path("events", query), headers=self._http.headers(headers))
            with self._sock_lock:
                self._sock = conn.sock
            if self._closed.is_set():
                return False
            resp = conn.getresponse()
            if resp.status != 200:
                raw = resp.read()
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {}
                raise error_for(resp.status, str(body.get("error", "http_error")), str(body.get("message", "")))
            self.connected = True
            parser = EventStreamParser()
            parser.last_id = self.last_id
            delivered = False
            while not self._closed.is_set():
                raw_line = resp.readline()
                if not raw_line:
                    break
                for event in parser.feed(raw_line.decode("utf-8").rstrip("\r\n")):
                    self._handle(event)
                    delivered = True
                if parser.last_id is not None:
                    self.last_id = parser.last_id
            return delivered
        finally:
            with self._sock_lock:
                self._sock = None
            conn.close()

    def _handle(self, event: StreamEvent) -> None:
        data = json.loads(event.data) if event.data else {}
        if event.event == "snapshot":
            self._snapshot(data.get("keys") or {})
        elif event.event == "change":
            change = ChangeEvent(
                key=str(data["key"]),
                value=data.get("value"),
                version=int(data.get("version", 0)),
                deleted=bool(data.get("deleted", False)),
                quiet=bool(data.get("quiet", False)),
                forced=bool(data.get("forced", False)),
                id=event.id,
            )
            if change.deleted:
                self.values.pop(change.key, None)
            else:
                self.values[change.key] = (change.value, change.version)
            self._emit(change)

    def _snapshot(self, keys: Dict[str, Any]) -> None:
        now = {k: (e.get("value"), int(e.get("version", 0))) for k, e in keys.items() if isinstance(e, dict)}
        before, first = self.values, not self.ready.is_set()
        self.values = now
        self.ready.set()
        if first:
            return
        diffs: List[ChangeEvent] = []
        for key in sorted(set(before) | set(now)):
            old, new = before.get(key), now.get(key)
            if old == new:
                continue
            forced = old is not None and new is not None and old[1] != new[1]
            if new is None:
                diffs.append(ChangeEvent(key, None, old[1] if old else 0, True, False, False, None, True))
            else:
                diffs.append(ChangeEvent(key, new[0], new[1], False, False, forced, None, True))
        for change in diffs:
            self._emit(change)

    def _emit(self, change: ChangeEvent) -> None:
        if self._on_change is not None:
            try:
                self._on_change(change)
            except Exception:  # noqa: BLE001 - a failing callback must not end the watch
                _log.exception("y_server_state: the watch callback failed on %r", change)
        else:
            self._queue.put(change)
