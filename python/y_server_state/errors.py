"""The exceptions of the package: one per answer of the relay that a caller may want to catch.

Every refusal of the relay is an :class:`HttpApiError` carrying the HTTP status and the JSON
body's ``error`` code and ``message`` (docs/http-api.md lists them); the codes a program reacts
to have a subclass of their own.

Example::

    try:
        with state.lock("count", timeout=2):
            state["count"] += 1
    except LockTimeoutError as err:
        print("busy:", err.keys)
"""

from __future__ import annotations

from typing import Dict, Optional, Sequence, Tuple, Type


class HttpApiError(Exception):
    """The relay refused a request, or could not be reached (``status`` 0, code ``unreachable``)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}" if status else f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class LockTimeoutError(HttpApiError):
    """A lease could not be granted in time (409 ``lock_timeout``); ``keys`` names what was asked."""

    def __init__(self, status: int, code: str, message: str, keys: Sequence[str] = ()) -> None:
        super().__init__(status, code, message)
        self.keys: Tuple[str, ...] = tuple(keys)

    def __str__(self) -> str:
        return f"lock of {', '.join(repr(k) for k in self.keys)} not granted in time: {self.message}"


class LeaseEndedError(HttpApiError):
    """A commit under a lease that had ended (expired or released): nothing was applied."""


class MutationOnlyError(HttpApiError):
    """A raw write to a key that only the relay's mutations may write (403 ``mutation_only``)."""


class MutationError(HttpApiError):
    """A mutation refused its arguments (``invalid_args``) or threw (``mutation_failed``): nothing applied."""


class RerunSuppressedError(Exception):
    """A forced re-run was asked for inside ``no_rerun``, which promises that nobody re-runs."""


_BY_CODE: Dict[str, Type[HttpApiError]] = {
    "lock_timeout": LockTimeoutError,
    "lease_ended": LeaseEndedError,
    "mutation_only": MutationOnlyError,
    "invalid_args": MutationError,
    "mutation_failed": MutationError,
}


def error_for(status: int, code: str, message: str, keys: Optional[Sequence[str]] = None) -> HttpApiError:
    """The exception for an error answer: the subclass its code has, else an :class:`HttpApiError`."""
    cls = _BY_CODE.get(code, HttpApiError)
    if cls is LockTimeoutError:
        return LockTimeoutError(status, code, message, keys or ())
    return cls(status, code, message)
