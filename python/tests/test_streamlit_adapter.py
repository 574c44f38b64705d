"""y_server_state.streamlit's binding and re-runs, without a Streamlit server: the script run is
stood in for (``current_run`` patched), the runtime is the test's, the relay the in-process fake.
Sessions bound by their reads re-run for others' writes, from this process or another; never for
their own writes or quiet ones."""

from __future__ import annotations

import threading
import unittest
from typing import Any, Callable, List, Optional, Tuple
from unittest import mock

import support  # noqa: F401
from fake_relay import FakeRelay
from test_rerun_hub import Runtime
from y_server_state import ServerState
from y_server_state import streamlit as adapter
from y_server_state.rerun_hub import RerunHub


class Runs:
    """Which session and run the calling thread is in, as ``current_run`` reports it."""

    def __init__(self) -> None:
        self.local = threading.local()

    def current(self) -> Optional[Tuple[str, Any, bool]]:
        return getattr(self.local, "run", None)

    def session(self, session_id: str, fn: Callable[[], Any]) -> Any:
        """Runs ``fn`` as one script run of ``session_id``."""
        self.local.run = (session_id, object(), False)
        try:
            return fn()
        finally:
            self.local.run = None


class StreamlitAdapterTest(unittest.TestCase):
    relay: FakeRelay

    @classmethod
    def setUpClass(cls) -> None:
        cls.relay = FakeRelay()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.relay.close()

    def setUp(self) -> None:
        self.runtime = Runtime()
        self.hub = RerunHub(self.runtime, retry_interval=0.01)
        self.room = f"adapter-{self.id()}"
        self.state = adapter.StreamlitServerState(self.relay.url, self.room, None, self.hub)
        self.runs = Runs()
        patcher = mock.patch.object(adapter, "current_run", self.runs.current)
        patcher.start()
        self.addCleanup(patcher.stop)
        self.addCleanup(self.hub.close)
        self.addCleanup(lambda: self.state._watcher and self.state._watcher.close())

    def settled(self, expected: List[str]) -> List[str]:
        """The re-runs once a marker write re-ran ``marker`` (bound by every session): earlier ones are in."""
        # The expected re-runs come from the watch's thread: wait for them, so that one still on its way
        # is not counted after the marker's (an extra one still shows, if it comes before the marker's).
        self.runtime.wait_for(len(expected))
        for sid in ("a", "b"):
            self.runs.session(sid, lambda: self.state.get("marker"))
        before = len(self.runtime.reruns)
        ServerState(self.relay.url, self.room)["marker"] = before
        self.runtime.wait_for(before + 2)
        got = sorted(self.runtime.reruns[:before])
        self.assertEqual(got, sorted(expected))
        return got

    def test_a_write_reruns_the_other_bound_session_not_the_writer(self) -> None:
        for sid in ("a", "b"):
            self.runs.session(sid, lambda: "count" in self.state)
        self.runs.session("a", lambda: self.state.__setitem__("count", 1))
        self.settled(["b"])

    def test_a_quiet_write_reruns_nobody(self) -> None:
        for sid in ("a", "b"):
            self.runs.session(sid, lambda: self.state.get("count"))

        def quiet() -> None:
            with adapter.NoRerun(self.state):
                self.state.count = 5

        self.runs.session("a", quiet)
        self.settled([])

    def test_a_write_from_another_process_reruns_every_bound_session(self) -> None:
        for sid in ("a", "b"):
            self.runs.session(sid, lambda: self.state.get("count"))
        ServerState(self.relay.url, self.room)["count"] = 7
        self.settled(["a", "b"])

    def test_a_locked_increment_spares_the_writer(self) -> None:
        for sid in ("a", "b"):
            self.runs.session(sid, lambda: self.state.get("count"))

        def increment() -> None:
            with adapter.ServerStateLock(self.state).count:
                self.state.count = self.state.get("count", 0) + 1

        self.runs.session("b", increment)
        self.settled(["a"])

    def test_a_key_read_two_runs_ago_no_longer_binds(self) -> None:
        self.runs.session("a", lambda: self.state.get("room_1"))
        self.runs.session("a", lambda: self.state.get("room_2"))
        self.runs.session("a", lambda: self.state.get("room_2"))
        ServerState(self.relay.url, self.room)["room_1"] = ["hello"]
        self.settled([])




if __name__ == "__main__":
    unittest.main()
