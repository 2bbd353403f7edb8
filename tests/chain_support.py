"""Test support for the chain look-ups: a real anvil node and a fake Esplora server.

anvil (Foundry's local EVM node) comes from the npm package ``@foundry-rs/anvil``;
``.ci/run`` installs it into ``~/.cache/ledgerdesk-tools`` (or $LEDGERDESK_TOOLS_DIR).
LEDGERDESK_TEST_ANVIL may name another binary. The tests talk to it with raw JSON-RPC
over httpx, not through the web3 code under test.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web
from eth_abi.abi import encode as abi_encode

from ledgerdesk.chain.networks import ChainNetwork
from tests.conftest import _unavailable

DATA = Path(__file__).parent / "chain_data"
ARTIFACTS = DATA / "artifacts.json"
ANVIL_CHAIN_ID = 31337
TOOLS_DIR = Path(
    os.environ.get("LEDGERDESK_TOOLS_DIR") or Path.home() / ".cache" / "ledgerdesk-tools"
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def find_anvil() -> str | None:
    candidates = [
        os.environ.get("LEDGERDESK_TEST_ANVIL"),
        shutil.which("anvil"),
        str(TOOLS_DIR / "node_modules" / ".bin" / "anvil"),
    ]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def contract(name: str) -> dict[str, Any]:
    artifact: dict[str, Any] = json.loads(ARTIFACTS.read_text())["contracts"][name]
    return artifact


def call_data(signature: str, types: list[str], args: list[Any]) -> str:
    from eth_utils.crypto import keccak

    selector = keccak(text=signature)[:4]
    return "0x" + (selector + abi_encode(types, args)).hex()


@dataclass
class Anvil:
    url: str
    process: subprocess.Popen[bytes]
    http: httpx.AsyncClient
    chain_id: int = ANVIL_CHAIN_ID
    accounts: list[str] = field(default_factory=list)

    async def rpc(self, method: str, *params: Any) -> Any:
        response = await self.http.post(
            self.url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
        )
        body = response.json()
        if "error" in body:
            raise RuntimeError(f"{method}: {body['error']}")
        return body["result"]

    async def send(self, **tx: Any) -> str:
        """eth_sendTransaction from one of anvil's unlocked accounts; returns the hash."""
        tx.setdefault("from", self.accounts[0])
        clean = {key: hex(value) if isinstance(value, int) else value for key, value in tx.items()}
        tx_hash: str = await self.rpc("eth_sendTransaction", clean)
        return tx_hash

    async def receipt(self, tx_hash: str) -> dict[str, Any]:
        """The receipt once the transaction is in a block. Automine is quick but not
        synchronous: on a loaded machine the send can return before the block exists."""
        for _ in range(200):
            receipt: dict[str, Any] | None = await self.rpc("eth_getTransactionReceipt", tx_hash)
            if receipt is not None:
                return receipt
            await asyncio.sleep(0.05)
        raise AssertionError(f"{tx_hash} was not mined within 10 s")

    async def mine(self, blocks: int = 1) -> None:
        await self.rpc("anvil_mine", hex(blocks))

    async def deploy_token(self, symbol: str = "USDT", decimals: int = 6) -> str:
        """A TestToken whose whole supply belongs to the first account."""
        return await self.deploy(
            "TestToken",
            ["string", "string", "uint8", "uint256"],
            [f"Test {symbol}", symbol, decimals, 10**9 * 10**decimals],
        )

    async def transfer_tokens(self, token: str, to: str, amount: int, **tx: Any) -> str:
        data = call_data("transfer(address,uint256)", ["address", "uint256"], [to, amount])
        return await self.send(to=token, data=data, **tx)

    async def deploy(self, name: str, types: list[str], args: list[Any]) -> str:
        data = contract(name)["bytecode"] + abi_encode(types, args).hex()
        tx_hash = await self.send(data=data, gas=3_000_000)
        receipt = await self.receipt(tx_hash)
        assert receipt["status"] == "0x1", receipt
        address: str = receipt["contractAddress"]
        return address

    def network(self, name: str = "anvil", **changes: Any) -> ChainNetwork:
        return ChainNetwork.model_validate(self.network_config(name, **changes))

    def network_config(self, name: str = "anvil", **changes: Any) -> dict[str, Any]:
        values: dict[str, Any] = {
            "name": name,
            "label": "Local anvil",
            "kind": "evm",
            "chain_id": self.chain_id,
            "rpc_url": self.url,
            "confirmations": 3,
            "explorer_tx_url": "https://explorer.invalid/tx/{tx}",
        }
        values.update(changes)
        return values


async def start_anvil(chain_id: int = ANVIL_CHAIN_ID) -> AsyncIterator[Anvil]:
    binary = find_anvil()
    if binary is None:
        _unavailable(
            "anvil not found: run .ci/run, or `npm install --prefix ~/.cache/ledgerdesk-tools"
            " @foundry-rs/anvil`, or set LEDGERDESK_TEST_ANVIL"
        )
        raise AssertionError("unreachable")
    port = free_port()
    # Popen returns at once; the waiting below is asynchronous.
    process = subprocess.Popen(  # noqa: S603, ASYNC220 (our own test binary)
        [binary, "--host", "127.0.0.1", "--port", str(port), "--chain-id", str(chain_id)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(timeout=5) as http:
        anvil = Anvil(url, process, http, chain_id)
        try:
            for _ in range(300):
                if process.poll() is not None:
                    stderr = process.stderr.read().decode() if process.stderr else ""
                    raise RuntimeError(f"anvil exited with {process.returncode}: {stderr}")
                try:
                    anvil.accounts = await anvil.rpc("eth_accounts")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
            else:
                raise RuntimeError("anvil did not answer within 15 s")
            yield anvil
        finally:
            process.terminate()
            try:
                await asyncio.to_thread(process.wait, 10)
            except subprocess.TimeoutExpired:
                process.kill()
                await asyncio.to_thread(process.wait)
            if process.stderr:
                process.stderr.close()


def dead_url() -> str:
    """An http URL where nothing listens (a port just freed)."""
    return f"http://127.0.0.1:{free_port()}"


# The fake Esplora server ----------------------------------------------------------

# Recorded in the shape blockstream.info/api and mempool.space/api answer (Esplora's
# REST API: GET /tx/:txid, /tx/:txid/status, /blocks/tip/height, /address/:address).
RECORDINGS: dict[str, Any] = json.loads((DATA / "esplora.json").read_text())
ESPLORA_TIP_HEIGHT: int = RECORDINGS["tip_height"]
CONFIRMED_TXID = "4e3b1f1c2a0b8f0e6d7c5a3b9e1f2d4c6a8b0e2f4d6c8a0b2e4f6d8c0a2b4e6f"
UNCONFIRMED_TXID = "9a1c3e5f7b9d1f3a5c7e9b1d3f5a7c9e1b3d5f7a9c1e3b5d7f9a1c3e5b7d9f1a"
MISSING_TXID = "0" * 63 + "1"
CONFIRMED_TX: dict[str, Any] = RECORDINGS["transactions"][CONFIRMED_TXID]
UNCONFIRMED_TX: dict[str, Any] = RECORDINGS["transactions"][UNCONFIRMED_TXID]
DEPOSIT_ADDRESS = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
SENDER_ADDRESS = "bc1q9d4ywgfnd8h43da5tpcxcn6ajv590cg6d3tg6axemvljvt2k76zs50tv4q"
CHANGE_ADDRESS = "bc1q7cyrfmck2ffu2ud3rn5l5a8yv6f0chkp0zpemf"
TAPROOT_ADDRESS = "bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297"


@dataclass
class FakeEsplora:
    """A local server answering Esplora's REST API from the recordings above.

    It stands in for blockstream.info/api or mempool.space/api, which tests cannot reach.
    ``failing`` makes it answer 503, as a node behind a proxy does while it restarts.
    """

    url: str = ""
    tip_height: int = ESPLORA_TIP_HEIGHT
    failing: bool = False
    requests: list[str] = field(default_factory=list)
    transactions: dict[str, dict[str, Any]] = field(
        default_factory=lambda: dict(RECORDINGS["transactions"])
    )

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/api/tx/{txid}", self._tx)
        app.router.add_get("/api/tx/{txid}/status", self._status)
        app.router.add_get("/api/blocks/tip/height", self._tip)
        app.router.add_get("/api/address/{address}", self._address)
        return app

    def _check(self, request: web.Request) -> None:
        self.requests.append(request.path)
        if self.failing:
            raise web.HTTPServiceUnavailable(text="upstream node restarting")

    @staticmethod
    def _valid_txid(txid: str) -> None:
        if len(txid) != 64 or any(ch not in "0123456789abcdefABCDEF" for ch in txid):
            # Esplora's own wording for a malformed id.
            raise web.HTTPBadRequest(text="Invalid hex string")

    async def _tx(self, request: web.Request) -> web.Response:
        self._check(request)
        txid = request.match_info["txid"]
        self._valid_txid(txid)
        if txid.lower() not in self.transactions:
            raise web.HTTPNotFound(text="Transaction not found")
        return web.json_response(self.transactions[txid.lower()])

    async def _status(self, request: web.Request) -> web.Response:
        self._check(request)
        txid = request.match_info["txid"]
        self._valid_txid(txid)
        if txid.lower() not in self.transactions:
            raise web.HTTPNotFound(text="Transaction not found")
        return web.json_response(self.transactions[txid.lower()]["status"])

    async def _tip(self, request: web.Request) -> web.Response:
        self._check(request)
        return web.Response(text=str(self.tip_height))

    async def _address(self, request: web.Request) -> web.Response:
        self._check(request)
        stats = RECORDINGS["addresses"].get(request.match_info["address"])
        if stats is None:
            raise web.HTTPBadRequest(text="Invalid Bitcoin address")
        return web.json_response(stats)

    def network(self, **changes: Any) -> ChainNetwork:
        values: dict[str, Any] = {
            "name": "bitcoin",
            "label": "Bitcoin",
            "kind": "esplora",
            "rpc_url": self.url,
            "confirmations": 3,
            "explorer_tx_url": "https://mempool.space/tx/{tx}",
        }
        values.update(changes)
        return ChainNetwork.model_validate(values)


async def start_fake_esplora() -> AsyncIterator[FakeEsplora]:
    fake = FakeEsplora()
    runner = web.AppRunner(fake.app())
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    fake.url = f"http://127.0.0.1:{port}/api"
    try:
        yield fake
    finally:
        await runner.cleanup()
