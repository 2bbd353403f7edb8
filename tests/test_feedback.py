"""Satisfaction surveys and follow-ups on a real database: scheduled when a conversation
is solved, sent by their jobs only once the delay has passed, cancelled on reopen, one
answer per conversation, changeable for a while, links that cannot be forged or replayed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import update

from ledgerdesk.db.base import utcnow
from ledgerdesk.db.engine import Database
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.events.bus import MemoryEventBus
from ledgerdesk.feedback.actions import FOLLOW_UP_JOB, SEND_SURVEY_JOB
from ledgerdesk.feedback.models import Survey, SurveyStatus
from ledgerdesk.feedback.sending import do_send_survey
from ledgerdesk.feedback.tokens import make_token
from ledgerdesk.jobs.models import CANCELLED, DONE, QUEUED
from ledgerdesk.settings import Settings
from tests.api_support import API, assert_error, bearer
from tests.conftest import World
from tests.feedback_support import (
    conversation_of,
    events_of,
    jobs_of,
    link_token,
    message_ids,
    messages_of,
    open_conversation,
    put_settings,
    run_due_feedback_jobs,
    set_status,
    survey_of,
)
from tests.jobs_support import harness

SECRET = "test-secret-key-that-is-long-enough-0123456789"  # the settings fixture's


async def _solved_and_sent(
    client: httpx.AsyncClient,
    world: World,
    settings: Settings,
    bus: MemoryEventBus,
    **fields: Any,
) -> tuple[int, str]:
    """An email conversation, solved, its survey sent: (conversation id, link token)."""
    dana = await world.make_customer("Dana")
    conversation_id = await open_conversation(client, world.bob.headers, dana, **fields)
    await set_status(client, world.bob.headers, conversation_id, "solved")
    later = utcnow() + timedelta(minutes=31)
    assert await run_due_feedback_jobs(world.db, settings, bus, now=later) == [SEND_SURVEY_JOB]
    return conversation_id, link_token((await messages_of(world.db, conversation_id))[-1].body)


async def _answer(client: httpx.AsyncClient, token: str, **body: Any) -> httpx.Response:
    return await client.post(f"{API}/feedback/surveys/{token}", json=body)


# Scheduling --------------------------------------------------------------------------


async def test_solving_schedules_one_survey_job_at_the_configured_delay(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    await put_settings(client, world.alice.headers, survey_delay_minutes=45)
    dana = await world.make_customer("Dana")
    conversation_id = await open_conversation(client, world.bob.headers, dana)
    assert await survey_of(db, conversation_id) is None, "no survey before it is solved"

    await set_status(client, world.bob.headers, conversation_id, "solved")

    conversation = await conversation_of(db, conversation_id)
    survey = await survey_of(db, conversation_id)
    assert survey is not None and conversation.solved_at is not None
    assert survey.status == SurveyStatus.SCHEDULED
    assert survey.rating is None and survey.answered_at is None
    assert survey.customer_id == dana.id and survey.channel == "email"
    assert survey.scheduled_for == conversation.solved_at + timedelta(minutes=45)
    (job,) = await jobs_of(db, conversation_id)
    assert job.kind == SEND_SURVEY_JOB and job.status == QUEUED
    assert job.run_at == survey.scheduled_for
    assert job.payload == {"conversation_id": conversation_id, "nonce": survey.nonce}


async def test_the_survey_job_fires_only_after_the_delay(
    client: httpx.AsyncClient, world: World, db: Database, settings: Settings, bus: MemoryEventBus
) -> None:
    dana = await world.make_customer("Dana")
    conversation_id = await open_conversation(client, world.bob.headers, dana)
    await set_status(client, world.bob.headers, conversation_id, "solved")
    before = await message_ids(db, conversation_id)

    assert await run_due_feedback_jobs(db, settings, bus) == []
    assert (
        await run_due_feedback_jobs(db, settings, bus, now=utcnow() + timedelta(minutes=29)) == []
    )
    survey = await survey_of(db, conversation_id)
    assert survey is not None and survey.status == SurveyStatus.SCHEDULED
    assert await message_ids(db, conversation_id) == before

    ran = await run_due_feedback_jobs(db, settings, bus, now=utcnow() + timedelta(minutes=31))

    assert ran == [SEND_SURVEY_JOB]
    survey = await survey_of(db, conversation_id)
    assert survey is not None and survey.status == SurveyStatus.SENT and survey.sent_at
    messages = await messages_of(db, conversation_id)
    assert len(messages) == len(before) + 1
    link = messages[-1]
    assert link.author_kind == "system" and not link.is_internal
    assert "http://127.0.0.1:8000/survey/v1." in link.body
    assert await events_of(db, conversation_id, "survey.sent") == [{"via": "link"}]
    # The conversation stays solved: a system message does not reopen it.
    assert (await conversation_of(db, conversation_id)).status == "solved"


async def test_the_embedded_worker_sends_a_due_survey_and_leaves_a_later_one_waiting(
    client: httpx.AsyncClient, world: World, db: Database, settings: Settings, bus: MemoryEventBus
) -> None:
    await put_settings(client, world.alice.headers, survey_delay_minutes=0)
    dana = await world.make_customer("Dana")
    now_id = await open_conversation(client, world.bob.headers, dana)
    await set_status(client, world.bob.headers, now_id, "solved")
    await put_settings(client, world.alice.headers, survey_delay_minutes=60)
    later_id = await open_conversation(client, world.bob.headers, dana)
    await set_status(client, world.bob.headers, later_id, "solved")

    async with harness(db, settings, bus, "sql", None) as jobs:
        await jobs.start()
        (due,) = await jobs_of(db, now_id)
        assert (await jobs.wait_finished(due.id)).status == DONE
        await jobs.stop()

    sent = await survey_of(db, now_id)
    waiting = await survey_of(db, later_id)
    assert sent is not None and sent.status == SurveyStatus.SENT
    assert waiting is not None and waiting.status == SurveyStatus.SCHEDULED
    assert [job.status for job in await jobs_of(db, later_id)] == [QUEUED]


async def test_reopening_cancels_the_survey_and_its_job(
    client: httpx.AsyncClient, world: World, db: Database, settings: Settings, bus: MemoryEventBus
) -> None:
    dana = await world.make_customer("Dana")
    conversation_id = await open_conversation(client, world.bob.headers, dana)
    await set_status(client, world.bob.headers, conversation_id, "solved")

    await set_status(client, world.bob.headers, conversation_id, "open")

    survey = await survey_of(db, conversation_id)
    assert survey is not None and survey.status == SurveyStatus.CANCELLED
    assert [job.status for job in await jobs_of(db, conversation_id)] == [CANCELLED]
    history = await client.get(
        f"{API}/conversations/{conversation_id}/events", headers=world.bob.headers
    )
    assert history.json()[-1]["kind"] == "status_changed", "the reopen stays the last word"
    before = await message_ids(db, conversation_id)
    assert await run_due_feedback_jobs(db, settings, bus, now=utcnow() + timedelta(days=1)) == []
    assert await message_ids(db, conversation_id) == before


async def test_a_job_already_taken_when_the_conversation_reopened_sends_nothing(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    dana = await world.make_customer("Dana")
    conversation_id = await open_conversation(client, world.bob.headers, dana)
    await set_status(client, world.bob.headers, conversation_id, "solved")
    (job,) = await jobs_of(db, conversation_id)
    await set_status(client, world.bob.headers, conversation_id, "open")
    before = await message_ids(db, conversation_id)

    # The worker had claimed the job before the reopen cancelled it: it runs anyway.
    async with db.writer() as session, UnitOfWork(session) as uow:
        outcome = await do_send_survey(
            uow,
            conversation_id=conversation_id,
            nonce=str(job.payload["nonce"]),
            secret_key=SECRET,
            public_url="http://127.0.0.1:8000",
        )
        await uow.commit()

    assert outcome == "not_scheduled"
    assert await message_ids(db, conversation_id) == before
    survey = await survey_of(db, conversation_id)
    assert survey is not None and survey.status == SurveyStatus.CANCELLED


async def test_a_conversation_solved_and_reopened_in_one_transaction_gets_no_survey(
    world: World, db: Database
) -> None:
    from ledgerdesk.accounts.principal import Principal
    from ledgerdesk.conversations.actions import do_create_conversation, do_update_conversation

    dana = await world.make_customer("Dana")
    async with db.writer() as session, UnitOfWork(session) as uow:
        bob = Principal(agent=world.bob.agent)
        conversation, _ = await do_create_conversation(
            uow, actor=bob, customer=dana, body="hello", channel="email"
        )
        await do_update_conversation(uow, actor=bob, conversation=conversation, status="solved")
        await do_update_conversation(uow, actor=bob, conversation=conversation, status="open")
        await uow.commit()

    assert await survey_of(db, conversation.id) is None
    assert [job.status for job in await jobs_of(db, conversation.id)] == []


async def test_surveys_turned_off_schedule_nothing(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    await put_settings(client, world.alice.headers, survey_enabled=False)
    dana = await world.make_customer("Dana")
    conversation_id = await open_conversation(client, world.bob.headers, dana)
    await set_status(client, world.bob.headers, conversation_id, "solved")

    assert await survey_of(db, conversation_id) is None
    assert await jobs_of(db, conversation_id) == []


# Answering by link -------------------------------------------------------------------


async def test_answering_by_link_stores_the_rating_and_tells_analytics(
    client: httpx.AsyncClient, world: World, db: Database, settings: Settings, bus: MemoryEventBus
) -> None:
    conversation_id, token = await _solved_and_sent(client, world, settings, bus)
    touched = (await conversation_of(db, conversation_id)).updated_at

    shown = await client.get(f"{API}/feedback/surveys/{token}")
    assert shown.status_code == 200, shown.text
    assert shown.json()["status"] == "sent" and shown.json()["rating"] is None
    response = await _answer(client, token, rating=4, comment="  Quick and friendly  ")

    assert response.status_code == 200, response.text
    assert response.json()["rating"] == 4 and response.json()["status"] == "answered"
    survey = await survey_of(db, conversation_id)
    assert survey is not None
    assert (survey.rating, survey.comment, survey.status) == (4, "Quick and friendly", "answered")
    assert survey.answered_at is not None and survey.changeable_until is not None
    assert survey.changeable_until - survey.answered_at == timedelta(hours=72)
    assert await events_of(db, conversation_id, "survey.answered") == [
        {"rating": 4, "previous": None}
    ]
    conversation = await conversation_of(db, conversation_id)
    assert conversation.updated_at > touched and conversation.updated_at == survey.answered_at


async def test_changing_the_answer_within_the_window_updates_the_one_row(
    client: httpx.AsyncClient, world: World, db: Database, settings: Settings, bus: MemoryEventBus
) -> None:
    conversation_id, token = await _solved_and_sent(client, world, settings, bus)
    assert (await _answer(client, token, rating=2)).status_code == 200
    first = await survey_of(db, conversation_id)

    changed = await _answer(client, token, rating=5, comment="They called me back")
    again = await _answer(client, token, rating=5, comment="They called me back")

    assert changed.status_code == 200 and again.status_code == 200
    survey = await survey_of(db, conversation_id)
    assert survey is not None and first is not None
    assert survey.id == first.id and (survey.rating, survey.comment) == (5, "They called me back")
    assert survey.answered_at == first.answered_at, "the first answer's time is kept"
    assert await events_of(db, conversation_id, "survey.answered") == [
        {"rating": 2, "previous": None},
        {"rating": 5, "previous": 2},
    ], "the same answer sent twice is recorded once"


async def test_after_the_change_window_a_change_is_a_409_and_the_answer_stays(
    client: httpx.AsyncClient, world: World, db: Database, settings: Settings, bus: MemoryEventBus
) -> None:
    conversation_id, token = await _solved_and_sent(client, world, settings, bus)
    assert (await _answer(client, token, rating=3)).status_code == 200
    async with db.writer() as session:
        await session.execute(
            update(Survey)
            .where(Survey.conversation_id == conversation_id)
            .values(changeable_until=utcnow() - timedelta(seconds=1))
        )
        await session.commit()

    response = await _answer(client, token, rating=1, comment="changed my mind")

    assert_error(response, 409, "can no longer be changed")
    survey = await survey_of(db, conversation_id)
    assert survey is not None and (survey.rating, survey.comment) == (3, None)


async def test_a_zero_hour_window_allows_no_change_at_all(
    client: httpx.AsyncClient, world: World, db: Database, settings: Settings, bus: MemoryEventBus
) -> None:
    await put_settings(client, world.alice.headers, change_window_hours=0)
    conversation_id, token = await _solved_and_sent(client, world, settings, bus)
    assert (await _answer(client, token, rating=5)).status_code == 200

    assert_error(await _answer(client, token, rating=1), 409, "can no longer be changed")
    survey = await survey_of(db, conversation_id)
    assert survey is not None and survey.rating == 5


async def test_forged_and_tampered_links_are_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, world: World, db: Database, settings: Settings, bus: MemoryEventBus
) -> None:
    conversation_id, token = await _solved_and_sent(client, world, settings, bus)
    survey = await survey_of(db, conversation_id)
    assert survey is not None
    version, cid, nonce, expiry, signature = token.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    forged = [
        ".".join([version, cid, nonce, expiry, flipped]),  # signature changed
        ".".join([version, str(int(cid) + 1), nonce, expiry, signature]),  # other conversation
        ".".join([version, cid, nonce, str(int(expiry) + 86400), signature]),  # longer life
        make_token(
            "another-secret-key-of-enough-length-0123",
            int(cid),
            nonce,
            utcnow() + timedelta(days=1),
        ),
        token[:-5],
        "v1.1.abc.1.x",
        "not-a-token",
    ]
    for bad in forged:
        response = await _answer(client, bad, rating=5)
        assert response.status_code in (403, 422), (bad, response.text)
        if response.status_code == 403:
            assert_error(response, 403, "not valid")
        page = await client.get(f"/survey/{bad}")
        assert page.status_code in (403, 422), bad
        assert "not valid" in page.text
    assert_error(await _answer(client, "x" * 500, rating=5), 422)
    survey_after = await survey_of(db, conversation_id)
    assert survey_after is not None and survey_after.rating is None
    assert await events_of(db, conversation_id, "survey.answered") == []


async def test_an_expired_link_is_gone_even_when_genuine(
    client: httpx.AsyncClient, world: World, db: Database, settings: Settings, bus: MemoryEventBus
) -> None:
    conversation_id, _ = await _solved_and_sent(client, world, settings, bus)
    survey = await survey_of(db, conversation_id)
    assert survey is not None
    expired = make_token(SECRET, conversation_id, survey.nonce, utcnow() - timedelta(seconds=1))

    assert_error(await _answer(client, expired, rating=5), 410, "expired")
    assert (await survey_of(db, conversation_id)).rating is None  # type: ignore[union-attr]


async def test_a_link_of_an_earlier_round_is_refused_after_reopen_and_solve_again(
    client: httpx.AsyncClient, world: World, db: Database, settings: Settings, bus: MemoryEventBus
) -> None:
    conversation_id, old = await _solved_and_sent(client, world, settings, bus)
    await set_status(client, world.bob.headers, conversation_id, "open")
    assert_error(await _answer(client, old, rating=5), 409, "reopened")

    await set_status(client, world.bob.headers, conversation_id, "solved")
    later = utcnow() + timedelta(minutes=31)
    assert await run_due_feedback_jobs(db, settings, bus, now=later) == [SEND_SURVEY_JOB]
    new = link_token((await messages_of(db, conversation_id))[-1].body)

    assert new != old
    assert_error(await _answer(client, old, rating=1), 410, "replaced by a newer one")
    assert (await _answer(client, new, rating=4)).status_code == 200
    survey = await survey_of(db, conversation_id)
    assert survey is not None and survey.rating == 4


async def test_an_answered_survey_is_not_asked_again_when_solved_again(
    client: httpx.AsyncClient, world: World, db: Database, settings: Settings, bus: MemoryEventBus
) -> None:
    conversation_id, token = await _solved_and_sent(client, world, settings, bus)
    assert (await _answer(client, token, rating=5)).status_code == 200
    sent_messages = len(await messages_of(db, conversation_id))

    await set_status(client, world.bob.headers, conversation_id, "open")
    await set_status(client, world.bob.headers, conversation_id, "solved")
    ran = await run_due_feedback_jobs(db, settings, bus, now=utcnow() + timedelta(days=1))

    assert ran == []
    survey = await survey_of(db, conversation_id)
    assert survey is not None and (survey.status, survey.rating) == ("answered", 5)
    assert len(await messages_of(db, conversation_id)) == sent_messages
    assert (await _answer(client, token, rating=4)).status_code == 200, "the link still works"


async def test_bad_answers_are_refused_with_4xx_and_the_stored_answer_stays(
    client: httpx.AsyncClient, world: World, db: Database, settings: Settings, bus: MemoryEventBus
) -> None:
    conversation_id, token = await _solved_and_sent(client, world, settings, bus)
    assert (await _answer(client, token, rating=4, comment="good")).status_code == 200

    for body in (
        {"rating": 0},
        {"rating": 6},
        {"rating": -1},
        {"rating": "five"},
        {"rating": 4.5},
        {"rating": None},
        {},
        {"rating": 3, "comment": "x" * 2001},
        {"rating": 3, "comment": "nul\x00byte"},
        {"rating": 3, "extra": 1},
    ):
        response = await _answer(client, token, **body)
        assert response.status_code == 422, (body, response.text)
    not_json = await client.post(
        f"{API}/feedback/surveys/{token}",
        content=b"rating=5",
        headers={"content-type": "text/plain"},
    )
    assert not_json.status_code == 422

    survey = await survey_of(db, conversation_id)
    assert survey is not None and (survey.rating, survey.comment) == (4, "good")
    assert len(await events_of(db, conversation_id, "survey.answered")) == 1


# Settings -----------------------------------------------------------------------------


async def test_only_admins_read_and_change_the_settings_and_bad_values_are_422(
    client: httpx.AsyncClient, world: World
) -> None:
    defaults = await client.get(f"{API}/feedback/settings", headers=world.alice.headers)
    assert defaults.status_code == 200
    assert defaults.json()["survey_enabled"] is True
    assert defaults.json()["follow_up_texts"]["zh"]
    for user in (world.bob, world.victor):
        assert_error(await client.get(f"{API}/feedback/settings", headers=user.headers), 403)
        refused = await client.put(
            f"{API}/feedback/settings", json=defaults.json(), headers=user.headers
        )
        assert_error(refused, 403)
    assert_error(await client.get(f"{API}/feedback/settings"), 401)
    for bad in (
        {"survey_delay_minutes": -1},
        {"survey_delay_minutes": 7 * 24 * 60 + 1},
        {"change_window_hours": 721},
        {"follow_up_days": 0},
        {"follow_up_categories": [""]},
        {"follow_up_categories": ["x" * 61]},
        {"follow_up_texts": {"en": "", "zh": "好"}},
        {"follow_up_texts": {"en": "hi", "zh": "好", "fr": "salut"}},
        {"unknown": True},
    ):
        response = await client.put(
            f"{API}/feedback/settings", json={**defaults.json(), **bad}, headers=world.alice.headers
        )
        assert response.status_code == 422, (bad, response.text)

    saved = await client.put(
        f"{API}/feedback/settings",
        json={
            **defaults.json(),
            "follow_up_enabled": True,
            "follow_up_categories": [" withdrawal "],
        },
        headers=world.alice.headers,
    )
    assert saved.status_code == 200
    again = await client.get(f"{API}/feedback/settings", headers=world.alice.headers)
    assert again.json()["follow_up_categories"] == ["withdrawal"]
    assert again.json()["follow_up_enabled"] is True


async def test_agents_see_a_conversations_survey_but_customers_of_others_do_not(
    client: httpx.AsyncClient, world: World, db: Database, settings: Settings, bus: MemoryEventBus
) -> None:
    conversation_id, token = await _solved_and_sent(client, world, settings, bus)
    assert (await _answer(client, token, rating=2, comment="slow")).status_code == 200

    seen = await client.get(
        f"{API}/feedback/conversations/{conversation_id}/survey", headers=world.bob.headers
    )
    assert seen.status_code == 200
    assert (seen.json()["rating"], seen.json()["comment"]) == (2, "slow")
    erin = await world.make_customer("Erin")
    as_erin = bearer(await world.customer_token(erin))
    refused = await client.get(
        f"{API}/feedback/conversations/{conversation_id}/survey", headers=as_erin
    )
    assert refused.status_code in (403, 404)


# Follow-ups ---------------------------------------------------------------------------


async def test_a_follow_up_is_posted_after_n_days_for_a_chosen_category_and_a_reply_reopens(
    client: httpx.AsyncClient, world: World, db: Database, settings: Settings, bus: MemoryEventBus
) -> None:
    await put_settings(
        client,
        world.alice.headers,
        survey_enabled=False,
        follow_up_enabled=True,
        follow_up_days=3,
        follow_up_categories=["withdrawal"],
    )
    dana = await world.make_customer("Dana")
    conversation_id = await open_conversation(
        client, world.bob.headers, dana, custom_fields={"category": "withdrawal"}
    )
    await set_status(client, world.bob.headers, conversation_id, "solved")
    (job,) = await jobs_of(db, conversation_id)
    solved_at = (await conversation_of(db, conversation_id)).solved_at
    assert solved_at is not None
    assert job.kind == FOLLOW_UP_JOB and job.run_at == solved_at + timedelta(days=3)

    assert await run_due_feedback_jobs(db, settings, bus, now=utcnow() + timedelta(days=2)) == []
    ran = await run_due_feedback_jobs(
        db, settings, bus, now=utcnow() + timedelta(days=3, seconds=5)
    )

    assert ran == [FOLLOW_UP_JOB]
    check_in = (await messages_of(db, conversation_id))[-1]
    assert check_in.author_kind == "system" and check_in.body.startswith("Hi, we are checking in")
    (event,) = await events_of(db, conversation_id, "follow_up.sent")
    assert event["message_id"] == check_in.id and event["days"] == 3
    assert (await conversation_of(db, conversation_id)).status == "solved"

    # The customer answers the check-in: the conversation needs the team again.
    as_dana = bearer(await world.customer_token(dana))
    reply = await client.post(
        f"{API}/conversations/{conversation_id}/messages",
        json={"body": "Actually it failed again"},
        headers=as_dana,
    )
    assert reply.status_code == 201, reply.text
    assert (await conversation_of(db, conversation_id)).status == "open"


async def test_a_follow_up_speaks_the_conversations_language(
    client: httpx.AsyncClient, world: World, db: Database, settings: Settings, bus: MemoryEventBus
) -> None:
    await put_settings(
        client,
        world.alice.headers,
        survey_enabled=False,
        follow_up_enabled=True,
        follow_up_categories=["deposit"],
        follow_up_texts={"en": "Checking in!", "zh": "回访：问题解决了吗？"},
    )
    mei = await world.make_customer("Mei")
    conversation_id = await open_conversation(
        client, world.bob.headers, mei, language="zh-CN", custom_fields={"category": "deposit"}
    )
    await set_status(client, world.bob.headers, conversation_id, "solved")

    await run_due_feedback_jobs(db, settings, bus, now=utcnow() + timedelta(days=4))

    assert (await messages_of(db, conversation_id))[-1].body == "回访：问题解决了吗？"


async def test_no_follow_up_for_other_categories_or_after_a_reopen_or_a_close(
    client: httpx.AsyncClient, world: World, db: Database, settings: Settings, bus: MemoryEventBus
) -> None:
    await put_settings(
        client,
        world.alice.headers,
        survey_enabled=False,
        follow_up_enabled=True,
        follow_up_categories=["withdrawal"],
    )
    dana = await world.make_customer("Dana")
    other = await open_conversation(
        client, world.bob.headers, dana, custom_fields={"category": "kyc"}
    )
    reopened = await open_conversation(
        client, world.bob.headers, dana, custom_fields={"category": "withdrawal"}
    )
    closed = await open_conversation(
        client, world.bob.headers, dana, custom_fields={"category": "withdrawal"}
    )
    for conversation_id in (other, reopened, closed):
        await set_status(client, world.bob.headers, conversation_id, "solved")
    assert await jobs_of(db, other) == []
    await set_status(client, world.bob.headers, reopened, "open")
    await set_status(client, world.bob.headers, closed, "closed")
    counts = {cid: len(await messages_of(db, cid)) for cid in (other, reopened, closed)}

    ran = await run_due_feedback_jobs(db, settings, bus, now=utcnow() + timedelta(days=10))

    assert ran == [FOLLOW_UP_JOB], "only the closed one's job was still queued, and it skipped"
    for conversation_id in (other, reopened, closed):
        assert len(await messages_of(db, conversation_id)) == counts[conversation_id]
        assert await events_of(db, conversation_id, "follow_up.sent") == []


async def test_a_rule_that_solves_a_conversation_schedules_its_survey_too(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    from tests.automation_support import make_rule

    await make_rule(
        client,
        world.alice.headers,
        name="Close thank-you notes",
        trigger="conversation.created",
        actions=[{"type": "set_status", "status": "solved"}],
    )
    dana = await world.make_customer("Dana")

    conversation_id = await open_conversation(client, world.bob.headers, dana)

    conversation = await conversation_of(db, conversation_id)
    assert conversation.status == "solved" and conversation.solved_at is not None
    survey = await survey_of(db, conversation_id)
    assert survey is not None and survey.status == SurveyStatus.SCHEDULED
    assert [job.kind for job in await jobs_of(db, conversation_id)] == [SEND_SURVEY_JOB]
