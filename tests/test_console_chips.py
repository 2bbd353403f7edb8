"""Addresses and transaction hashes in the console: chips with the network, a wrong-network
hint, and a transaction's live status read from a real local chain (anvil)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from mnemonic import Mnemonic

from ledgerdesk.conversations.actions import do_create_conversation
from ledgerdesk.db.engine import Database
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.settings import Settings, load_settings
from tests.chain_support import Anvil, start_anvil
from tests.conftest import World
from tests.test_auth_flow import login

# The chips read the chain, not the database; SQLite is enough.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

TRON = "TNPeeaaFB7K9cmo4uQpcU32zGK8G1NYqeL"


@pytest.fixture(scope="module")
async def anvil() -> AsyncIterator[Anvil]:
    async for node in start_anvil():
        yield node


@pytest.fixture
def settings(tmp_path: Path, database_url: str, anvil: Anvil) -> Settings:
    return load_settings(
        environ={},
        data_dir=tmp_path,
        environment="test",
        secret_key="test-secret-key-that-is-long-enough-0123456789",
        database_url=database_url,
        chain_networks=json.dumps([anvil.network_config("local", confirmations=3)]),
    )


async def _conversation(world: World, body: str) -> int:
    dana = await world.make_customer("Dana")
    async with UnitOfWork(world.db.write_sessionmaker()) as uow:
        conversation, _ = await do_create_conversation(uow, actor=None, customer=dana, body=body)
        await uow.commit()
    return conversation.id


async def test_a_deposit_question_shows_chips_a_wrong_network_hint_and_the_chain_status(
    client: httpx.AsyncClient, world: World, db: Database, anvil: Anvil
) -> None:
    tx_hash = await anvil.send(to=anvil.accounts[2], value=10**18)
    number = await _conversation(
        world, f"I sent 50 USDT ERC20 to {TRON} but nothing arrived. tx {tx_hash}"
    )
    await login(client, "alice@example.org")

    page = await client.get(f"/conversations/{number}")

    assert page.status_code == 200, page.text
    assert 'class="chip chip-address"' in page.text and TRON in page.text
    assert "Wrong network?" in page.text, "a Tron address in an ERC-20 question"
    assert f'hx-get="/chain/tx-chip/{tx_hash}"' in page.text

    chip = await client.get(f"/chain/tx-chip/{tx_hash}")
    assert chip.status_code == 200
    assert "confirming" in chip.text and "local: 1 of 3 confirmations" in chip.text
    await anvil.mine(2)
    chip = await client.get(f"/chain/tx-chip/{tx_hash}")
    # At the requirement and past it: "3+", never "3 of 3" or "5 of 3".
    assert "succeeded" in chip.text and "local: 3+ confirmations" in chip.text
    assert " of 3" not in chip.text
    await anvil.mine(2)
    chip = await client.get(f"/chain/tx-chip/{tx_hash}")
    assert "local: 3+ confirmations" in chip.text and "5 of 3" not in chip.text
    assert f"https://explorer.invalid/tx/{tx_hash}" in chip.text

    unknown = await client.get("/chain/tx-chip/0x" + "ab" * 32)
    assert "not found on the configured networks" in unknown.text


async def test_the_console_marks_a_message_whose_secret_was_removed(
    client: httpx.AsyncClient, world: World
) -> None:
    phrase = Mnemonic("english").generate(128)
    number = await _conversation(world, f"is this safe? {phrase}")
    await login(client, "alice@example.org")
    page = await client.get(f"/conversations/{number}")
    assert "[seed phrase removed]" in page.text and phrase not in page.text
    assert "Secret removed" in page.text and "Secret shared" in page.text


async def test_the_chain_chip_needs_a_console_login(client: httpx.AsyncClient) -> None:
    response = await client.get("/chain/tx-chip/0x" + "ab" * 32, follow_redirects=False)
    assert response.status_code in (303, 401)
