"""One room of a relay over its HTTP API: URLs, credentials, JSON bodies and error answers.

Every request opens a connection of its own (the standard library's ``http.client``), so a request
that failed is never silently sent twice: a commit or a lease request must not be repeated behind
the caller's back.

Example::

    room = RoomHttp("http://127.0.0.1:1234", "default", token=None)
    status, body = room.request("GET", "state/count", accept=(404,))
"""

from __future__ import annotations

import http.client
import json
import socket
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple, Union
from urllib.parse import quote, urlencode, urlsplit

from .errors import HttpApiError, error_for

#: Characters ``encodeURIComponent`` leaves alone, so room and key names encode as the JS client's do.
_COMPONENT_SAFE = "-_.!~*'()"


def encode_segment(name: str) -> str:
    """``name`` as one path segment, percent-encoded like JavaScript's ``encodeURIComponent``."""
    return quote(name, safe=_COMPONENT_SAFE)


def http_base(url: str) -> Tuple[str, str, int, str]:
    """(scheme, host, port, path prefix) of a relay URL; ``ws://`` and ``wss://`` mean its HTTP port."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    if scheme not in ("http", "https"):
        raise ValueError(f"relay URL must be http(s):// or ws(s)://, not {url!r}")
    if not parts.hostname:
        raise ValueError(f"relay URL has no host: {url!r}")
    port = parts.port or (443 if scheme == "https" else 80)
    return scheme, parts.hostname, port, parts.path.rstrip("/")


class RoomHttp:
    """Requests to ``/rooms/<room>/…`` of one relay, with the room's credentials."""

    def __init__(self, url: str, room: str, token: Optional[str] = None, timeout: float = 30.0) -> None:
        if not isinstance(room, str) or room == "":
            raise ValueError("room must be a non-empty string")
        self.url = url
        self.room = room
        self.token = token
        self.timeout = timeout
        self.scheme, self.host, self.port, prefix = http_base(url)
        self.prefix = f"{prefix}/rooms/{encode_segment(room)}"

    def path(self, tail: str, query: Union[None, Mapping[str, str], Sequence[Tuple[str, str]]] = None) -> str:
        """The request path of ``tail`` (already encoded) in this room, with ``query``."""
        path = f"{self.prefix}/{tail}" if tail else self.prefix
        return f"{path}?{urlencode(query)}" if query else path

    def headers(self, extra: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
        """The headers every request carries: credentials, if any, and ``extra``."""
        h: Dict[str, str] = {"accept": "application/json"}
        if self.token:
            h["authorization"] = f"Bearer {self.token}"
        if extra:
            h.update(extra)
        return h

    def connection(self, timeout: Optional[float] = None) -> http.client.HTTPConnection:
        """A new connection to the relay; the caller closes it."""
        t = self.timeout if timeout is None else timeout
        if self.scheme == "https":
            return http.client.HTTPSConnection(self.host, self.port, timeout=t)
        return http.client.HTTPConnection(self.host, self.port, timeout=t)

    def request(
        self,
        method: str,
        tail: str,
        body: Any = None,
        *,
        has_body: bool = False,
        query: Optional[Mapping[str, str]] = None,
        accept: Sequence[int] = (),
        timeout: Optional[float] = None,
        lock_keys: Sequence[str] = (),
    ) -> Tuple[int, Any]:
        """Sends one request and returns (status, JSON body or None).

        A 2xx answer, or a status in ``accept``, is returned; any other raises the
        :class:`HttpApiError` its ``error`` code names (``lock_keys`` go into a
        :class:`LockTimeoutError`). A relay that cannot be reached raises an
        :class:`HttpApiError` with status 0 and code ``unreachable``.
        """
        payload: Optional[bytes] = None
        extra: Dict[str, str] = {}
        if has_body or body is not None:
            payload = json.dumps(body, allow_nan=False, separators=(",", ":")).encode()
            extra["content-type"] = "application/json"
        conn = self.connection(timeout)
        try:
            conn.request(method, self.path(tail, query), body=payload, headers=self.headers(extra))
            resp = conn.getresponse()
            raw = resp.read()
            status = resp.status
        except (OSError, http.client.HTTPException) as err:
            kind = "timed out" if isinstance(err, socket.timeout) else str(err) or type(err).__name__
            raise HttpApiError(0, "unreachable", f"{method} {self.url} room {self.room!r}: {kind}") from err
        finally:
            conn.close()
        data = _json_or_none(raw)
        if 200 <= status < 300 or status in accept:
            return status, data
        code = data.get("error", "http_error") if isinstance(data, dict) else "http_error"
        message = data.get("message", "") if isinstance(data, dict) else raw[:200].decode(errors="replace")
        raise error_for(status, str(code), str(message), lock_keys)


def _json_or_none(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None
