"""The web chat assistant answers "where is my deposit" from a real local chain (anvil):
a visitor quoting a transaction hash gets the live verdict, in their language and in
the console's words; a question without a deposit intent, an unreachable node or a
hash on no configured network gets the help-center answer instead."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledgerdesk.app import create_app
from ledgerdesk.chain.deposit_text import customer_sentence
from ledgerdesk.chain.service import ChainClients
from ledgerdesk.channels.webchat.assistant import chain_answer
from ledgerdesk.db.engine import Database
from ledgerdesk.events.bus import MemoryEventBus
from ledgerdesk.knowledge.transfer import import_directory
from ledgerdesk.settings import Settings, load_settings
from tests.assistant_fixtures import write_kb
from tests.chain_support import Anvil, dead_url, start_anvil
from tests.conftest import LiveServer, World
from tests.test_webchat_assistant import _messages, _reply, realtime
from tests.webchat_support import Chat, make_chat, visitor

# The chain is under test, not the database; SQLite is enough.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


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
        chain_networks=json.dumps([anvil.network_config("ethereum", label="Ethereum")]),
    )


@pytest.fixture
async def kb(db: Database, tmp_path: Path) -> Path:
    directory = write_kb(tmp_path / "kb")
    await import_directory(db, directory)
    return directory


@pytest.fixture
def app(settings: Settings, db: Database, bus: MemoryEventBus, kb: Path):  # type: ignore[no-untyped-def]
    return create_app(settings.model_copy(update={"assistant_dense": False}), db=db, bus=bus)


@pytest.fixture
async def chat(app: Any, world: World) -> Chat:
    return await make_chat(app.state.ledgerdesk, world)


_client_ids = itertools.count(1)


async def _answer(app: Any, db: Database, server: LiveServer, chat: Chat, body: str) -> str:
    """A new visitor writes ``body`` in the widget; the reply job answers; its text."""
    async with httpx.AsyncClient(base_url=server.url) as client:
        started = await visitor(client, chat)
    async with realtime(server, started["token"]) as widget:
        # The widget's client ids are unique per channel: a reused one is a resend.
        await widget.send(type="send", client_id=f"deposit-{next(_client_ids)}", body=body)
        asked = {"ack": await widget.next("ack")}
    turn = await _reply(app, db, asked["ack"]["message_id"])
    assert turn is not None
    said = [
        m
        for m in await _messages(db, asked["ack"]["conversation_id"])
        if m.id == turn.answer_message_id
    ]
    assert len(said) == 1 and said[0].author_kind == "assistant"
    return said[0].body


async def test_a_visitor_quoting_a_hash_gets_the_live_verdict(
    app: Any, live_server: LiveServer, chat: Chat, db: Database, anvil: Anvil, settings: Settings
) -> None:
    tx_hash = await anvil.send(to=anvil.accounts[2], value=25 * 10**16)

    body = await _answer(
        app, db, live_server, chat, f"My deposit has not arrived yet, tx {tx_hash}"
    )

    assert "has 1 of the 3 confirmations needed, so it is waiting for 2 more" in body
    assert "0.25 ETH" in body and "on Ethereum" in body
    # The same words as the console's "Insert into reply".
    verdict = await ChainClients.from_settings(settings).check_transaction(tx_hash)
    assert verdict.confirmations == 1
    assert body == customer_sentence(verdict, "en")

    await anvil.mine(2)
    later = await _answer(app, db, live_server, chat, f"deposit still not credited? {tx_hash}")
    assert "is confirmed (3 confirmations; 3 are needed)" in later


async def test_a_chinese_visitor_gets_the_verdict_in_chinese(
    app: Any, live_server: LiveServer, chat: Chat, db: Database, anvil: Anvil
) -> None:
    tx_hash = await anvil.send(to=anvil.accounts[3], value=10**18)
    await anvil.mine(5)

    body = await _answer(app, db, live_server, chat, f"你好，我的充值还没到账，交易哈希：{tx_hash}")

    assert "已确认（6 个确认，需要 3 个）" in body and "Ethereum" in body


async def test_a_failed_transaction_and_an_unknown_hash_are_told_as_such(
    app: Any, live_server: LiveServer, chat: Chat, db: Database, anvil: Anvil
) -> None:
    token = await anvil.deploy_token("USDT", 6)
    tx_hash = await anvil.transfer_tokens(
        token, anvil.accounts[7], 10**6, **{"from": anvil.accounts[6], "gas": 100_000}
    )
    assert (await anvil.receipt(tx_hash))["status"] == "0x0"

    failed = await _answer(app, db, live_server, chat, f"my withdrawal failed? {tx_hash}")
    assert "failed on Ethereum (the network reverted it)" in failed

    missing = "0x" + "ab" * 32
    unknown = await _answer(app, db, live_server, chat, f"where is my deposit {missing}")
    assert "We cannot find the transaction 0xababab…ababab on Ethereum" in unknown


async def test_a_hash_without_a_deposit_question_gets_the_help_center_answer(
    app: Any, live_server: LiveServer, chat: Chat, db: Database, anvil: Anvil
) -> None:
    tx_hash = await anvil.send(to=anvil.accounts[2], value=1)
    body = await _answer(app, db, live_server, chat, f"I forgot the memo for my XRP {tx_hash}")
    assert "confirmations" not in body


async def test_chain_trouble_falls_back_to_the_normal_answer(
    settings: Settings, anvil: Anvil
) -> None:
    tx_hash = await anvil.send(to=anvil.accounts[2], value=1)
    question = f"my deposit has not arrived {tx_hash}"
    assert await chain_answer(settings, question, "en") is not None

    down = settings.model_copy(
        update={
            "chain_networks": (anvil.network("ethereum", rpc_url=dead_url(), timeout_seconds=2),)
        }
    )
    assert await chain_answer(down, question, "en") is None
    unconfigured = settings.model_copy(update={"chain_networks": ()})
    assert await chain_answer(unconfigured, question, "en") is None
    bitcoin_only = "deposit missing " + "ab" * 32  # a bare txid: no EVM network fits it
    assert await chain_answer(settings, bitcoin_only, "en") is None
