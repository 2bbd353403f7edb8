"""The demo on a local chain (`make run-chain`): real transactions on two anvil nodes, and
the console showing each one's status, read from the chain, in the conversation that
quotes it. Self-contained like test_demo_seed.py: the seed runs its own migrations on a
fresh SQLite file, once for the module."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass

import httpx
import pytest
from sqlalchemy import select

from ledgerdesk.app import create_app
from ledgerdesk.conversations.models import Message
from ledgerdesk.db.engine import Database
from ledgerdesk.demo import ADMIN_EMAIL
from ledgerdesk.demo_data.chain import (
    BSC,
    BSC_CHAIN_ID,
    CHAIN_SCRIPTS,
    ETHEREUM,
    ETHEREUM_CONFIRMATIONS,
    NETWORKS_FILE,
    ChainSeed,
    DemoTransactions,
    channel_message_id,
    prepare,
    seed_chain_conversations,
    send_demo_transactions,
)
from ledgerdesk.settings import Settings, load_settings
from tests.chain_support import Anvil, start_anvil
from tests.test_auth_flow import login


@pytest.fixture(scope="module")
async def ethereum() -> AsyncIterator[Anvil]:
    async for node in start_anvil():
        yield node


@pytest.fixture(scope="module")
async def bsc() -> AsyncIterator[Anvil]:
    async for node in start_anvil(chain_id=BSC_CHAIN_ID):
        yield node


@dataclass
class ChainDemo:
    settings: Settings
    txs: DemoTransactions
    seeded: ChainSeed
    admin_password: str


@pytest.fixture(scope="module")
async def demo(tmp_path_factory: pytest.TempPathFactory, ethereum: Anvil, bsc: Anvil) -> ChainDemo:
    data_dir = tmp_path_factory.mktemp("chain-demo")
    settings = load_settings(
        environ={},
        data_dir=data_dir,
        environment="test",
        secret_key="test-secret-key-that-is-long-enough-0123456789",
    )
    # What `make run-chain` does before it starts the server; the node keeps automine
    # here, so the confirmation counts below stay where the seed left them.
    with_chain, txs, seeded = await prepare(settings, ethereum.url, bsc.url, block_seconds=None)
    credentials = (data_dir / "demo-login.txt").read_text()
    match = re.search(rf"admin:\s+{re.escape(ADMIN_EMAIL)}\s+/\s+(\S+)", credentials)
    assert match, credentials
    return ChainDemo(with_chain, txs, seeded, match.group(1))


@pytest.fixture
async def console(demo: ChainDemo) -> AsyncIterator[httpx.AsyncClient]:
    db = Database.from_settings(demo.settings)
    app = create_app(demo.settings, db=db)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            response = await login(http, ADMIN_EMAIL, demo.admin_password)
            assert response.status_code in (200, 303), response.text
            yield http
    finally:
        await db.dispose()


async def _conversations(settings: Settings, txs: DemoTransactions) -> dict[str, int]:
    """The seeded conversation number for each transaction, found by the hash it quotes."""
    hashes = asdict(txs)
    ids = {
        channel_message_id(script, hashes[script["key"]]): script["key"] for script in CHAIN_SCRIPTS
    }
    db = Database.from_settings(settings)
    try:
        async with db.session() as session:
            rows = await session.execute(
                select(Message.channel_message_id, Message.conversation_id).where(
                    Message.channel_message_id.in_(ids)
                )
            )
            return {ids[cmid]: number for cmid, number in rows.all() if cmid is not None}
    finally:
        await db.dispose()


async def _chip(console: httpx.AsyncClient, number: int, tx_hash: str) -> str:
    """Open the conversation as an agent would, then load its chip as htmx does."""
    page = await console.get(f"/conversations/{number}")
    assert page.status_code == 200, page.text
    assert tx_hash in page.text
    assert f'hx-get="/chain/tx-chip/{tx_hash}"' in page.text
    chip = await console.get(f"/chain/tx-chip/{tx_hash}")
    assert chip.status_code == 200, chip.text
    return chip.text


async def test_each_demo_transaction_has_a_conversation_whose_chip_shows_its_chain_status(
    demo: ChainDemo, console: httpx.AsyncClient
) -> None:
    numbers = await _conversations(demo.settings, demo.txs)
    assert set(numbers) == {script["key"] for script in CHAIN_SCRIPTS}
    assert numbers == demo.seeded.conversations and demo.seeded.created == len(numbers)

    credited = await _chip(console, numbers["credited"], demo.txs.credited)
    assert "succeeded" in credited and f"{ETHEREUM}: " in credited
    # Past the requirement the chip says "12+", never "22 of 12".
    assert f"{ETHEREUM}: {ETHEREUM_CONFIRMATIONS}+ confirmations" in credited
    assert not re.search(r"\d+ of \d+ confirmations", credited)

    confirming = await _chip(console, numbers["confirming"], demo.txs.confirming)
    assert "confirming" in confirming
    assert f"{ETHEREUM}: 2 of {ETHEREUM_CONFIRMATIONS} confirmations" in confirming

    reverted = await _chip(console, numbers["reverted"], demo.txs.reverted)
    assert f"failed (reverted) on {ETHEREUM}" in reverted

    pending = await _chip(console, numbers["pending"], demo.txs.pending)
    assert f"pending on {ETHEREUM}" in pending

    wrong = await _chip(console, numbers["wrong_network"], demo.txs.wrong_network)
    assert "succeeded" in wrong and f"{BSC}: " in wrong, "the chip names the chain it is on"


async def test_the_wrong_network_deposit_gets_a_note_saying_where_the_transaction_is(
    demo: ChainDemo,
) -> None:
    numbers = await _conversations(demo.settings, demo.txs)
    db = Database.from_settings(demo.settings)
    try:
        async with db.session() as session:
            notes = (
                await session.scalars(
                    select(Message.body).where(
                        Message.conversation_id == numbers["wrong_network"],
                        Message.is_internal.is_(True),
                    )
                )
            ).all()
    finally:
        await db.dispose()
    assert len(notes) == 1
    assert "is not on Ethereum (local anvil)" in notes[0]
    assert "Found on BNB Smart Chain (local anvil): a wrong-network deposit" in notes[0]


async def test_the_networks_file_written_for_the_server_names_both_local_nodes(
    demo: ChainDemo, ethereum: Anvil, bsc: Anvil
) -> None:
    written = load_settings(
        environ={}, chain_networks=str(demo.settings.data_dir / NETWORKS_FILE)
    ).chain_networks
    assert [(n.name, n.chain_id, n.rpc_url.get_secret_value()) for n in written] == [
        (ETHEREUM, ethereum.chain_id, ethereum.url),
        (BSC, bsc.chain_id, bsc.url),
    ]


async def test_a_rerun_on_fresh_chains_sends_the_same_hashes_and_adds_no_conversation(
    demo: ChainDemo, ethereum: Anvil, bsc: Anvil
) -> None:
    # The seeded chains have blocks: the demo refuses them rather than mixing histories.
    with pytest.raises(RuntimeError, match="fresh chain"):
        await send_demo_transactions(ethereum.url, bsc.url)
    # `make run-chain` starts new nodes every time; the database keeps its conversations.
    await ethereum.rpc("anvil_reset")
    await bsc.rpc("anvil_reset")
    again = await send_demo_transactions(ethereum.url, bsc.url)
    assert again == demo.txs
    assert (await seed_chain_conversations(demo.settings, again)).created == 0
