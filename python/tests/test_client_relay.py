"""The client against the real relay: the contract's cases (contract_cases.py) over real sockets.

The relay is the repository's own (``relay/cli.ts``, in memory, on a free port, a short lease so the
expiry case is quick), started here with Node; ``YSS_TEST_RELAY_URL`` points the tests at a running
one instead. Without Node and the repository's node_modules this fails, naming what is missing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import unittest
from typing import List, Optional

import support
from contract_cases import ContractCases

ROOT = os.path.dirname(support.PYTHON_DIR)
LEASE_MS = 2_000


class RelayProcess:
    """``node --import tsx relay/cli.ts --port 0 --memory``, until ``close()``."""

    def __init__(self) -> None:
        node = shutil.which("node")
        if node is None or not os.path.isdir(os.path.join(ROOT, "node_modules", "tsx")):
            raise RuntimeError("the real relay needs node and the repository's node_modules (npm ci at the root)")
        self.proc = subprocess.Popen(
            [node, "--import", "tsx", "relay/cli.ts", "--port", "0", "--memory", "--lease-ms", str(LEASE_MS)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: List[str] = []
        found = threading.Event()
        self.url: Optional[str] = None

        def read() -> None:
            assert self.proc.stdout is not None
            for line in self.proc.stdout:
                self.lines.append(line)
                m = re.search(r"ws://(\S+)", line)
                if m and self.url is None:
                    self.url = f"http://{m.group(1)}"
                    found.set()
            found.set()

        threading.Thread(target=read, daemon=True).start()
        if not found.wait(30) or self.url is None:
            self.close()
            raise RuntimeError("the relay did not start:\n" + "".join(self.lines))

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class RealRelayContract(ContractCases, unittest.TestCase):
    relay: Optional[RelayProcess] = None

    @classmethod
    def setUpClass(cls) -> None:
        given = os.environ.get("YSS_TEST_RELAY_URL")
        if given:
            cls.url = given
            cls.lease_ms = int(os.environ.get("YSS_TEST_LEASE_MS", "10000"))
            return
        cls.relay = RelayProcess()
        assert cls.relay.url is not None
        cls.url = cls.relay.url
        cls.lease_ms = LEASE_MS

    @classmethod
    def tearDownClass(cls) -> None:
        if cls.relay is not None:
            cls.relay.close()


if __name__ == "__main__":
    unittest.main()
