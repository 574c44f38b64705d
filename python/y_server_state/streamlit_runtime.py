"""The few Streamlit internals the adapter needs, found by feature detection rather than version checks.

- :func:`current_run`: the session and the run of the calling script thread.
- :class:`StreamlitSessions`: re-runs a session of this process by the runtime's rerun request, as
  streamlit-server-state does, but only while the session is idle. The check and the request run
  as one callback on the session's event loop, where the browser's own rerun requests (a click)
  are handled too, so a re-run of ours can never stop a run the user's click started (with
  ``runner.fastReruns`` on, a rerun request stops the running script).

Checked on Streamlit 1.64; every internal it touches is looked up with ``getattr``, and an older or
newer layout falls back to a plain ``request_rerun(None)``.

Example::

    run = current_run()          # (session id, run token, is a fragment run) or None
    StreamlitSessions().rerun(session_id)   # "done", "busy" or "gone"
"""

from __future__ import annotations

import concurrent.futures
from typing import Any, Optional, Tuple

#: How long to wait for a session's event loop to take our callback before trying again.
_LOOP_WAIT = 5.0


def _script_run_ctx() -> Any:
    try:
        from streamlit.runtime.scriptrunner import get_script_run_ctx
    except ImportError:  # Streamlit < 1.12 kept it elsewhere
        try:
            from streamlit.scriptrunner import get_script_run_ctx  # type: ignore[no-redef, import-not-found, unused-ignore]
        except ImportError:
            return None
    try:
        return get_script_run_ctx(suppress_warning=True)
    except TypeError:
        return get_script_run_ctx()


def current_run() -> Optional[Tuple[str, Any, bool]]:
    """(session id, run token, is a fragment run) of the calling script thread; None outside a script run.

    The run token is an object that stays the same for one run and is new for the next: the
    context's ``cursors`` dict, which Streamlit replaces at each run. Without it (None) runs cannot
    be told apart, and a session's bindings only grow, as in the original.
    """
    ctx = _script_run_ctx()
    if ctx is None:
        return None
    session_id = getattr(ctx, "session_id", None)
    if not isinstance(session_id, str):
        return None
    return session_id, getattr(ctx, "cursors", None), bool(getattr(ctx, "fragment_ids_this_run", None))


def _runtime() -> Any:
    try:
        from streamlit.runtime import Runtime
    except ImportError:
        return None
    exists = getattr(Runtime, "exists", None)
    if exists is not None and not exists():
        return None
    return Runtime.instance()


def app_session(session_id: str) -> Any:
    """The runtime's session object for ``session_id`` while it is connected, else None."""
    runtime = _runtime()
    if runtime is None:
        return None
    manager = getattr(runtime, "_session_mgr", None)
    info = None
    if manager is not None:
        get = getattr(manager, "get_active_session_info", None) or getattr(manager, "get_session_info", None)
        info = get(session_id) if get is not None else None
    elif hasattr(runtime, "_get_session_info"):
        info = runtime._get_session_info(session_id)
    return getattr(info, "session", None)


def _state_name(session: Any) -> str:
    state = getattr(session, "_state", None)
    return str(getattr(state, "name", state))


class StreamlitSessions:
    """Re-runs sessions of this process's Streamlit runtime (the hub's :class:`SessionRuntime`)."""

    def alive(self, session_id: str) -> bool:
        return app_session(session_id) is not None

    def rerun(self, session_id: str) -> str:
        session = app_session(session_id)
        if session is None:
            return "gone"
        loop = getattr(session, "_event_loop", None)
        if loop is None or not hasattr(session, "_scriptrunner"):
            session.request_rerun(None)
            return "done"
        outcome: "concurrent.futures.Future[str]" = concurrent.futures.Future()

        def attempt() -> None:
            try:
                state = _state_name(session)
                if state == "SHUTDOWN_REQUESTED":
                    outcome.set_result("gone")
                elif session._scriptrunner is not None or state == "APP_IS_RUNNING":
                    outcome.set_result("busy")
                else:
                    session.request_rerun(None)
                    outcome.set_result("done")
            except BaseException as err:  # noqa: BLE001 - handed to the waiting thread
                outcome.set_exception(err)

        try:
            loop.call_soon_threadsafe(attempt)
        except RuntimeError:  # the loop is closed: the server is stopping
            return "gone"
        try:
            return outcome.result(_LOOP_WAIT)
        except concurrent.futures.TimeoutError:
            return "busy"
