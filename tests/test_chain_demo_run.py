"""`make run-chain` end to end: the runner starts its own anvil nodes and server, the
console shows a seeded hash's status from the chain, and Ctrl-C stops everything."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from tests.chain_support import find_anvil, free_port
from tests.conftest import _unavailable
from tests.test_auth_flow import login


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


async def _wait_for(what: str, check: object, seconds: float, output: list[str]) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if callable(check) and check():
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"{what} within {seconds} s; output:\n" + "".join(output[-40:]))


async def test_run_chain_serves_the_demo_with_live_chips_and_stops_its_nodes_on_ctrl_c(
    tmp_path: Path,
) -> None:
    anvil = find_anvil()
    if anvil is None:
        _unavailable("anvil not found: run scripts/install-anvil, or set LEDGERDESK_TEST_ANVIL")
        raise AssertionError("unreachable")
    port, eth_port, bsc_port = free_port(), free_port(), free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("LEDGERDESK_")}
    env.update(
        PYTHONUNBUFFERED="1",
        LEDGERDESK_DATA_DIR=str(tmp_path),
        LEDGERDESK_PORT=str(port),
        LEDGERDESK_PUBLIC_URL=f"http://127.0.0.1:{port}",
        LEDGERDESK_ANVIL=anvil,
        LEDGERDESK_DEMO_ANVIL_PORTS=f"{eth_port},{bsc_port}",
        LEDGERDESK_ASSISTANT_DENSE="false",  # no embedding model to load for this test
    )
    runner = subprocess.Popen(  # noqa: ASYNC220 (our own module; waited on below)
        [sys.executable, "-m", "ledgerdesk.demo_data.chain"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    reader = threading.Thread(
        target=lambda: output.extend(iter(runner.stdout.readline, "")) if runner.stdout else None,
        daemon=True,
    )
    reader.start()
    try:
        credited = re.compile(r"/conversations/(\d+)\s+credited\s+(0x[0-9a-f]{64})")
        await _wait_for(
            "the runner printed the conversations",
            lambda: any(credited.search(line) for line in output),
            240,
            output,
        )
        number, tx_hash = next(m.groups() for line in output if (m := credited.search(line)))
        await _wait_for("the server listens", lambda: _listening(port), 120, output)

        text = (tmp_path / "demo-login.txt").read_text()
        password = re.search(r"admin:\s+\S+\s+/\s+(\S+)", text)
        assert password, text
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            await login(http, "admin@demo.ledgerdesk.test", password.group(1))
            page = await http.get(f"/conversations/{number}")
            assert page.status_code == 200, page.text
            assert f'hx-get="/chain/tx-chip/{tx_hash}"' in page.text
            chip = await http.get(f"/chain/tx-chip/{tx_hash}")
            assert "succeeded" in chip.text and "ethereum-local: " in chip.text, chip.text

        # A SIGINT to the runner alone (no terminal): it passes it on to the server.
        runner.send_signal(signal.SIGINT)
        await asyncio.to_thread(runner.wait, 120)
        assert not _listening(port) and not _listening(eth_port) and not _listening(bsc_port)
        assert "Application shutdown complete" in "".join(output)
    finally:
        if runner.poll() is None:
            runner.terminate()  # forwarded to the server like Ctrl-C
            try:
                await asyncio.to_thread(runner.wait, 60)
            except subprocess.TimeoutExpired:
                runner.kill()
                await asyncio.to_thread(runner.wait)
        reader.join(5)
        if runner.stdout:
            runner.stdout.close()
