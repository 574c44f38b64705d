"""The client's behaviour as docs/http-api.md promises it, written once and run against any relay:
the in-process fake (test_client_fake.py) and the real Node relay (test_client_relay.py).

A subclass sets ``cls.url`` (and may set ``cls.lease_ms``) in ``setUpClass``; each test uses a
room of its own.
"""

from __future__ import annotations

import itertools
import threading
import time
import unittest
from typing import TYPE_CHECKING, Any, List, Optional

import support  # noqa: F401  (puts the package on the path)
from y_server_state import (
    ChangeEvent,
    HttpApiError,
    LeaseEndedError,
    LockTimeoutError,
    RerunSuppressedError,
    ServerState,
)

_rooms = itertools.count()

#: Bound for every wait on the relay in these tests.
WAIT = 10.0


def next_change(it: Any, timeout: float = WAIT) -> ChangeEvent:
    """The next change of a watcher's iterator, within ``timeout`` (on a helper thread)."""
    box: List[Any] = []
    t = threading.Thread(target=lambda: box.append(next(it)), daemon=True)
    t.start()
    t.join(timeout)
    if not box:
        raise AssertionError(f"no change within {timeout} s")
    return box[0]


if TYPE_CHECKING:
    _Base = unittest.TestCase
else:
    _Base = object


class ContractCases(_Base):
    url: str = ""
    lease_ms: int = 10_000

    def state(self, room: Optional[str] = None) -> ServerState:
        return ServerState(self.url, room or f"py-{time.time_ns()}-{next(_rooms)}")

    def test_mapping_and_attribute_access(self) -> None:
        s = self.state()
        self.assertNotIn("count", s)
        self.assertIsNone(s.get("count"))
        with self.assertRaises(KeyError):
            s["count"]
        with self.assertRaises(AttributeError):
            s.count
        s.count = 1
        self.assertEqual(s["count"], 1)
        s["doc"] = {"b": [1, 2], "a": None}
        self.assertEqual(s.doc, {"b": [1, 2], "a": None})
        self.assertEqual(sorted(s.keys()), ["count", "doc"])
        self.assertEqual(len(s), 2)
        s.update({"x": "y"}, z=True)
        self.assertEqual(s.snapshot(), {"count": 1, "doc": {"b": [1, 2], "a": None}, "x": "y", "z": True})
        del s["x"]
        del s.z
        self.assertNotIn("x", s)
        self.assertEqual(sorted(s), ["count", "doc"])

    def test_a_read_is_a_copy(self) -> None:
        s = self.state()
        s["list"] = [1]
        got = s["list"]
        got.append(2)
        self.assertEqual(s["list"], [1])

    def test_non_json_values_are_refused_naming_the_key(self) -> None:
        s = self.state()
        with self.assertRaises(TypeError) as caught:
            s["when"] = object()
        self.assertIn("'when'", str(caught.exception))
        with self.assertRaises(TypeError):
            s["nan"] = float("nan")

    def test_room_and_key_names_are_encoded(self) -> None:
        s = self.state(f"org/doc {time.time_ns()}")
        s["a/b c?d"] = 1
        self.assertEqual(s["a/b c?d"], 1)
        self.assertEqual(s.keys(), ["a/b c?d"])

    def test_force_rerun_counts_versions(self) -> None:
        s = self.state()
        self.assertEqual(s.version("k"), 0)
        s.force_rerun("k")
        s.force_rerun("k")
        self.assertEqual(s.version("k"), 2)

    def test_no_rerun_nests_and_refuses_a_forced_rerun(self) -> None:
        s = self.state()
        w = s.watch()
        w.wait_ready(WAIT)
        it = iter(w)
        # Not the first quiet write the room's feed sees: see test_the_first_quiet_write_of_a_room_is_quiet.
        with s.no_rerun():
            s["warm"] = 0
        next_change(it)
        with s.no_rerun():
            with s.no_rerun():
                s["a"] = 1
            s["b"] = 2
            with self.assertRaises(RerunSuppressedError):
                s.force_rerun("a")
        s["c"] = 3
        got = [next_change(it) for _ in range(3)]
        w.close()
        self.assertEqual([(c.key, c.quiet) for c in got], [("a", True), ("b", True), ("c", False)])

    def test_the_first_quiet_write_of_a_room_is_quiet(self) -> None:
        s = self.state()
        w = s.watch()
        w.wait_ready(WAIT)
        it = iter(w)
        with s.no_rerun():
            s["first"] = 1
        got = next_change(it)
        w.close()
        self.assertEqual((got.key, got.quiet), ("first", True))

    def test_lock_reads_the_grant_and_commits_on_exit(self) -> None:
        s = self.state()
        other = ServerState(s.url, s.room)
        with s.lock("count") as locked:
            self.assertNotIn("count", locked)
            s["count"] = 1
            s.count += 1
            self.assertEqual(s["count"], 2)
            # Not applied before the commit.
            self.assertNotIn("count", other)
        self.assertEqual(other["count"], 2)

    def test_an_exception_in_a_lock_applies_nothing(self) -> None:
        s = self.state()
        s["count"] = 5
        with self.assertRaises(ZeroDivisionError):
            with s.lock("count", "other"):
                s["count"] = 6
                s["other"] = 1
                1 / 0
        self.assertEqual(s["count"], 5)
        self.assertNotIn("other", s)
        # The lease was released: the next lock is granted at once.
        with s.lock("count", timeout=2):
            s["count"] = 7
        self.assertEqual(s["count"], 7)

    def test_writes_of_keys_outside_the_lock_follow_its_commit(self) -> None:
        s = self.state()
        with s.lock("a"):
            s["a"] = 1
            s["log"] = ["a set"]
            self.assertEqual(s["log"], ["a set"])
            self.assertEqual(s.snapshot(), {"a": 1, "log": ["a set"]})
        self.assertEqual(s.snapshot(), {"a": 1, "log": ["a set"]})
        with self.assertRaises(RuntimeError):
            with s.lock("a"):
                s["a"] = 2
                s["log"] = ["never"]
                raise RuntimeError("abort")
        self.assertEqual(s.snapshot(), {"a": 1, "log": ["a set"]})

    def test_a_watch_of_keys_with_commas(self) -> None:
        s = self.state()
        w = s.watch(["a,b", "c"])
        w.wait_ready(WAIT)
        it = iter(w)
        s["a"] = 0
        s["a,b"] = 1
        s["c"] = 2
        got = [next_change(it) for _ in range(2)]
        w.close()
        self.assertEqual([(c.key, c.value) for c in got], [("a,b", 1), ("c", 2)])

    def test_a_reentrant_lock_runs_at_once_and_its_failure_is_cut_back(self) -> None:
        s = self.state()
        with s.lock("a"):
            s["a"] = 1
            with s.lock("a", timeout=0.5):
                s["a"] = 2
            try:
                with s.lock("a", timeout=0.5):
                    s["a"] = 3
                    raise KeyError("inner")
            except KeyError:
                pass
            self.assertEqual(s["a"], 2)
        self.assertEqual(s["a"], 2)

    def test_a_lock_that_waits_too_long_names_its_keys(self) -> None:
        s = self.state()
        held = threading.Event()
        release = threading.Event()

        def hold() -> None:
            with s.lock("busy"):
                held.set()
                release.wait(WAIT)

        t = threading.Thread(target=hold)
        t.start()
        held.wait(WAIT)
        try:
            with self.assertRaises(LockTimeoutError) as caught:
                with s.lock("busy", timeout=0.3):
                    pass
            self.assertEqual(caught.exception.keys, ("busy",))
            self.assertIn("'busy'", str(caught.exception))
        finally:
            release.set()
            t.join()

    def test_locked_increments_from_threads_are_exact(self) -> None:
        s = self.state()
        threads, rounds = 4, 10

        def work() -> None:
            mine = ServerState(s.url, s.room)
            for _ in range(rounds):
                with mine.lock("count"):
                    mine["count"] = mine.get("count", 0) + 1

        ts = [threading.Thread(target=work) for _ in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertEqual(s["count"], threads * rounds)

    def test_a_commit_after_the_lease_ended_applies_nothing(self) -> None:
        s = self.state()
        with self.assertRaises(LeaseEndedError):
            with s.lock("slow"):
                s["slow"] = 1
                time.sleep(self.lease_ms / 1000 + 0.3)  # outlive the lease: the point of the test
        self.assertNotIn("slow", s)

    def test_watch_gives_a_snapshot_then_changes_in_commit_order(self) -> None:
        s = self.state()
        s["a"] = 1
        w = s.watch(["a", "b"])
        self.assertTrue(w.wait_ready(WAIT))
        self.assertEqual(w.values, {"a": (1, 0)})
        it = iter(w)
        s["ignored"] = 0
        s["a"] = 2
        del s["a"]
        s["b"] = "x"
        s.force_rerun("b")
        got = [next_change(it) for _ in range(4)]
        w.close()
        self.assertEqual(
            [(c.key, c.value, c.deleted, c.forced) for c in got],
            [("a", 2, False, False), ("a", None, True, False), ("b", "x", False, False), ("b", "x", False, True)],
        )
        self.assertEqual(got[3].version, 1)
        self.assertTrue(all(c.id is not None for c in got))

    def test_watch_with_a_callback(self) -> None:
        s = self.state()
        seen: List[ChangeEvent] = []
        arrived = threading.Event()

        def on_change(c: ChangeEvent) -> None:
            seen.append(c)
            arrived.set()

        with s.watch(on_change=on_change) as w:
            w.wait_ready(WAIT)
            s["k"] = 1
            self.assertTrue(arrived.wait(WAIT))
        self.assertEqual([(c.key, c.value) for c in seen], [("k", 1)])

    def test_errors_carry_status_code_and_message(self) -> None:
        s = self.state()
        with self.assertRaises(HttpApiError) as caught:
            s.call("no-such-mutation")
        self.assertEqual(caught.exception.status, 404)
        self.assertEqual(caught.exception.code, "not_found")

    def test_an_unreachable_relay_is_an_error_not_a_hang(self) -> None:
        s = ServerState("http://127.0.0.1:9", "x", timeout=2)
        with self.assertRaises(HttpApiError) as caught:
            s.get("k")
        self.assertEqual((caught.exception.status, caught.exception.code), (0, "unreachable"))
