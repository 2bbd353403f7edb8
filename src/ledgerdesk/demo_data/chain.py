"""The demo on a local blockchain: real transactions whose status the console shows live.

``make run-chain`` (``python -m ledgerdesk.demo_data.chain``) starts two anvil nodes
(Foundry's local EVM node, installed from npm by ``scripts/install-anvil``): one stands
for Ethereum, one for BNB Smart Chain. It sends the transactions Harbor Exchange's
customers ask about (a credited deposit, one still confirming, a reverted one, one
stuck pending, and one sent on the wrong network), configures
``LEDGERDESK_CHAIN_NETWORKS`` for the two nodes, seeds the demo desk if the database is
empty, adds one conversation per transaction, and runs ``ledgerdesk serve``. Each
customer message holds its transaction hash, so the console shows a chip with the
status read from the chain when the conversation opens.

anvil starts a new chain on every run, but the hashes stay the same: every transaction
is sent with all of its fields fixed (sender, nonce, gas, fees, chain id) and anvil
signs deterministically, so conversations seeded on an earlier run still point at
transactions that exist. Each conversation's ``channel_message_id`` names its hash, so
a rerun adds nothing, and a changed hash would get a new conversation instead of a
stale one.

No key is handled here: anvil's development accounts are unlocked, and the node signs.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypedDict

import httpx
from sqlalchemy import select

from ledgerdesk.accounts.models import Agent, Team
from ledgerdesk.accounts.principal import Principal
from ledgerdesk.chain.networks import ChainNetwork
from ledgerdesk.chain.service import ChainClients
from ledgerdesk.conversations.actions import do_add_message, do_create_conversation
from ledgerdesk.conversations.models import Inbox
from ledgerdesk.customers.models import Customer
from ledgerdesk.db.engine import Database
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.demo import AGENTS, CUSTOMERS, INBOXES, TEAMS, seed_demo
from ledgerdesk.settings import Settings, SettingsError, load_settings

log = logging.getLogger(__name__)

ETHEREUM = "ethereum-local"
BSC = "bsc-local"
ETHEREUM_CHAIN_ID = 31337  # anvil's own default
BSC_CHAIN_ID = 31338
ETHEREUM_CONFIRMATIONS = 12
BSC_CONFIRMATIONS = 15
DEFAULT_PORTS = {ETHEREUM: 8545, BSC: 8546}
# After seeding, the Ethereum node mines a block this often, so the deposit that is
# still confirming grows on the page (reload it) until it is credited.
BLOCK_SECONDS = 10
NETWORKS_FILE = "chain-networks.json"

# Harbor Exchange's deposit addresses for the customers below (invented, public).
DEPOSIT_SARAH = "0x5a1e8d2c4b6f0e3a9d7c1b5e8f2a4c6d0b3e9f71"
DEPOSIT_MARCUS = "0x7c3b9e1d5f2a8c4e6b0d3f9a1c5e7b2d4f6a8c03"
DEPOSIT_WANGQIANG = "0x2e8f4a6c0b1d3e5f7a9c2b4d6e8f0a1c3e5b7d29"
DEPOSIT_EMILY = "0x9d4f6b8a0c2e4a6c8e0b2d4f6a8c0e2b4d6f8a15"
DEPOSIT_AHMED = "0x3f7a9c1e5b2d8f4a6c0e3b9d1f5a7c2e4b6d8f47"
# Runtime code 60006000fd (PUSH1 0, PUSH1 0, REVERT) behind the init code that returns
# it: a contract that refuses every call, so a payment to it lands on chain as reverted.
REVERTING_CONTRACT = "0x6005600c60003960056000f3" + "60006000fd"

_GWEI = 10**9
_FEES = {"maxFeePerGas": 2 * _GWEI, "maxPriorityFeePerGas": _GWEI}


@dataclass(frozen=True)
class DemoTransactions:
    """The hashes the demo's customers quote, one per thing a deposit can go through."""

    credited: str  # succeeded, deeper than the confirmations required
    confirming: str  # succeeded, a few confirmations so far
    reverted: str  # mined but failed: only the fee was spent
    pending: str  # known to the node, in no block (an earlier nonce never arrived)
    wrong_network: str  # on bsc-local, while the customer means their Ethereum address


class _Rpc:
    """Raw JSON-RPC to one anvil node (its ``anvil_*``/``evm_*`` calls are not web3's)."""

    def __init__(self, http: httpx.AsyncClient, url: str, chain_id: int) -> None:
        self.http = http
        self.url = url
        self.chain_id = chain_id
        self.accounts: list[str] = []

    async def call(self, method: str, *params: Any) -> Any:
        response = await self.http.post(
            self.url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
        )
        body = response.json()
        if "error" in body:
            raise RuntimeError(f"{method} on {self.url}: {body['error']}")
        return body["result"]

    async def send(self, sender: int, nonce: int, **tx: Any) -> str:
        """Send from development account ``sender`` with every field fixed (see above)."""
        if not self.accounts:
            self.accounts = await self.call("eth_accounts")
        fields: dict[str, Any] = {
            "from": self.accounts[sender],
            "nonce": nonce,
            "gas": 21_000,
            "chainId": self.chain_id,
            **_FEES,
            **tx,
        }
        clean = {
            key: hex(value) if isinstance(value, int) else value for key, value in fields.items()
        }
        tx_hash: str = await self.call("eth_sendTransaction", clean)
        return tx_hash

    async def mined(self, tx_hash: str) -> dict[str, Any]:
        """The receipt, once automine has put the transaction in a block (it is quick, not
        synchronous: a loaded machine can answer the send before the block exists)."""
        for _ in range(200):
            receipt: dict[str, Any] | None = await self.call("eth_getTransactionReceipt", tx_hash)
            if receipt is not None:
                return receipt
            await asyncio.sleep(0.05)
        raise RuntimeError(f"{tx_hash} was not mined within 10 s on {self.url}")

    async def mine(self, blocks: int) -> None:
        await self.call("anvil_mine", hex(blocks))


async def send_demo_transactions(ethereum_url: str, bsc_url: str) -> DemoTransactions:
    """Send the demo's transactions on two fresh anvil chains; the same hashes every time."""
    async with httpx.AsyncClient(timeout=15) as http:
        eth = _Rpc(http, ethereum_url, ETHEREUM_CHAIN_ID)
        bsc = _Rpc(http, bsc_url, BSC_CHAIN_ID)
        for node in (eth, bsc):
            if int(await node.call("eth_blockNumber"), 16) != 0:
                raise RuntimeError(
                    f"the node at {node.url} has blocks already: the demo needs a fresh chain"
                )
        credited = await eth.send(1, 0, to=DEPOSIT_SARAH, value=5 * 10**17)
        await eth.mined(credited)
        # Account 2 deploys a contract that refuses every call, then pays it 2 ETH with
        # a fixed gas limit: anvil mines the failing call instead of refusing it.
        deployed = await eth.send(2, 0, data=REVERTING_CONTRACT, gas=100_000)
        receipt = await eth.mined(deployed)
        reverted = await eth.send(2, 1, to=receipt["contractAddress"], value=2 * 10**18, gas=60_000)
        await eth.mined(reverted)
        # Nonce 1 from an account that never sent nonce 0: the node keeps it waiting.
        pending = await eth.send(3, 1, to=DEPOSIT_WANGQIANG, value=10**18)
        await eth.mine(ETHEREUM_CONFIRMATIONS + 2)
        confirming = await eth.send(4, 0, to=DEPOSIT_EMILY, value=25 * 10**16)
        await eth.mined(confirming)
        await eth.mine(1)
        wrong_network = await bsc.send(1, 0, to=DEPOSIT_AHMED, value=12 * 10**17)
        await bsc.mined(wrong_network)
        await bsc.mine(BSC_CONFIRMATIONS + 1)
    return DemoTransactions(credited, confirming, reverted, pending, wrong_network)


def networks_config(ethereum_url: str, bsc_url: str) -> list[dict[str, Any]]:
    """The ``LEDGERDESK_CHAIN_NETWORKS`` list for the two local nodes."""
    return [
        {
            "name": ETHEREUM,
            "label": "Ethereum (local anvil)",
            "kind": "evm",
            "chain_id": ETHEREUM_CHAIN_ID,
            "rpc_url": ethereum_url,
            "confirmations": ETHEREUM_CONFIRMATIONS,
        },
        {
            "name": BSC,
            "label": "BNB Smart Chain (local anvil)",
            "kind": "evm",
            "chain_id": BSC_CHAIN_ID,
            "rpc_url": bsc_url,
            "confirmations": BSC_CONFIRMATIONS,
            "native_symbol": "BNB",
        },
    ]


class ChainScript(TypedDict):
    key: str  # which DemoTransactions field the message quotes
    customer: str
    inbox: str
    team: str
    language: str
    subject: str
    body: str  # {tx} is the hash, {address} the deposit address


CHAIN_SCRIPTS: tuple[ChainScript, ...] = (
    {
        "key": "credited",
        "customer": "sarah",
        "inbox": "webchat",
        "team": "en",
        "language": "en",
        "subject": "ETH deposit not in my balance",
        "body": "Hi, I deposited 0.5 ETH to my Harbor deposit address {address} about an hour"
        " ago and I still don't see it in my balance. Transaction hash: {tx}",
    },
    {
        "key": "confirming",
        "customer": "emily",
        "inbox": "webchat",
        "team": "en",
        "language": "en",
        "subject": "Just sent 0.25 ETH, how long does it take?",
        "body": "I just sent 0.25 ETH to {address}. My wallet says it went through, tx {tx}."
        " When will it show up?",
    },
    {
        "key": "reverted",
        "customer": "marcus",
        "inbox": "email",
        "team": "vip",
        "language": "en",
        "subject": "Deposit of 2 ETH failed but the fee is gone",
        "body": "My wallet shows my 2 ETH deposit as failed, but the network fee was taken."
        " Did you receive the money? My deposit address is {address}, transaction {tx}",
    },
    {
        "key": "pending",
        "customer": "wangqiang",
        "inbox": "telegram_zh",
        "team": "zh",
        "language": "zh-Hans",
        "subject": "充值 1 ETH 一直显示等待中",
        "body": "你好，我两个小时前往充值地址 {address} 转了 1 ETH，钱包一直显示等待中。"
        "交易哈希：{tx}",
    },
    {
        "key": "wrong_network",
        "customer": "ahmed",
        "inbox": "telegram",
        "team": "en",
        "language": "en",
        "subject": "Deposit to my ETH address never arrived",
        "body": "I sent 1.2 to my Harbor ETH deposit address {address} from my wallet two"
        " hours ago, tx hash {tx}. The wallet says confirmed but Harbor shows nothing.",
    },
)

_DEPOSIT_ADDRESSES = {
    "credited": DEPOSIT_SARAH,
    "confirming": DEPOSIT_EMILY,
    "reverted": DEPOSIT_MARCUS,
    "pending": DEPOSIT_WANGQIANG,
    "wrong_network": DEPOSIT_AHMED,
}


def channel_message_id(script: ChainScript, tx_hash: str) -> str:
    return f"chain-demo:{script['key']}:{tx_hash}"


@dataclass(frozen=True)
class ChainSeed:
    conversations: dict[str, int]  # DemoTransactions field -> conversation number
    created: int  # how many of them this run added


async def seed_chain_conversations(settings: Settings, txs: DemoTransactions) -> ChainSeed:
    """Add one conversation per demo transaction to the seeded demo desk (once).

    Needs the demo desk (``ledgerdesk demo``) and ``settings.chain_networks`` naming
    the two local nodes: the wrong-network conversation gets an agent's internal note
    with the deposit verdict read from the chain at seeding time.
    """
    # Asked before the write transaction starts: a slow node must not hold the lock.
    note = await _deposit_note(settings, txs.wrong_network)
    db = Database.from_settings(settings)
    hashes = asdict(txs)
    created_count = 0
    numbers: dict[str, int] = {}
    try:
        async with UnitOfWork(db.write_sessionmaker()) as uow:
            cast = await _find_cast(uow)
            for script in CHAIN_SCRIPTS:
                tx_hash = hashes[script["key"]]
                inbox = cast.inboxes[script["inbox"]]
                conversation, created = await do_create_conversation(
                    uow,
                    actor=None,
                    customer=cast.customers[script["customer"]],
                    body=script["body"].format(
                        tx=tx_hash, address=_DEPOSIT_ADDRESSES[script["key"]]
                    ),
                    subject=script["subject"],
                    channel=inbox.channel,
                    inbox_id=inbox.id,
                    language=script["language"],
                    team_id=cast.teams[script["team"]].id,
                    tags=("deposit", "chain-demo"),
                    channel_message_id=channel_message_id(script, tx_hash),
                )
                numbers[script["key"]] = conversation.id
                if not created:
                    continue
                created_count += 1
                if script["key"] == "wrong_network" and note is not None:
                    await do_add_message(
                        uow,
                        actor=Principal(agent=cast.agents["emma"]),
                        conversation=conversation,
                        body=note,
                        internal=True,
                    )
            await uow.commit()
    finally:
        await db.dispose()
    return ChainSeed(numbers, created_count)


async def _deposit_note(settings: Settings, tx_hash: str) -> str | None:
    """What "where is my deposit" says on Ethereum for Ahmed: not there, but on BSC."""
    clients = ChainClients.from_settings(settings)
    if ETHEREUM not in clients.networks:
        return None
    verdict = await clients.check_deposit(ETHEREUM, tx_hash, DEPOSIT_AHMED)
    return f"Deposit check for {DEPOSIT_AHMED}: {verdict.agent_text}"


@dataclass
class _DemoCast:
    agents: dict[str, Agent]
    teams: dict[str, Team]
    inboxes: dict[str, Inbox]
    customers: dict[str, Customer]


async def _find_cast(uow: UnitOfWork) -> _DemoCast:
    session = uow.session
    emails = {who["email"]: who["key"] for who in CUSTOMERS}
    customers = {
        emails[c.email]: c
        for c in (await session.scalars(select(Customer).where(Customer.email.in_(emails))))
        if c.email is not None
    }
    agent_emails = {agent["email"]: agent["key"] for agent in AGENTS}
    agents = {
        agent_emails[a.email]: a
        for a in await session.scalars(select(Agent).where(Agent.email.in_(agent_emails)))
    }
    team_names = {team["name"]: team["key"] for team in TEAMS}
    teams = {
        team_names[t.name]: t
        for t in await session.scalars(select(Team).where(Team.name.in_(team_names)))
    }
    inbox_names = {box["name"]: box["key"] for box in INBOXES}
    inboxes = {
        inbox_names[i.name]: i
        for i in await session.scalars(select(Inbox).where(Inbox.name.in_(inbox_names)))
    }
    needed = {script["customer"] for script in CHAIN_SCRIPTS}
    if not needed <= customers.keys() or "emma" not in agents:
        raise RuntimeError(
            "the chain demo adds to Harbor Exchange's demo desk: run `ledgerdesk demo` first"
        )
    return _DemoCast(agents, teams, inboxes, customers)


# Running it: `make run-chain` ----------------------------------------------------------


def find_anvil() -> str | None:
    """$LEDGERDESK_ANVIL, anvil on PATH, then where scripts/install-anvil puts it."""
    tools = os.environ.get("LEDGERDESK_TOOLS_DIR") or str(
        Path.home() / ".cache" / "ledgerdesk-tools"
    )
    for candidate in (
        os.environ.get("LEDGERDESK_ANVIL"),
        shutil.which("anvil"),
        str(Path(tools) / "node_modules" / ".bin" / "anvil"),
    ):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def _port(preferred: int) -> int:
    """``preferred`` when it is free, else any free port."""
    for port in (preferred, 0):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            found: int = probe.getsockname()[1]
            return found
    raise RuntimeError("no free port")


def _preferred_ports() -> dict[str, int]:
    """LEDGERDESK_DEMO_ANVIL_PORTS=ETH,BSC moves the nodes (0: any free port)."""
    raw = os.environ.get("LEDGERDESK_DEMO_ANVIL_PORTS", "")
    if not raw.strip():
        return dict(DEFAULT_PORTS)
    try:
        eth, bsc = (int(part) for part in raw.split(","))
    except ValueError:
        raise RuntimeError(
            f"LEDGERDESK_DEMO_ANVIL_PORTS must be two ports like 8545,8546, not {raw!r}"
        ) from None
    return {ETHEREUM: eth, BSC: bsc}


def _start_node(
    binary: str, name: str, chain_id: int, log_dir: Path, preferred_port: int
) -> tuple[subprocess.Popen[bytes], str]:
    port = _port(preferred_port)
    log_file = (log_dir / f"anvil-{name}.log").open("wb")
    process = subprocess.Popen(  # noqa: S603 (the anvil binary found above)
        [binary, "--host", "127.0.0.1", "--port", str(port), "--chain-id", str(chain_id)],
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    log_file.close()  # the child keeps its own handle
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"anvil for {name} exited; see {log_dir / f'anvil-{name}.log'}")
        try:
            httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}, timeout=1)
            return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    process.terminate()
    raise RuntimeError(f"anvil for {name} did not answer within 20 s")


async def prepare(
    settings: Settings,
    ethereum_url: str,
    bsc_url: str,
    *,
    block_seconds: int | None = BLOCK_SECONDS,
) -> tuple[Settings, DemoTransactions, ChainSeed]:
    """Send the transactions, write the networks file, seed the desk and the conversations.

    Returns ``settings`` with the two networks (``chain_networks`` set from the file
    written to the data directory) and the hashes. With ``block_seconds`` the Ethereum
    node then mines a block that often, as a real chain does.
    """
    txs = await send_demo_transactions(ethereum_url, bsc_url)
    networks_file = settings.data_dir / NETWORKS_FILE
    networks_file.parent.mkdir(parents=True, exist_ok=True)
    config = networks_config(ethereum_url, bsc_url)
    networks_file.write_text(json.dumps(config, indent=2) + "\n")
    networks = tuple(ChainNetwork.model_validate(network) for network in config)
    with_chain = settings.model_copy(update={"chain_networks": networks})
    await seed_demo(with_chain, settings.data_dir / "demo-login.txt", only_if_empty=True)
    seeded = await seed_chain_conversations(with_chain, txs)
    if block_seconds is not None:
        async with httpx.AsyncClient(timeout=5) as http:
            await _Rpc(http, ethereum_url, ETHEREUM_CHAIN_ID).call(
                "evm_setIntervalMining", block_seconds
            )
    return with_chain, txs, seeded


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # One line per RPC call otherwise.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("web3").setLevel(logging.WARNING)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"ledgerdesk: {exc}", file=sys.stderr)
        return 2
    binary = find_anvil()
    if binary is None:
        print(
            "anvil not found: run scripts/install-anvil (needs npm), or set LEDGERDESK_ANVIL",
            file=sys.stderr,
        )
        return 2
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    # `kill` (SIGTERM) stops the server and the nodes as Ctrl-C does.
    signal.signal(signal.SIGTERM, _interrupt)
    nodes: list[subprocess.Popen[bytes]] = []
    try:
        ports = _preferred_ports()
        eth_process, eth_url = _start_node(
            binary, ETHEREUM, ETHEREUM_CHAIN_ID, settings.data_dir, ports[ETHEREUM]
        )
        nodes.append(eth_process)
        bsc_process, bsc_url = _start_node(binary, BSC, BSC_CHAIN_ID, settings.data_dir, ports[BSC])
        nodes.append(bsc_process)
        _, txs, seeded = asyncio.run(prepare(settings, eth_url, bsc_url))
        networks_file = (settings.data_dir / NETWORKS_FILE).resolve()
        hashes = asdict(txs)
        print(
            f"\nLocal chains: {ETHEREUM} at {eth_url}, {BSC} at {bsc_url}"
            f" (LEDGERDESK_CHAIN_NETWORKS={networks_file}).\n"
            "These conversations quote a transaction on them; its chip shows the status"
            " read from the chain:\n"
            + "".join(
                f"  {settings.public_url}/conversations/{number}  {key:<14} {hashes[key]}\n"
                for key, number in seeded.conversations.items()
            ),
            flush=True,
        )
        env = {**os.environ, "LEDGERDESK_CHAIN_NETWORKS": str(networks_file)}
        command = [str(Path(sys.executable).with_name("ledgerdesk")), "serve", *(argv or ())]
        if not Path(command[0]).exists():
            command = [sys.executable, "-m", "ledgerdesk.cli", "serve", *(argv or ())]
        # In its own session, so a terminal's Ctrl-C reaches it once, passed on from here
        # (uvicorn takes a second SIGINT as "exit now, skip the shutdown").
        server = subprocess.Popen(command, env=env, start_new_session=True)  # noqa: S603
        while True:
            try:
                return server.wait()
            except KeyboardInterrupt:
                server.send_signal(signal.SIGINT)
    finally:
        for process in nodes:
            process.terminate()
        for process in nodes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
