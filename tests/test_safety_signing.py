"""Signed agent replies: the pure signature, signing on reply, checking a pasted message,
published keys, rotation, and what the widget receives (signature, anti-phishing code)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from ledgerdesk.accounts.secrets import SecretBox
from ledgerdesk.conversations.models import Message
from ledgerdesk.customers.models import Customer
from ledgerdesk.db.engine import Database
from ledgerdesk.realtime.models import StreamEvent
from ledgerdesk.safety import keyring
from ledgerdesk.safety.models import SigningKey
from ledgerdesk.safety.signing import (
    SignatureFormatError,
    generate_private_key,
    parse_token,
    sign_message,
    signed_block,
    split_pasted,
    verify_signed,
)
from ledgerdesk.settings import Settings
from tests.api_support import API, assert_error, bearer
from tests.conftest import World

WHEN = datetime(2026, 11, 28, 6, 30, 1, 123456, tzinfo=UTC)
BODY = "Your deposit of 0.5 ETH is credited.\nWe never ask for your seed phrase."


def _signed(key: Any = None, **changes: Any) -> tuple[Any, str]:
    key = key or generate_private_key()
    fields: dict[str, Any] = {
        "key_id": "ed25519-20261128-00000001",
        "conversation": 1042,
        "message_id": 5581,
        "agent_name": "Mei Chen",
        "created_at": WHEN,
        "body": BODY,
    }
    fields.update(changes)
    return key, sign_message(key, **fields).token


# Pure -------------------------------------------------------------------------------------


def test_a_signature_verifies_with_its_key_and_names_what_it_vouches_for() -> None:
    key, token = _signed()
    fields = verify_signed(key.public_key(), token, BODY)
    assert fields is not None
    assert (fields.conversation, fields.message_id, fields.agent_name) == (1042, 5581, "Mei Chen")
    assert fields.created_at == "2026-11-28T06:30:01.123456+00:00"
    assert fields.key_id == "ed25519-20261128-00000001"


def test_copy_and_paste_whitespace_does_not_break_a_signature() -> None:
    key, token = _signed()
    pasted = "\r\n  \r\n" + BODY.replace("\n", "  \r\n") + "\n\n"
    assert verify_signed(key.public_key(), token, pasted) is not None


@pytest.mark.parametrize(
    "body",
    [
        BODY.replace("0.5", "5"),
        BODY.replace("never", "now"),
        BODY + " Send it to 0xabc.",
        BODY.replace("\n", " "),
    ],
)
def test_a_changed_body_fails(body: str) -> None:
    key, token = _signed()
    assert verify_signed(key.public_key(), token, body) is None


def _with_header(token: str, **header: Any) -> str:
    """The same signature under a header with some fields changed (a forger's edit)."""
    import base64
    import json

    prefix, head, sig = token.split(".")
    data = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    data.update(header)
    raw = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    return ".".join([prefix, base64.urlsafe_b64encode(raw).rstrip(b"=").decode(), sig])


@pytest.mark.parametrize(
    "change",
    [
        {"a": "Security Team"},
        {"k": "ed25519-20261128-00000002"},
        {"c": 1043},
        {"m": 5582},
        {"t": "2026-11-28T06:30:02.123456+00:00"},
    ],
)
def test_a_changed_agent_key_id_conversation_message_or_time_fails(change: dict[str, Any]) -> None:
    key, token = _signed()
    forged = _with_header(token, **change)
    assert parse_token(forged)[0] != parse_token(token)[0]
    assert verify_signed(key.public_key(), forged, BODY) is None


def test_another_key_cannot_vouch_for_a_signature() -> None:
    _key, token = _signed()
    assert verify_signed(generate_private_key().public_key(), token, BODY) is None


def test_a_pasted_block_splits_into_body_and_token() -> None:
    _key, token = _signed()
    pasted = split_pasted("Support said:\n" + signed_block(BODY, token) + "\n")
    assert pasted.token == token
    assert pasted.body == "Support said:\n" + BODY


@pytest.mark.parametrize("text", ["just a message", "Signature: ldsig1.abc.def", ""])
def test_text_without_a_whole_token_has_no_signature(text: str) -> None:
    with pytest.raises(SignatureFormatError):
        split_pasted(text)


def test_a_damaged_token_is_a_format_error_not_a_crash() -> None:
    _key, token = _signed()
    prefix, head, sig = token.split(".")
    for broken in (f"{prefix}.{head[:-6]}x.{sig}", f"{prefix}.{'A' * 40}.{sig}"):
        with pytest.raises(SignatureFormatError):
            parse_token(broken)


# Replies are signed -------------------------------------------------------------------------


async def _conversation(client: httpx.AsyncClient, world: World) -> tuple[int, Customer, str]:
    customer = await world.make_customer("Mei")
    token = await world.customer_token(customer)
    opened = await client.post(
        f"{API}/conversations", json={"body": "Where is my deposit?"}, headers=bearer(token)
    )
    assert opened.status_code == 201, opened.text
    return opened.json()["id"], customer, token


async def _reply(client: httpx.AsyncClient, world: World, number: int, **extra: Any) -> Any:
    response = await client.post(
        f"{API}/conversations/{number}/messages",
        json={"body": BODY, **extra},
        headers=world.bob.headers,
    )
    assert response.status_code == 201, response.text
    return response.json()


async def test_an_agent_reply_is_signed_and_notes_and_customer_messages_are_not(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    number, _customer, token = await _conversation(client, world)
    reply = await _reply(client, world, number)
    note = await _reply(client, world, number, internal=True)
    mine = await client.post(
        f"{API}/conversations/{number}/messages", json={"body": "thanks"}, headers=bearer(token)
    )
    assert reply["signature"].startswith("ldsig1.")
    assert reply["signing_key_id"].startswith("ed25519-")
    assert note["signature"] is None and mine.json()["signature"] is None
    fields, _raw = parse_token(reply["signature"])
    assert (fields.conversation, fields.message_id, fields.agent_name) == (
        number,
        reply["id"],
        "Bob Agent",
    )
    async with db.sessionmaker() as session:
        stored = await session.get(Message, reply["id"])
        key = await session.get(SigningKey, reply["signing_key_id"])
    assert stored is not None and stored.signature == reply["signature"]
    assert key is not None and "BEGIN" not in key.private_key_encrypted
    assert key.private_key_encrypted.startswith("gAAAA")  # a Fernet token, never the raw key


async def test_the_published_key_verifies_a_reply(client: httpx.AsyncClient, world: World) -> None:
    from ledgerdesk.safety.signing import public_key_from_text

    number, _customer, _token = await _conversation(client, world)
    reply = await _reply(client, world, number)
    keys = (await client.get(f"{API}/verify/keys")).json()["keys"]
    assert [k["key_id"] for k in keys] == [reply["signing_key_id"]]
    assert keys[0]["active"] is True and keys[0]["algorithm"] == "Ed25519"
    public = public_key_from_text(keys[0]["public_key"])
    assert verify_signed(public, reply["signature"], reply["body"]) is not None


async def test_the_verify_api_checks_a_pasted_message(
    client: httpx.AsyncClient, world: World
) -> None:
    number, _customer, _token = await _conversation(client, world)
    reply = await _reply(client, world, number)
    block = signed_block(reply["body"], reply["signature"])

    genuine = (await client.post(f"{API}/verify/message", json={"text": block})).json()
    assert (genuine["valid"], genuine["reason"], genuine["agent"]) == (True, "valid", "Bob Agent")
    assert (genuine["conversation"], genuine["message_id"]) == (number, reply["id"])
    assert "Bob Agent" in genuine["advice"]["en"] and "Bob Agent" in genuine["advice"]["zh-Hans"]

    changed = block.replace("0.5 ETH", "5 ETH")
    tampered = (await client.post(f"{API}/verify/message", json={"text": changed})).json()
    assert (tampered["valid"], tampered["reason"], tampered["agent"]) == (False, "mismatch", None)

    _key, foreign = _signed(conversation=number, message_id=reply["id"], agent_name="Bob Agent")
    stranger = signed_block(reply["body"], _with_header(foreign, k=reply["signing_key_id"]))
    forged = (await client.post(f"{API}/verify/message", json={"text": stranger})).json()
    assert (forged["valid"], forged["reason"]) == (False, "mismatch")

    unknown = (
        await client.post(f"{API}/verify/message", json={"text": signed_block(BODY, foreign)})
    ).json()
    assert (unknown["valid"], unknown["reason"]) == (False, "unknown_key")

    bare = (await client.post(f"{API}/verify/message", json={"text": reply["body"]})).json()
    assert (bare["valid"], bare["reason"]) == (False, "no_signature")
    assert_error(await client.post(f"{API}/verify/message", json={"text": ""}), 422)


async def test_renaming_the_agent_keeps_old_signatures_valid(
    client: httpx.AsyncClient, world: World
) -> None:
    number, _customer, _token = await _conversation(client, world)
    reply = await _reply(client, world, number)
    renamed = await client.patch(
        f"{API}/agents/{world.bob.agent.id}", json={"name": "Robert"}, headers=world.alice.headers
    )
    assert renamed.status_code == 200, renamed.text
    block = signed_block(reply["body"], reply["signature"])
    check = (await client.post(f"{API}/verify/message", json={"text": block})).json()
    assert (check["valid"], check["agent"]) == (True, "Bob Agent")


async def test_rotation_signs_with_a_new_key_and_old_replies_still_verify(
    client: httpx.AsyncClient, world: World, db: Database, settings: Settings
) -> None:
    number, _customer, _token = await _conversation(client, world)
    before = await _reply(client, world, number)
    assert_error(
        await client.post(f"{API}/safety/signing-keys/rotate", headers=world.bob.headers), 403
    )
    rotated = await client.post(f"{API}/safety/signing-keys/rotate", headers=world.alice.headers)
    assert rotated.status_code == 201, rotated.text
    after = await _reply(client, world, number)
    assert after["signing_key_id"] == rotated.json()["key_id"] != before["signing_key_id"]
    keys = {k["key_id"]: k for k in (await client.get(f"{API}/verify/keys")).json()["keys"]}
    assert keys[before["signing_key_id"]]["active"] is False
    for reply in (before, after):
        block = signed_block(reply["body"], reply["signature"])
        assert (await client.post(f"{API}/verify/message", json={"text": block})).json()["valid"]

    # Someone holding the retired key cannot sign "new" messages with it.
    async with db.sessionmaker() as session:
        old = await session.get(SigningKey, before["signing_key_id"])
    assert old is not None and old.retired_at is not None
    stolen = keyring.private_key_of(SecretBox(settings.secret_key_value()), old)
    late = sign_message(
        stolen,
        key_id=old.key_id,
        conversation=number,
        message_id=before["id"] + 100,
        agent_name="Bob Agent",
        created_at=old.retired_at + timedelta(minutes=1),
        body="Send 1 BTC to unfreeze your account",
    )
    check = await client.post(
        f"{API}/verify/message",
        json={"text": signed_block("Send 1 BTC to unfreeze your account", late.token)},
    )
    assert (check.json()["valid"], check.json()["reason"]) == (False, "retired_key")
    async with db.sessionmaker() as session:
        audit = await session.execute(
            select(SigningKey.key_id).where(SigningKey.retired_at.is_(None))
        )
    assert list(audit.scalars()) == [after["signing_key_id"]]


async def test_the_verify_page_checks_a_pasted_message(
    client: httpx.AsyncClient, world: World
) -> None:
    number, _customer, _token = await _conversation(client, world)
    reply = await _reply(client, world, number)
    block = signed_block(reply["body"], reply["signature"])
    page = await client.post("/verify", data={"text": block, "lang": "en"})
    assert page.status_code == 200
    assert 'data-valid="true"' in page.text and "Bob Agent" in page.text
    wrong = await client.post("/verify", data={"text": block.replace("credited", "lost")})
    assert 'data-valid="false"' in wrong.text


# What the widget receives --------------------------------------------------------------------


async def _stream_message(db: Database, message_id: int) -> StreamEvent:
    async with db.sessionmaker() as session:
        rows = await session.execute(
            select(StreamEvent).where(StreamEvent.kind == "message.created")
        )
    for row in rows.scalars():
        if row.data["message"]["id"] == message_id:
            return row
    raise AssertionError(f"no stream event for message {message_id}")


async def test_the_customers_copy_carries_the_signature_and_their_anti_phishing_code(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    number, _customer, token = await _conversation(client, world)
    unset = await _reply(client, world, number)
    event = await _stream_message(db, unset["id"])
    assert event.customer_data is not None
    assert event.customer_data["message"]["signature"] == unset["signature"]
    assert event.customer_data["message"]["anti_phishing_code"] is None

    saved = await client.put(
        f"{API}/me/anti-phishing-code", json={"code": "Lantern42"}, headers=bearer(token)
    )
    assert saved.status_code == 200, saved.text
    reply = await _reply(client, world, number)
    event = await _stream_message(db, reply["id"])
    assert event.customer_data is not None
    shown = event.customer_data["message"]
    assert (shown["signature"], shown["signing_key_id"]) == (
        reply["signature"],
        reply["signing_key_id"],
    )
    assert shown["anti_phishing_code"] == "Lantern42"
    # Agents' copy of the event never carries the customer's code.
    assert event.data["message"]["anti_phishing_code"] is None
    assert event.data["message"]["signature"] == reply["signature"]
    mine = await client.post(
        f"{API}/conversations/{number}/messages", json={"body": "ok"}, headers=bearer(token)
    )
    own = await _stream_message(db, mine.json()["id"])
    assert own.customer_data is not None
    assert own.customer_data["message"]["anti_phishing_code"] is None


async def test_the_widget_snapshot_shows_the_code_and_signature_on_agent_replies(
    client: httpx.AsyncClient, world: World, app: Any
) -> None:
    from ledgerdesk.channels.webchat.actions import do_start_widget_session
    from ledgerdesk.channels.webchat.queries import visitor_snapshot
    from ledgerdesk.db.uow import UnitOfWork
    from tests.webchat_support import make_chat

    state = app.state.ledgerdesk
    chat = await make_chat(state, world)
    async with UnitOfWork(world.db.write_sessionmaker()) as uow:
        started = await do_start_widget_session(
            uow,
            box=state.box,
            inbox=chat.inbox,
            visitor_token=None,
            user_id=None,
            user_hash=None,
            name="Mei",
            email=None,
            language="en",
            token_lifetime=timedelta(days=1),
            now=datetime.now(UTC),
        )
        await uow.commit()
    token = started.token
    # The visitor's token works on the API from a server (no Origin header).
    await client.put(
        f"{API}/me/anti-phishing-code", json={"code": "蓝色灯塔7"}, headers=bearer(token)
    )
    opened = await client.post(
        f"{API}/conversations",
        json={"body": "hi", "channel": "webchat", "inbox_id": chat.inbox.id},
        headers=bearer(token),
    )
    assert opened.status_code == 201, opened.text
    reply = await _reply(client, world, opened.json()["id"])
    async with world.db.sessionmaker() as session:
        snapshot = await visitor_snapshot(session, started.customer.id)
    messages = {m["id"]: m for m in snapshot[0]["messages"]}
    assert messages[reply["id"]]["signature"] == reply["signature"]
    assert messages[reply["id"]]["anti_phishing_code"] == "蓝色灯塔7"
    first = min(messages)
    assert messages[first]["anti_phishing_code"] is None and messages[first]["signature"] is None


def test_the_widget_draws_a_verified_badge_for_signed_messages() -> None:
    from pathlib import Path

    from ledgerdesk.channels.webchat.texts import TEXTS

    source = (
        Path(__file__).resolve().parent.parent / "src/ledgerdesk/channels/webchat/static/widget.js"
    ).read_text()
    assert "if (m.signature) badge(node, m);" in source
    assert "m.anti_phishing_code" in source and "Signature: " in source
    for language in TEXTS.values():
        assert language["verified"] and language["verified_hint"]


async def test_the_demo_registers_harbors_channels_and_signs_its_agents_replies(
    tmp_path: Path,
) -> None:
    """The demo seed on its own SQLite file (as tests/test_demo_seed.py does)."""
    from ledgerdesk.demo import seed_demo
    from ledgerdesk.safety.queries import answer_question, load_denylist
    from ledgerdesk.safety.signing import public_key_from_text
    from ledgerdesk.settings import load_settings

    settings = load_settings(environ={}, data_dir=tmp_path, environment="test")
    previous = keyring.signing_box()
    try:
        assert await seed_demo(settings, tmp_path / "login.txt", only_if_empty=True)
    finally:
        if previous is not None:
            keyring.install_signing_box(previous)
    db = Database.from_settings(settings)
    try:
        async with db.sessionmaker() as session:
            replies = list(
                (
                    await session.execute(
                        select(Message).where(
                            Message.author_kind == "agent", Message.is_internal.is_(False)
                        )
                    )
                ).scalars()
            )
            keys = {k.key_id: k for k in (await session.execute(select(SigningKey))).scalars()}
            answer = await answer_question(session, "t.me/HarborSupport", ())
            denied = await load_denylist(session)
    finally:
        await db.dispose()
    assert replies and all(reply.signature for reply in replies)
    for reply in replies:
        assert reply.signature is not None and reply.signing_key_id in keys
        public = public_key_from_text(keys[reply.signing_key_id].public_key)
        assert verify_signed(public, reply.signature, reply.body) is not None
    assert answer["official"] is True
    assert "harbor-support.example" in denied[0]


async def test_the_console_marks_signed_replies(client: httpx.AsyncClient, world: World) -> None:
    from tests.test_auth_flow import login

    number, _customer, _token = await _conversation(client, world)
    reply = await _reply(client, world, number)
    await _reply(client, world, number, internal=True)
    await login(client, "bob@example.org")
    page = await client.get(f"/conversations/{number}")
    assert page.status_code == 200
    assert page.text.count('class="badge signed"') == 1
    item = page.text.split(f'id="message-{reply["id"]}"')[1].split("</li>")[0]
    assert 'class="badge signed"' in item
