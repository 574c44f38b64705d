"""The client against the in-process fake relay: the contract's cases, plus what only a fake can
arrange (a stream cut in the middle, credentials, a mutation of the test's own)."""

from __future__ import annotations

import unittest

import support  # noqa: F401
from contract_cases import WAIT, ContractCases, next_change
from fake_relay import FakeRelay
from y_server_state import HttpApiError, MutationError, ServerState


class FakeRelayContract(ContractCases, unittest.TestCase):
    relay: FakeRelay

    @classmethod
    def setUpClass(cls) -> None:
        cls.lease_ms = 500
        cls.relay = FakeRelay(lease_ms=cls.lease_ms)
        cls.url = cls.relay.url

    @classmethod
    def tearDownClass(cls) -> None:
        cls.relay.close()

    def test_quiet_writes_carry_quiet_1(self) -> None:
        s = self.state()
        with s.no_rerun():
            s["a"] = 1
            with s.lock("a"):
                s["a"] = 2
        s["b"] = 1
        sent = [(m, p.rsplit("/", 2)[-1], q.get("quiet")) for m, p, q in self.relay.requests if s.room.replace(" ", "") in p.replace("%20", "")]
        self.assertIn(("PUT", "a", ["1"]), sent)
        self.assertIn(("POST", "commit", ["1"]), sent)
        self.assertIn(("PUT", "b", None), sent)

    def test_a_lock_without_writes_releases_its_lease(self) -> None:
        s = self.state()
        with s.lock("a"):
            s.get("a")
        methods = [m for m, p, _ in self.relay.requests if p.startswith(f"/rooms/{s.room}/leases/")]
        self.assertEqual(methods, ["DELETE"])

    def test_watch_resumes_after_a_dropped_stream_without_gaps_or_repeats(self) -> None:
        s = self.state()
        w = s.watch(["n"])
        w.wait_ready(WAIT)
        it = iter(w)
        s["n"] = 1
        self.assertEqual(next_change(it).value, 1)
        self.relay.drop_streams()
        s["n"] = 2
        s["n"] = 3
        got = [next_change(it).value for _ in range(2)]
        w.close()
        self.assertEqual(got, [2, 3])
        streams = [h for m, p, h in self.relay.requests if p == f"/rooms/{s.room}/events"]
        self.assertGreaterEqual(len(streams), 2)

    def test_a_snapshot_after_a_reconnection_becomes_resync_changes(self) -> None:
        s = self.state()
        s["keep"] = 1
        s["gone"] = 1
        w = s.watch()
        w.wait_ready(WAIT)
        it = iter(w)
        s["keep"] = 2
        next_change(it)
        # The relay forgets its history, so the resume falls back to a snapshot.
        self.relay.events[s.room] = []
        self.relay.drop_streams()
        with self.relay.cond:
            self.relay.values[s.room] = {"keep": 3, "new": True}
        got = {c.key: c for c in (next_change(it) for _ in range(3))}
        w.close()
        self.assertEqual({k: (c.value, c.deleted, c.resync) for k, c in got.items()}, {"keep": (3, False, True), "gone": (None, True, True), "new": (True, False, True)})

    def test_call_runs_a_mutation_and_returns_its_result(self) -> None:
        def transfer(values: dict, args: dict) -> dict:
            if args["amount"] > values.get("a", 0):
                raise ValueError("not enough")
            values["a"] = values.get("a", 0) - args["amount"]
            values["b"] = values.get("b", 0) + args["amount"]
            return {"ok": True}

        self.relay.mutations["transfer"] = transfer
        s = self.state()
        s["a"] = 10
        self.assertEqual(s.call("transfer", amount=4), {"ok": True})
        self.assertEqual((s["a"], s["b"]), (6, 4))
        with self.assertRaises(MutationError) as caught:
            s.call("transfer", amount=100)
        self.assertEqual(caught.exception.code, "mutation_failed")
        self.assertEqual((s["a"], s["b"]), (6, 4))

    def test_the_token_is_sent_as_a_bearer(self) -> None:
        relay = FakeRelay(token="sesame")
        try:
            with self.assertRaises(HttpApiError) as caught:
                ServerState(relay.url, "r")["k"] = 1
            self.assertEqual((caught.exception.status, caught.exception.code), (401, "unauthorized"))
            s = ServerState(relay.url, "r", token="sesame")
            s["k"] = 1
            self.assertEqual(s["k"], 1)
            w = ServerState(relay.url, "r").watch()
            with self.assertRaises(HttpApiError):
                w.wait_ready(WAIT)
        finally:
            relay.close()


if __name__ == "__main__":
    unittest.main()
