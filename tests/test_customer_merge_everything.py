"""A merge moves everything of the absorbed customer: satisfaction surveys, web chat
uploads (the same file from both customers included), real-time stream rows and
earlier merge pointers; every reference to ``customers.id`` is accounted for."""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from websockets.asyncio.client import connect

from ledgerdesk.channels.webchat.models import WebchatAttachment
from ledgerdesk.customers.models import Customer
from ledgerdesk.db.base import utcnow
from ledgerdesk.db.engine import Database
from ledgerdesk.db.registry import Base
from ledgerdesk.events.bus import MemoryEventBus
from ledgerdesk.feedback.actions import SEND_SURVEY_JOB
from ledgerdesk.feedback.models import SurveyStatus
from ledgerdesk.realtime.models import StreamEvent
from ledgerdesk.realtime.queries import stream_head
from ledgerdesk.settings import Settings
from tests.api_support import API, Headers
from tests.conftest import LiveServer, World
from tests.feedback_support import run_due_feedback_jobs, set_status, survey_of
from tests.webchat_support import Chat, bearer, make_chat, png_bytes, visitor

TIMEOUT = 5.0

# Every column that references customers.id, and what a merge does with it (see the
# docstring of do_merge_customers). A new one must be added here after deciding.
CUSTOMER_REFERENCES = {
    ("api_tokens", "customer_id"): "moves",
    ("conversation_events", "actor_customer_id"): "moves",
    ("conversations", "customer_id"): "moves",
    ("customer_identities", "customer_id"): "moves",
    ("customers", "merged_into_id"): "repointed at the survivor",
    ("messages", "customer_id"): "moves",
    ("surveys", "customer_id"): "moves",
    ("webchat_attachments", "customer_id"): "moves, one row per file",
}


@pytest.fixture
async def chat(app: Any, world: World) -> Chat:
    return await make_chat(app.state.ledgerdesk, world)


async def _merge(
    client: httpx.AsyncClient, headers: Headers, survivor_id: int, absorbed_id: int
) -> None:
    merged = await client.post(
        f"{API}/customers/{survivor_id}/merge", json={"other_id": absorbed_id}, headers=headers
    )
    assert merged.status_code == 200, merged.text


async def _upload(
    client: httpx.AsyncClient, token: str, data: bytes, filename: str
) -> dict[str, Any]:
    uploaded = await client.post(
        "/widget/v1/attachments",
        files={"file": (filename, data, "image/png")},
        headers=bearer(token),
    )
    assert uploaded.status_code == 201, uploaded.text
    body: dict[str, Any] = uploaded.json()
    return body


async def _uploads(db: Database) -> list[tuple[str, int, str]]:
    async with db.sessionmaker() as session:
        rows = await session.execute(
            select(
                WebchatAttachment.sha256, WebchatAttachment.customer_id, WebchatAttachment.filename
            ).order_by(WebchatAttachment.id)
        )
        return [(sha, customer_id, name) for sha, customer_id, name in rows.all()]


async def _next_event(socket: Any, kind: str) -> dict[str, Any]:
    while True:
        frame: dict[str, Any] = json.loads(await asyncio.wait_for(socket.recv(), TIMEOUT))
        if frame["type"] == "event" and frame["kind"] == kind:
            return frame


def test_every_reference_to_a_customer_is_accounted_for_by_the_merge() -> None:
    found = {
        (table.name, column.name)
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if any(fk.target_fullname == "customers.id" for fk in column.foreign_keys)
    }
    assert found == set(CUSTOMER_REFERENCES), (
        "a table references customers.id: decide in do_merge_customers whether it moves"
    )
    # Without a foreign key, and moved too.
    assert "customer_id" in Base.metadata.tables["stream_events"].columns


async def test_a_merge_moves_the_survey_to_the_survivor_and_its_widget_shows_the_card(
    app: Any,
    client: httpx.AsyncClient,
    live_server: LiveServer,
    chat: Chat,
    world: World,
    db: Database,
    settings: Settings,
    bus: MemoryEventBus,
) -> None:
    absorbed = await visitor(client, chat)
    survivor = await visitor(client, chat)
    opened = await client.post(
        f"{API}/conversations",
        json={"body": "My deposit is missing", "channel": "webchat", "channel_message_id": "m-1"},
        headers=bearer(absorbed["token"], None),
    )
    assert opened.status_code == 201, opened.text
    conversation_id = opened.json()["id"]
    await set_status(client, world.bob.headers, conversation_id, "solved")
    async with db.sessionmaker() as session:
        before_survey = await stream_head(session)
    ran = await run_due_feedback_jobs(db, settings, bus, now=utcnow() + timedelta(hours=1))
    assert ran == [SEND_SURVEY_JOB]
    sent = await survey_of(db, conversation_id)
    assert sent is not None and sent.status == SurveyStatus.SENT
    assert sent.customer_id == absorbed["customer_id"]

    await _merge(client, world.bob.headers, survivor["customer_id"], absorbed["customer_id"])

    moved = await survey_of(db, conversation_id)
    assert moved is not None and moved.customer_id == survivor["customer_id"]
    # The feedback module's read by customer (the widget's open survey cards), from the
    # survivor's own widget and from the absorbed visitor's (its token is now theirs).
    for token in (survivor["token"], absorbed["token"]):
        again = await visitor(client, chat, visitor_token=token)
        assert again["customer_id"] == survivor["customer_id"]
        assert [s["conversation_id"] for s in again["surveys"]] == [conversation_id]
    # The stream row of the card moved too: the survivor's widget resuming from before
    # the card was sent gets it.
    async with db.sessionmaker() as session:
        rows = await session.execute(
            select(StreamEvent.customer_id).where(StreamEvent.kind == "survey.requested")
        )
        assert rows.scalars().all() == [survivor["customer_id"]]
    async with connect(live_server.ws_url) as socket:
        hello = {"type": "hello", "token": survivor["token"], "last_event_id": before_survey}
        await socket.send(json.dumps(hello))
        requested = await _next_event(socket, "survey.requested")
    assert requested["data"]["survey"]["conversation_id"] == conversation_id

    # The survivor answers it from their widget.
    answer = await client.post(
        "/widget/v1/survey",
        json={"conversation_id": conversation_id, "rating": 5},
        headers=bearer(survivor["token"]),
    )
    assert answer.status_code == 200, answer.text
    answered = await survey_of(db, conversation_id)
    assert answered is not None
    assert (answered.rating, answered.customer_id) == (5, survivor["customer_id"])


async def test_a_merge_moves_uploads_and_the_survivor_fetches_and_sends_them(
    client: httpx.AsyncClient, live_server: LiveServer, chat: Chat, world: World, db: Database
) -> None:
    absorbed = await visitor(client, chat)
    survivor = await visitor(client, chat)
    receipt = png_bytes(3, 3)
    theirs = await _upload(client, absorbed["token"], receipt, "receipt.png")
    mine = await _upload(client, survivor["token"], png_bytes(4, 4), "mine.png")
    sha = hashlib.sha256(receipt).hexdigest()

    await _merge(client, world.bob.headers, survivor["customer_id"], absorbed["customer_id"])

    assert sorted(await _uploads(db)) == sorted(
        [
            (sha, survivor["customer_id"], "receipt.png"),
            (mine["url"].rsplit("/", 1)[1], survivor["customer_id"], "mine.png"),
        ]
    )
    # Through the endpoint the widget uses, with the survivor's own token and with the
    # absorbed visitor's (which now acts for the survivor).
    for token in (survivor["token"], absorbed["token"]):
        fetched = await client.get(theirs["url"], headers=bearer(token))
        assert fetched.status_code == 200, fetched.text
        assert fetched.content == receipt
    # The survivor may send the absorbed visitor's upload in a message (the send checks
    # who uploaded each file).
    async with connect(live_server.ws_url) as socket:
        await socket.send(json.dumps({"type": "hello", "token": survivor["token"]}))
        await socket.send(
            json.dumps(
                {
                    "type": "send",
                    "client_id": "with-receipt",
                    "body": "here is the receipt",
                    "attachments": [theirs],
                }
            )
        )
        while True:
            frame = json.loads(await asyncio.wait_for(socket.recv(), TIMEOUT))
            if frame["type"] in ("ack", "error"):
                break
    assert frame["type"] == "ack", frame


async def test_the_same_file_uploaded_by_both_merges_into_one_row_still_fetchable(
    client: httpx.AsyncClient, chat: Chat, world: World, db: Database
) -> None:
    absorbed = await visitor(client, chat)
    survivor = await visitor(client, chat)
    image = png_bytes(5, 5)
    other = png_bytes(6, 6)
    await _upload(client, absorbed["token"], image, "from-phone.png")
    await _upload(client, absorbed["token"], other, "other.png")
    url = (await _upload(client, survivor["token"], image, "from-laptop.png"))["url"]
    sha, other_sha = hashlib.sha256(image).hexdigest(), hashlib.sha256(other).hexdigest()

    await _merge(client, world.bob.headers, survivor["customer_id"], absorbed["customer_id"])

    assert sorted(await _uploads(db)) == sorted(
        [
            (sha, survivor["customer_id"], "from-laptop.png"),
            (other_sha, survivor["customer_id"], "other.png"),
        ]
    ), "one row per file and customer: the survivor's own row stays"
    for token in (survivor["token"], absorbed["token"]):
        fetched = await client.get(url, headers=bearer(token))
        assert fetched.status_code == 200 and fetched.content == image
    stranger = await visitor(client, chat)
    assert (await client.get(url, headers=bearer(stranger["token"]))).status_code == 404


async def test_a_second_merge_carries_what_the_first_one_brought_and_repoints_it(
    client: httpx.AsyncClient, chat: Chat, world: World, db: Database
) -> None:
    first = await visitor(client, chat)
    middle = await visitor(client, chat)
    last = await visitor(client, chat)
    image = png_bytes(7, 7)
    url = (await _upload(client, first["token"], image, "first.png"))["url"]

    await _merge(client, world.bob.headers, middle["customer_id"], first["customer_id"])
    await _merge(client, world.bob.headers, last["customer_id"], middle["customer_id"])

    async with db.sessionmaker() as session:
        pointers = await session.execute(
            select(Customer.id, Customer.merged_into_id).where(
                Customer.id.in_([first["customer_id"], middle["customer_id"]])
            )
        )
        assert dict(pointers.all()) == {
            first["customer_id"]: last["customer_id"],
            middle["customer_id"]: last["customer_id"],
        }
        left = await session.execute(
            select(func.count())
            .select_from(WebchatAttachment)
            .where(WebchatAttachment.customer_id != last["customer_id"])
        )
        assert left.scalar_one() == 0
    # The first visitor's widget (its token went middle, then last) still fetches its file.
    for token in (first["token"], last["token"]):
        fetched = await client.get(url, headers=bearer(token))
        assert fetched.status_code == 200 and fetched.content == image
