"""Importing the EVM client leaves the interpreter's recursion limit alone.

web3 pulls in py_ecc, which raises the limit to 100,000 on import; after that a
request body of 100,000 nested brackets crashed the server (a segmentation fault in
json.loads) instead of getting a 4xx.
"""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_evm_client_keeps_a_safe_recursion_limit() -> None:
    code = (
        "import sys; before = sys.getrecursionlimit(); import ledgerdesk.chain.evm; "
        "import py_ecc; print(before, sys.getrecursionlimit())"
    )
    out = subprocess.run(  # noqa: S603 (our own interpreter)
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    before, after = map(int, out.stdout.split())
    assert after == before <= 10_000
