"""How many SQL statements the busiest writes make (an API create and reply, a web chat
customer's message): api_bench's and chat_bench's throughput follow these counts (each
ORM round trip costs a hundred microseconds or more of CPU), and a new hook that reads
on every request shows up here first.

The budgets are today's counts; raise one only for a statement the request needs.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from ledgerdesk.automation import queries as automation_queries
from ledgerdesk.db import direct
from ledgerdesk.db.engine import Database
from ledgerdesk.safety import keyring
from ledgerdesk.sla import cache as sla_cache
from tests.api_support import API, statements
from tests.conftest import LiveServer, World
from tests.webchat_support import Chat, http, make_chat, realtime, visitor

TX_HASH = "0x5c504ed432cb51138bcf09aa5e8a410dd4a1e204ef84bfed1be16dfba1b22060"


def _without_transaction_control(seen: list[str]) -> list[str]:
    control = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")
    return [s for s in seen if not s.startswith(control)]


@pytest.fixture
async def chat(app: Any, world: World) -> Chat:
    return await make_chat(app.state.ledgerdesk, world)


@pytest.fixture(autouse=True)
def _caches_trusted_for_the_test(monkeypatch: pytest.MonkeyPatch) -> None:
    """The caches' version checks are trusted for a second or two; on a loaded machine
    the test can take longer than that between warm-up and measure."""
    monkeypatch.setattr(automation_queries, "RECHECK_SECONDS", 3600.0)
    monkeypatch.setattr(sla_cache, "RECHECK_SECONDS", 3600.0)
    monkeypatch.setattr(keyring, "ACTIVE_RECHECK_SECONDS", 3600.0)


async def test_creating_a_conversation_and_replying_stay_within_their_statement_budgets(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    customer = await world.make_customer()
    body = {"customer": {"id": customer.id}, "body": "My USDT deposit is missing", "tags": ["x"]}
    # The first request warms the per-process caches (token, rules, policies, keys).
    warm = await client.post(f"{API}/conversations", json=body, headers=world.bob.headers)
    assert warm.status_code == 201, warm.text
    for _ in range(2):  # the first makes the signing key, the second caches it
        warm_reply = await client.post(
            f"{API}/conversations/{warm.json()['id']}/messages",
            json={"body": "Looking into it."},
            headers=world.bob.headers,
        )
        assert warm_reply.status_code == 201, warm_reply.text

    # PostgreSQL adds the outbox's advisory lock, taken before the stream entry.
    lock = 1 if db.engine.dialect.name == "postgresql" else 0
    with statements(db) as seen:
        created = await client.post(f"{API}/conversations", json=body, headers=world.bob.headers)
    assert created.status_code == 201, created.text
    create_statements = _without_transaction_control(seen)
    # customer, conversation, event, tag, message, stream entry
    assert len(create_statements) <= 6 + lock, "\n".join(create_statements)

    with statements(db) as seen:
        reply = await client.post(
            f"{API}/conversations/{created.json()['id']}/messages",
            json={"body": "We are checking the transaction now."},
            headers=world.bob.headers,
        )
    assert reply.status_code == 201, reply.text
    reply_statements = _without_transaction_control(seen)
    # conversation, its update, event, message, SLA clocks, signature, anti-phishing
    # code, stream entry
    assert len(reply_statements) <= 8 + lock, "\n".join(reply_statements)
    assert not any("surveys" in s for s in reply_statements), "open to pending: no survey"


async def test_a_customer_message_in_an_open_chat_stays_within_its_budget(
    live_server: LiveServer, chat: Chat, db: Database
) -> None:
    async with http(live_server) as client:
        session = await visitor(client, chat)
    async with realtime(live_server, session["token"]) as widget:
        await widget.send(type="send", client_id="c-1", body="My BTC withdrawal is pending")
        opened = (await widget.next("ack"))["conversation_id"]
        # The second warms what the first did not use (the stream, the SLA clocks).
        await widget.send(
            type="send", client_id="c-2", body="It has been an hour", conversation_id=opened
        )
        await widget.next("ack")
        with statements(db) as seen:
            await widget.send(
                type="send", client_id="c-3", body=f"Tx {TX_HASH}", conversation_id=opened
            )
            ack = await widget.next("ack")
    assert ack["duplicate"] is False
    sent = [
        s
        for s in _without_transaction_control(seen)
        # The hub's read of the new stream entry, after the commit: delivery, not the send.
        if "FROM stream_events" not in s
    ]
    lock = 1 if db.engine.dialect.name == "postgresql" else 0  # the outbox's, as above
    # conversation, message (stored unless its client id was: no look-up first),
    # conversation update, SLA clocks, inbox (does the assistant answer?), its job
    # (likewise unless its key is pending), the stream entry
    assert len(sent) <= 7 + lock, "\n".join(sent)
    assert not any(s.startswith("SAVEPOINT") for s in seen), "no savepoint for the insert"
    assert not any(s.startswith("INSERT INTO conversation_events") for s in sent), "no change"


async def test_the_hot_writes_statements_run_directly(
    client: httpx.AsyncClient, world: World, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every Core statement an API reply offers to db/direct.py compiles for it, on
    SQLite and PostgreSQL alike (an ORM-enabled select slipped through once, silently
    taking the slow path)."""
    customer = await world.make_customer()
    body = {"customer": {"id": customer.id}, "body": "My USDT deposit is missing"}
    created = await client.post(f"{API}/conversations", json=body, headers=world.bob.headers)
    assert created.status_code == 201, created.text
    compiled: list[tuple[str, bool]] = []
    real_compile = direct._compile

    def recording(statement: Any, keys: tuple[str, ...], dialect: Any) -> Any:
        plan = real_compile(statement, keys, dialect)
        compiled.append((str(statement).split("\n")[0], plan is not None))
        return plan

    monkeypatch.setattr(direct, "_PLANS", {})
    monkeypatch.setattr(direct, "_compile", recording)
    for text in ("Looking into it.", "Found it: the deposit is credited now."):
        reply = await client.post(
            f"{API}/conversations/{created.json()['id']}/messages",
            json={"body": text},
            headers=world.bob.headers,
        )
        assert reply.status_code == 201, reply.text
    refused = [sql for sql, fits in compiled if not fits]
    assert refused == [], refused
    offered = " | ".join(sql for sql, _ in compiled)
    for expected in ("INSERT INTO messages", "UPDATE conversations", "UPDATE messages"):
        assert expected in offered, offered
    assert "SELECT customers.anti_phishing_code" in offered, offered
    # On PostgreSQL the stream entry takes its lock in the same statement (a CTE).
    stream_entry = "INSERT INTO stream_events" if db.is_sqlite else "WITH stream_lock AS"
    assert stream_entry in offered, offered
