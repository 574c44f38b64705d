"""A small relay speaking docs/http-api.md in memory, for testing the client without Node.

It keeps the contract's shape (routes, bodies, error codes, SSE snapshot/change events with ids
and Last-Event-ID resume, FIFO leases that expire), not the real relay's storage or limits.
``requests`` records every request (method, path, query) so tests can check what was sent.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, List, Optional, Tuple
from urllib.parse import parse_qs, unquote, urlsplit


class FakeRelay:
    def __init__(self, lease_ms: int = 10_000, token: Optional[str] = None) -> None:
        self.values: Dict[str, Dict[str, Any]] = {}  # room -> key -> value
        self.versions: Dict[str, Dict[str, int]] = {}
        self.events: Dict[str, List[Tuple[int, Dict[str, Any]]]] = {}
        self.next_id = 1
        self.lease_ms = lease_ms
        self.token = token
        self.leases: Dict[str, Dict[str, Any]] = {}
        self.queue: List[str] = []  # lease ids waiting or granted, FIFO
        self.fence = 0
        self.mutations: Dict[str, Callable[[Dict[str, Any], Any], Any]] = {}
        self.requests: List[Tuple[str, str, Dict[str, List[str]]]] = []
        self.cond = threading.Condition()
        self.streams: List[Any] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify_all()
        self.drop_streams()
        self.server.shutdown()
        self.server.server_close()

    def drop_streams(self) -> None:
        """Closes every open event stream, as a network failure would."""
        for handler in list(self.streams):
            try:
                handler.connection.shutdown(2)
            except OSError:
                pass

    # -- the state --

    def commit(self, room: str, sets: Dict[str, Any], deletes: List[str], forces: List[str], quiet: bool) -> Dict[str, int]:
        with self.cond:
            values = self.values.setdefault(room, {})
            versions = self.versions.setdefault(room, {})
            changed: List[Dict[str, Any]] = []
            for k, v in sets.items():
                if k in values and values[k] == v:
                    continue
                values[k] = v
                changed.append({"key": k, "value": v, "deleted": False, "forced": False})
            for k in deletes:
                if k in values:
                    del values[k]
                    changed.append({"key": k, "value": None, "deleted": True, "forced": False})
            for k in forces:
                versions[k] = versions.get(k, 0) + 1
                changed = [c for c in changed if c["key"] != k]
                changed.append({"key": k, "value": values.get(k), "deleted": k not in values, "forced": True})
            out = {}
            for c in changed:
                c["version"] = versions.get(c["key"], 0)
                c["quiet"] = quiet and not c["forced"]
                self.events.setdefault(room, []).append((self.next_id, c))
                self.next_id += 1
            for k in list(sets) + deletes + forces:
                out[k] = versions.get(k, 0)
            self.cond.notify_all()
            return out

    def entry(self, room: str, key: str) -> Dict[str, Any]:
        e: Dict[str, Any] = {"version": self.versions.get(room, {}).get(key, 0)}
        if key in self.values.get(room, {}):
            e["value"] = self.values[room][key]
        return e

    # -- leases --

    def _expire(self) -> None:
        now = time.time() * 1000
        for lid in list(self.queue):
            lease = self.leases[lid]
            if lease["granted"] and lease["expiresAt"] <= now:
                self._end(lid)

    def _end(self, lid: str) -> None:
        if lid in self.queue:
            self.queue.remove(lid)
        self.leases[lid]["ended"] = True
        self.cond.notify_all()

    def _grantable(self, lid: str) -> bool:
        keys = set(self.leases[lid]["keys"])
        for other in self.queue:
            if other == lid:
                return True
            if keys & set(self.leases[other]["keys"]):
                return False
        return False

    def acquire(self, room: str, keys: List[str], timeout_ms: int) -> Optional[Dict[str, Any]]:
        with self.cond:
            lid = f"L{len(self.leases) + 1}"
            self.leases[lid] = {"room": room, "keys": keys, "granted": False, "ended": False}
            self.queue.append(lid)
            deadline = time.time() + timeout_ms / 1000
            while True:
                self._expire()
                if self._grantable(lid):
                    break
                left = deadline - time.time()
                if left <= 0:
                    self._end(lid)
                    return None
                self.cond.wait(min(left, 0.05))
            self.fence += 1
            lease = self.leases[lid]
            lease.update(granted=True, expiresAt=time.time() * 1000 + self.lease_ms)
            values = {k: self.entry(room, k) for k in keys}
            return {"lease": lid, "fence": self.fence, "keys": keys, "values": values, "expiresAt": lease["expiresAt"], "leaseMs": self.lease_ms}


def _handler(relay: FakeRelay) -> type:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def answer(self, status: int, body: Any = None) -> None:
            raw = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def error(self, status: int, code: str, message: str = "") -> None:
            self.answer(status, {"error": code, "message": message or code})

        def body(self) -> Any:
            n = int(self.headers.get("content-length") or 0)
            return json.loads(self.rfile.read(n)) if n else None

        def route(self, method: str) -> None:
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            relay.requests.append((method, parts.path, query))
            if relay.token and self.headers.get("authorization") != f"Bearer {relay.token}":
                return self.error(401, "unauthorized")
            segs = parts.path.split("/")[1:]
            if len(segs) < 3 or segs[0] != "rooms":
                return self.error(404, "not_found")
            room, rest = unquote(segs[1]), [unquote(s) for s in segs[2:]]
            quiet = query.get("quiet") == ["1"]
            if rest == ["state"] and method == "GET":
                with relay.cond:
                    keys = {k: relay.entry(room, k) for k in relay.values.get(room, {})}
                return self.answer(200, {"keys": keys})
            if rest == ["state"] and method == "PATCH":
                b = self.body() or {}
                return self.answer(200, {"versions": relay.commit(room, b.get("set", {}), b.get("delete", []), b.get("force", []), quiet)})
            if len(rest) == 2 and rest[0] == "state":
                key = rest[1]
                if method == "GET":
                    with relay.cond:
                        e = relay.entry(room, key)
                    return self.answer(200 if "value" in e else 404, e)
                if method == "PUT":
                    v = relay.commit(room, {key: self.body()}, [], [], quiet)
                    return self.answer(200, {"version": v[key]})
                if method == "DELETE":
                    v = relay.commit(room, {}, [key], [], quiet)
                    return self.answer(200, {"version": v[key]})
            if len(rest) == 3 and rest[0] == "state" and rest[2] == "force" and method == "POST":
                v = relay.commit(room, {}, [], [rest[1]], False)
                return self.answer(200, {"version": v[rest[1]]})
            if rest == ["leases"] and method == "POST":
                b = self.body()
                grant = relay.acquire(room, b["keys"], b.get("timeoutMs", 10_000))
                if grant is None:
                    return self.error(409, "lock_timeout", f"no lease of {b['keys']}")
                return self.answer(200, grant)
            if len(rest) >= 2 and rest[0] == "leases":
                with relay.cond:
                    relay._expire()
                    lease = relay.leases.get(rest[1])
                    if lease is None:
                        return self.error(404, "not_found")
                    if lease["ended"]:
                        return self.error(409, "lease_ended", "the lease has ended")
                    if method == "DELETE" and len(rest) == 2:
                        relay._end(rest[1])
                        self.send_response(204)
                        self.send_header("content-length", "0")
                        self.end_headers()
                        return None
                    if method == "POST" and rest[2:] == ["commit"]:
                        b = self.body() or {}
                        written = set(b.get("set", {})) | set(b.get("delete", [])) | set(b.get("force", []))
                        if not written <= set(lease["keys"]):
                            return self.error(400, "bad_request", "a commit writes only its lease's keys")
                        versions = relay.commit(room, b.get("set", {}), b.get("delete", []), b.get("force", []), quiet)
                        relay._end(rest[1])
                        return self.answer(200, {"versions": versions})
            if len(rest) == 2 and rest[0] == "mutations" and method == "POST":
                fn = relay.mutations.get(rest[1])
                if fn is None:
                    return self.error(404, "not_found", f"no mutation {rest[1]}")
                args = self.body()
                with relay.cond:
                    values = dict(relay.values.get(room, {}))
                    try:
                        result = fn(values, args)
                    except ValueError as err:
                        return self.error(422, "mutation_failed", str(err))
                    changed = {k: v for k, v in values.items() if relay.values.get(room, {}).get(k) != v}
                relay.commit(room, changed, [], [], False)
                return self.answer(200, {"result": result})
            if rest == ["events"] and method == "GET":
                return self.stream(room, query)
            return self.error(404, "not_found")

        def stream(self, room: str, query: Dict[str, List[str]]) -> None:
            keys = set(query["keys"][0].split(",")) if "keys" in query else None
            if "key" in query:
                keys = (keys or set()) | set(query["key"])
            last = self.headers.get("last-event-id")
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("cache-control", "no-cache")
            self.end_headers()
            relay.streams.append(self)
            try:
                with relay.cond:
                    history = relay.events.get(room, [])
                    known = last is not None and any(str(i) == last for i, _ in history)
                    if known:
                        pos = next(n for n, (i, _) in enumerate(history) if str(i) == last) + 1
                    else:
                        snap = {k: relay.entry(room, k) for k in relay.values.get(room, {}) if keys is None or k in keys}
                        pos = len(history)
                        self.wfile.write(f"event: snapshot\ndata: {json.dumps({'keys': snap})}\n\n".encode())
                        self.wfile.flush()
                while not getattr(relay, "closed", False):
                    with relay.cond:
                        history = relay.events.get(room, [])
                        while pos >= len(history) and not getattr(relay, "closed", False):
                            relay.cond.wait(1)
                            history = relay.events.get(room, [])
                        pending = history[pos:]
                        pos = len(history)
                    for i, c in pending:
                        if keys is None or c["key"] in keys:
                            self.wfile.write(f"event: change\nid: {i}\ndata: {json.dumps(c)}\n\n".encode())
                    self.wfile.flush()
            except OSError:
                pass
            finally:
                relay.streams.remove(self)

        def do_GET(self) -> None:
            self.route("GET")

        def do_PUT(self) -> None:
            self.route("PUT")

        def do_POST(self) -> None:
            self.route("POST")

        def do_DELETE(self) -> None:
            self.route("DELETE")

        def do_PATCH(self) -> None:
            self.route("PATCH")

    return Handler


if __name__ == "__main__":
    # `python3 python/tests/fake_relay.py`: serves until killed, printing its URL (for trying apps by hand).
    fake = FakeRelay()
    print(f"fake relay listening on {fake.url}", flush=True)
    fake.thread.join()
