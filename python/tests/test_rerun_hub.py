"""Which sessions re-run for a change: bindings per run, quiet changes, the writer's own writes,
busy and ended sessions. Driven with a runtime of the test's own (no Streamlit needed)."""

from __future__ import annotations

import threading
import unittest
from typing import Any, Dict, List, Optional

import support  # noqa: F401
from y_server_state.rerun_hub import RerunHub, write_mark
from y_server_state.watch import ChangeEvent

WAIT = 5.0


class Runtime:
    """Records re-run requests; a session may be made busy or gone."""

    def __init__(self) -> None:
        self.reruns: List[str] = []
        self.busy: Dict[str, int] = {}
        self.gone: set = set()
        self.cond = threading.Condition()

    def rerun(self, session_id: str) -> str:
        with self.cond:
            if session_id in self.gone:
                return "gone"
            if self.busy.get(session_id, 0) > 0:
                self.busy[session_id] -= 1
                return "busy"
            self.reruns.append(session_id)
            self.cond.notify_all()
            return "done"

    def alive(self, session_id: str) -> bool:
        return session_id not in self.gone

    def wait_for(self, n: int) -> List[str]:
        with self.cond:
            if not self.cond.wait_for(lambda: len(self.reruns) >= n, WAIT):
                raise AssertionError(f"expected {n} re-runs, got {self.reruns}")
            return sorted(self.reruns)


def change(key: str, value: Any = 1, *, quiet: bool = False, forced: bool = False, deleted: bool = False) -> ChangeEvent:
    return ChangeEvent(key, value, 0, deleted, quiet, forced, "1")


class RerunHubTest(unittest.TestCase):
    def setUp(self) -> None:
        self.runtime = Runtime()
        self.hub = RerunHub(self.runtime, retry_interval=0.01)

    def tearDown(self) -> None:
        self.hub.close()

    def settle(self, *sessions: str) -> None:
        """Waits until a marker change re-ran every session in ``sessions`` (so earlier ones were handled)."""
        before = len(self.runtime.reruns)
        for s in sessions:
            self.hub.bind(s, None, "marker")
        self.hub.on_change(change("marker", len(self.runtime.reruns)))
        self.runtime.wait_for(before + len(sessions))
        self.runtime.reruns = self.runtime.reruns[:before]

    def test_a_change_reruns_the_sessions_bound_to_its_key_only(self) -> None:
        self.hub.bind("a", None, "count")
        self.hub.bind("b", None, "other")
        self.hub.bind("c", None, None)  # iterated the keys: bound to all
        self.hub.on_change(change("count"))
        self.assertEqual(self.runtime.wait_for(2), ["a", "c"])

    def test_a_quiet_change_reruns_nobody_but_a_forced_one_does(self) -> None:
        self.hub.bind("a", None, "k")
        self.hub.on_change(change("k", quiet=True))
        self.settle("a")
        self.assertEqual(self.runtime.reruns, [])
        self.hub.on_change(change("k", quiet=True, forced=True))
        self.assertEqual(self.runtime.wait_for(1), ["a"])

    def test_the_writer_is_spared_its_own_write_once_others_are_not(self) -> None:
        self.hub.bind("writer", None, "k")
        self.hub.bind("reader", None, "k")
        self.hub.expect_own("writer", [("k", write_mark("set", {"n": 1}))])
        self.hub.on_change(change("k", {"n": 1}))
        self.assertEqual(self.runtime.wait_for(1), ["reader"])
        # The same value written again by someone else re-runs the writer this time.
        self.hub.on_change(change("k", {"n": 1}))
        self.assertEqual(self.runtime.wait_for(3), ["reader", "reader", "writer"])

    def test_a_different_change_of_the_key_still_reruns_the_writer(self) -> None:
        self.hub.bind("writer", None, "k")
        self.hub.expect_own("writer", [("k", write_mark("set", 2))])
        self.hub.on_change(change("k", 3))
        self.assertEqual(self.runtime.wait_for(1), ["writer"])

    def test_a_refused_write_is_not_spared(self) -> None:
        self.hub.bind("writer", None, "k")
        entries = self.hub.expect_own("writer", [("k", write_mark("set", 2))])
        self.hub.drop_own("writer", entries)
        self.hub.on_change(change("k", 2))
        self.assertEqual(self.runtime.wait_for(1), ["writer"])

    def test_bindings_are_the_current_and_the_previous_run(self) -> None:
        run1, run2, run3 = object(), object(), object()
        self.hub.bind("s", run1, "room_a")
        self.hub.bind("s", run2, "room_b")
        self.assertEqual(self.hub.bound("s"), {"room_a", "room_b"})
        self.hub.bind("s", run3, "room_b")
        self.assertEqual(self.hub.bound("s"), {"room_b"})
        # A fragment's run adds to its run instead of starting one.
        self.hub.bind("s", object(), "frag", fragment=True)
        self.assertEqual(self.hub.bound("s"), {"room_b", "frag"})

    def test_a_busy_session_is_asked_again_and_reruns_once(self) -> None:
        self.hub.bind("s", None, "k")
        self.runtime.busy["s"] = 3
        self.hub.on_change(change("k", 1))
        self.hub.on_change(change("k", 2))
        self.assertEqual(self.runtime.wait_for(1), ["s"])
        self.settle("s")
        self.assertEqual(self.runtime.reruns, ["s"])

    def test_an_ended_session_is_forgotten(self) -> None:
        self.hub.bind("gone", None, "k")
        self.hub.bind("here", None, "k")
        self.runtime.gone.add("gone")
        self.hub.on_change(change("k"))
        self.runtime.wait_for(1)
        self.settle("here")
        self.assertEqual(self.hub.sessions(), ["here"])

    def test_ended_sessions_are_dropped_when_a_new_one_binds(self) -> None:
        for i in range(100):
            self.hub.bind(f"s{i}", None, "k")
            self.runtime.gone.add(f"s{i}")
        self.hub.bind("new", None, "k")
        self.assertEqual(self.hub.sessions(), ["new"])


if __name__ == "__main__":
    unittest.main()
