"""y_server_state: a room's shared keys over the y-server-state relay's HTTP API, standard library only.

``y_server_state.streamlit`` is a drop-in for streamlit-server-state on top of it.

Example::

    from y_server_state import ServerState

    state = ServerState("http://127.0.0.1:1234", "default")
    with state.lock("count"):
        state.count = state.get("count", 0) + 1
    print(state.count, state.version("count"))
"""

from .errors import (
    HttpApiError,
    LeaseEndedError,
    LockTimeoutError,
    MutationError,
    MutationOnlyError,
    RerunSuppressedError,
)
from .lock import Lock
from .state import ServerState
from .watch import ChangeEvent, Watcher

__version__ = "0.1.0"

__all__ = [
    "ChangeEvent",
    "HttpApiError",
    "LeaseEndedError",
    "Lock",
    "LockTimeoutError",
    "MutationError",
    "MutationOnlyError",
    "RerunSuppressedError",
    "ServerState",
    "Watcher",
]
