"""How many SQL statements a web chat customer's message makes once its conversation
exists: chat_bench's messages per second follow this count, as the API's do
(tests/test_api_statement_budget.py).

The budget is today's count; raise it only for a statement a send needs.
"""

from __future__ import annotations

from typing import Any

import pytest

from ledgerdesk.automation import queries as automation_queries
from ledgerdesk.db.engine import Database
from ledgerdesk.safety import keyring
from ledgerdesk.sla import cache as sla_cache
from tests.api_support import statements
from tests.conftest import LiveServer, World
from tests.test_webchat_realtime import http, realtime
from tests.webchat_support import Chat, make_chat, visitor

TX_HASH = "0x5c504ed432cb51138bcf09aa5e8a410dd4a1e204ef84bfed1be16dfba1b22060"


@pytest.fixture
async def chat(app: Any, world: World) -> Chat:
    return await make_chat(app.state.ledgerdesk, world)


@pytest.fixture(autouse=True)
def _caches_trusted_for_the_test(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(automation_queries, "RECHECK_SECONDS", 3600.0)
    monkeypatch.setattr(sla_cache, "RECHECK_SECONDS", 3600.0)
    monkeypatch.setattr(keyring, "ACTIVE_RECHECK_SECONDS", 3600.0)


async def test_a_customer_message_in_an_open_chat_stays_within_its_budget(
    live_server: LiveServer, chat: Chat, db: Database
) -> None:
    async with http(live_server) as client:
        session = await visitor(client, chat)
    async with realtime(live_server, session["token"]) as widget:
        await widget.send(type="send", client_id="c-1", body="My BTC withdrawal is pending")
        first = await widget.next("ack")
        await widget.send(
            type="send",
            client_id="c-2",
            body="It has been an hour",
            conversation_id=first["conversation_id"],
        )
        await widget.next("ack")
        with statements(db) as seen:
            await widget.send(
                type="send",
                client_id="c-3",
                body="Transaction " + TX_HASH,
                conversation_id=first["conversation_id"],
            )
            ack = await widget.next("ack")
    assert ack["duplicate"] is False
    sent = [
        s
        for s in seen
        if not s.startswith(("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"))
        # The hub's read of the new stream entry, after the commit: delivery, not the send.
        and "FROM stream_events" not in s
    ]
    # PostgreSQL adds the outbox's advisory lock, taken before the stream entry.
    lock = 1 if db.engine.dialect.name == "postgresql" else 0
    # conversation, resend check, message, conversation update, SLA clocks, inbox (does
    # the assistant answer?), its job's dedup check, the job, the stream entry
    assert len(sent) <= 9 + lock, "\n".join(sent)
    assert not any(s.startswith("INSERT INTO conversation_events") for s in sent), "no change"
