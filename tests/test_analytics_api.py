"""Analytics through the API and the console, on SQLite and PostgreSQL: hand-computed
figures over rows with known times, the previous period, drill-downs that add up to
the figures, CSV, permissions, bad input, and the refresh following new activity."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from ledgerdesk.accounts.actions import do_create_api_token
from ledgerdesk.analytics.actions import do_rebuild_analytics, do_refresh_analytics
from ledgerdesk.analytics.models import ConversationFacts, Rollup
from ledgerdesk.analytics.tasks import REFRESH_KIND
from ledgerdesk.conversations.models import Conversation, ConversationEvent, Message
from ledgerdesk.db.engine import Database
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.feedback.models import Survey
from ledgerdesk.jobs.registry import load_job_modules, periodic_jobs
from ledgerdesk.sla.models import ConversationSla, SlaPolicy
from tests.api_support import API, assert_error, bearer, count
from tests.conftest import World
from tests.test_auth_flow import login

RANGE = {"from": "2026-11-01", "to": "2026-11-07"}
OVERVIEW = f"{API}/analytics/overview"
DRILL = f"{API}/analytics/conversations"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@dataclass
class Desk:
    """The conversations of the hand-computed cases, by name."""

    ids: dict[str, int]


class Writer:
    def __init__(self, session: Any, customer_id: int, policy_id: int) -> None:
        self.session = session
        self.customer_id = customer_id
        self.policy_id = policy_id

    async def conversation(self, created: str, **fields: Any) -> Conversation:
        row = Conversation(
            subject=fields.pop("subject", "Question"),
            channel=fields.pop("channel", "email"),
            customer_id=self.customer_id,
            created_at=at(created),
            updated_at=at(created),
            **fields,
        )
        self.session.add(row)
        await self.session.flush()
        return row

    def message(
        self, conversation: Conversation, kind: str, when: str, agent_id: int | None = None
    ) -> None:
        self.session.add(
            Message(
                conversation_id=conversation.id,
                author_kind=kind,
                agent_id=agent_id,
                customer_id=self.customer_id if kind == "customer" else None,
                body="text",
                channel=conversation.channel,
                created_at=at(when),
            )
        )

    def event(self, conversation: Conversation, kind: str, when: str, **data: Any) -> None:
        self.session.add(
            ConversationEvent(
                conversation_id=conversation.id,
                kind=kind,
                actor_kind="system",
                data=data,
                created_at=at(when),
            )
        )

    def clock(self, conversation: Conversation, met: bool | None, breached: str | None) -> None:
        start = conversation.created_at
        self.session.add(
            ConversationSla(
                conversation_id=conversation.id,
                metric="first_response",
                policy_id=self.policy_id,
                target_seconds=3600,
                started_at=start,
                warn_at=start + timedelta(minutes=48),
                due_at=start + timedelta(hours=1),
                stopped_at=None if met is None else start + timedelta(minutes=30),
                met=met,
                breached_at=at(breached) if breached else None,
            )
        )

    def survey(self, conversation: Conversation, rating: int) -> None:
        self.session.add(
            Survey(
                conversation_id=conversation.id,
                customer_id=self.customer_id,
                channel=conversation.channel,
                status="answered",
                rating=rating,
                nonce=f"n{conversation.id}",
                scheduled_for=conversation.created_at,
                answered_at=conversation.created_at + timedelta(days=1),
            )
        )


async def seed(db: Database, world: World) -> Desk:
    """Five conversations, four in 2026-11-01..07 and one in the week before."""
    customer = await world.make_customer()
    bob = world.bob.agent.id
    async with db.writer() as session:
        policy = SlaPolicy(name="Default", first_response_minutes=60)
        session.add(policy)
        await session.flush()
        w = Writer(session, customer.id, policy.id)
        c1 = await w.conversation(
            "2026-11-02 10:00",
            language="en",
            custom_fields={"category": "deposits"},
            status="solved",
            solved_at=at("2026-11-02 12:00"),
            assignee_id=bob,
        )
        w.message(c1, "customer", "2026-11-02 10:00")
        w.message(c1, "agent", "2026-11-02 10:30", bob)
        w.event(c1, "status_changed", "2026-11-02 10:30", **{"from": "new", "to": "open"})
        w.event(c1, "status_changed", "2026-11-02 12:00", **{"from": "open", "to": "solved"})
        w.clock(c1, met=True, breached=None)
        w.survey(c1, 5)
        c2 = await w.conversation(
            "2026-11-03 08:00",
            channel="webchat",
            language="zh-Hans",
            custom_fields={"category": "withdrawals"},
            status="open",
        )
        w.message(c2, "customer", "2026-11-03 08:00")
        w.message(c2, "assistant", "2026-11-03 08:01")
        c3 = await w.conversation(
            "2026-11-04 09:00", channel="webchat", language="en", status="open", assignee_id=bob
        )
        w.message(c3, "customer", "2026-11-04 09:00")
        w.message(c3, "assistant", "2026-11-04 09:01")
        w.event(c3, "assistant_handoff", "2026-11-04 09:02", reason="security")
        w.message(c3, "agent", "2026-11-04 09:30", bob)
        w.clock(c3, met=None, breached="2026-11-04 10:00")
        w.survey(c3, 2)
        c4 = await w.conversation(
            "2026-10-28 10:00", status="solved", solved_at=at("2026-10-28 13:00"), language="en"
        )
        w.message(c4, "customer", "2026-10-28 10:00")
        w.message(c4, "agent", "2026-10-28 11:00", bob)
        w.event(c4, "status_changed", "2026-10-28 13:00", **{"from": "open", "to": "solved"})
        c5 = await w.conversation(
            "2026-11-05 10:00", status="solved", solved_at=at("2026-11-05 13:00"), language="en"
        )
        w.message(c5, "customer", "2026-11-05 10:00")
        w.event(c5, "status_changed", "2026-11-05 11:00", **{"from": "new", "to": "solved"})
        w.event(c5, "status_changed", "2026-11-05 12:00", **{"from": "solved", "to": "open"})
        w.event(c5, "status_changed", "2026-11-05 13:00", **{"from": "open", "to": "solved"})
        await session.commit()
        ids = {"c1": c1.id, "c2": c2.id, "c3": c3.id, "c4": c4.id, "c5": c5.id}
    await do_refresh_analytics(db)
    return Desk(ids)


async def test_the_overview_matches_the_hand_computed_figures_and_the_previous_week(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    await seed(db, world)
    response = await client.get(OVERVIEW, params=RANGE, headers=world.alice.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["previous_range"] == {"from": "2026-10-25", "to": "2026-10-31"}
    f = body["figures"]
    assert (f["conversations"]["value"], f["conversations"]["previous"]["value"]) == (4, 1)
    assert f["conversations"]["change"] == 3
    assert f["first_response"]["value"] == 1800 and f["first_response"]["count"] == 2
    assert f["first_response"]["previous"]["value"] == 3600
    assert f["first_response"]["change"] == -1800
    assert f["resolution"]["value"] == (7200 + 10800) / 2
    # c5 was open 12:00-13:00 only (new 10-11, solved 11-12): two business hours of work.
    assert f["resolution"]["business_hours_value"] == (7200 + 7200) / 2
    assert (f["csat"]["value"], f["csat"]["numerator"], f["csat"]["count"]) == (0.5, 1, 2)
    assert (f["reopen_rate"]["numerator"], f["reopen_rate"]["count"]) == (1, 2)
    assert (f["sla"]["numerator"], f["sla"]["count"]) == (1, 2)
    assert f["assistant_involvement"]["value"] == 0.5
    assert (f["assistant_resolution"]["numerator"], f["assistant_resolution"]["count"]) == (1, 2)
    assert f["handoffs"]["value"] == 1
    assert f["backlog"]["value"] == 2 and f["backlog"]["previous"]["value"] == 0
    assert f["backlog"]["ages"]["3d_7d"] == 2


async def test_every_drill_down_total_equals_its_figure(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    desk = await seed(db, world)
    overview = (await client.get(OVERVIEW, params=RANGE, headers=world.alice.headers)).json()
    for name, item in overview["figures"].items():
        response = await client.get(
            DRILL, params={**RANGE, "metric": name}, headers=world.alice.headers
        )
        assert response.status_code == 200, (name, response.text)
        assert response.json()["total"] == item["count"], name
        if item["kind"] == "rate":
            hits = await client.get(
                DRILL,
                params={**RANGE, "metric": name, "outcome": "yes"},
                headers=world.alice.headers,
            )
            assert hits.json()["total_conversations"] == item["numerator"], name
    handed = await client.get(
        DRILL,
        params={**RANGE, "metric": "handoffs", "handoff": "security"},
        headers=world.alice.headers,
    )
    assert [row["id"] for row in handed.json()["conversations"]] == [desk.ids["c3"]]


async def test_drill_down_pages_walk_every_conversation_once(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    desk = await seed(db, world)
    seen: list[int] = []
    params: dict[str, Any] = {**RANGE, "metric": "conversations", "limit": 1}
    while True:
        page = (await client.get(DRILL, params=params, headers=world.alice.headers)).json()
        seen += [row["id"] for row in page["conversations"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert seen == sorted((desk.ids[n] for n in ("c1", "c2", "c3", "c5")), reverse=True)


async def test_breakdowns_split_the_volume_by_channel_language_and_agent(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    await seed(db, world)
    headers = world.alice.headers
    url = f"{API}/analytics/breakdown"
    channels = (
        await client.get(url, params={**RANGE, "dimension": "channel"}, headers=headers)
    ).json()
    assert {r["key"]: r["figures"]["conversations"]["value"] for r in channels["rows"]} == {
        "email": 2,
        "webchat": 2,
    }
    languages = (
        await client.get(url, params={**RANGE, "dimension": "language"}, headers=headers)
    ).json()
    assert {r["key"]: r["figures"]["conversations"]["value"] for r in languages["rows"]} == {
        "en": 3,
        "zh-Hans": 1,
    }
    hours = (await client.get(url, params={**RANGE, "dimension": "hour"}, headers=headers)).json()
    by_hour = {r["key"]: r["figures"]["conversations"]["value"] for r in hours["rows"]}
    assert len(by_hour) == 24 and by_hour["10"] == 2 and by_hour["08"] == 1
    drilled = await client.get(
        DRILL, params={**RANGE, "metric": "conversations", "hour": 10}, headers=headers
    )
    assert drilled.json()["total"] == 2
    agents = (await client.get(f"{API}/analytics/agents", params=RANGE, headers=headers)).json()
    (bob,) = agents["rows"]
    assert bob["label"] == "Bob Agent"
    assert bob["figures"]["conversations"]["value"] == 2
    assert bob["figures"]["first_response"]["value"] == 1800
    assert (bob["figures"]["csat"]["numerator"], bob["figures"]["csat"]["count"]) == (1, 2)
    mine = await client.get(
        DRILL, params={**RANGE, "metric": "csat", "agent": bob["key"]}, headers=headers
    )
    assert mine.json()["total"] == 2
    replies = await client.get(
        DRILL, params={**RANGE, "metric": "replies", "agent": bob["key"]}, headers=headers
    )
    assert replies.json()["total"] == bob["figures"]["replies"]["value"] == 2
    waits = await client.get(
        DRILL, params={**RANGE, "metric": "next_response", "agent": bob["key"]}, headers=headers
    )
    assert waits.json()["total"] == bob["figures"]["next_response"]["count"] == 2


async def test_csv_exports_hold_the_same_rows(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    await seed(db, world)
    headers = world.alice.headers
    exported = await client.get(
        DRILL, params={**RANGE, "metric": "first_response", "format": "csv"}, headers=headers
    )
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert sorted(float(r["first_response_s"]) for r in rows) == [1800.0, 1800.0]
    table = await client.get(
        f"{API}/analytics/breakdown",
        params={**RANGE, "dimension": "channel", "format": "csv"},
        headers=headers,
    )
    lines = list(csv.reader(io.StringIO(table.text)))
    assert lines[0][:4] == ["channel", "label", "conversations", "conversations_count"]
    assert sorted(line[0] for line in lines[1:]) == ["email", "webchat"]


async def test_agents_see_only_their_own_figures_and_viewers_none(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    await seed(db, world)
    assert_error(
        await client.get(OVERVIEW, params=RANGE, headers=world.bob.headers), 403, "supervisors"
    )
    assert_error(await client.get(OVERVIEW, params=RANGE, headers=world.victor.headers), 403)
    mine = await client.get(f"{API}/analytics/agents/me", params=RANGE, headers=world.bob.headers)
    assert mine.status_code == 200
    assert [row["label"] for row in mine.json()["rows"]] == ["Bob Agent"]
    own = await client.get(
        DRILL,
        params={**RANGE, "metric": "conversations", "agent": world.bob.agent.id},
        headers=world.bob.headers,
    )
    assert own.status_code == 200 and own.json()["total"] == 2
    other = await client.get(
        DRILL,
        params={**RANGE, "metric": "conversations", "agent": world.carol.agent.id},
        headers=world.bob.headers,
    )
    assert_error(other, 403)


async def test_a_token_needs_the_analytics_scope_and_customers_are_refused(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    async with UnitOfWork(db.write_sessionmaker()) as uow:
        narrow, _ = await do_create_api_token(
            uow, actor=None, name="narrow", scopes=["conversations:read"], agent=world.alice.agent
        )
        await uow.commit()
    assert_error(await client.get(OVERVIEW, headers=bearer(narrow)), 403, "analytics:read")
    customer = await world.make_customer()
    token = await world.customer_token(customer)
    assert_error(await client.get(OVERVIEW, headers=bearer(token)), 403)
    assert_error(await client.get(OVERVIEW), 401)


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"from": "2026-13-01"}, ("from", "date")),
        ({"from": "2026-11-08", "to": "2026-11-01"}, ("after",)),
        ({"from": "2025-01-01", "to": "2026-11-01"}, ("366",)),
        ({"days": 7, "from": "2026-11-01"}, ("either",)),
    ],
)
async def test_bad_dates_are_refused_clearly(
    client: httpx.AsyncClient, world: World, params: dict[str, Any], words: tuple[str, ...]
) -> None:
    assert_error(
        await client.get(OVERVIEW, params=params, headers=world.alice.headers), 422, *words
    )


async def test_unknown_metrics_dimensions_filters_and_cursors_are_refused(
    client: httpx.AsyncClient, world: World
) -> None:
    h = world.alice.headers
    assert_error(
        await client.get(DRILL, params={"metric": "happiness"}, headers=h), 422, "happiness"
    )
    assert_error(
        await client.get(f"{API}/analytics/breakdown", params={"dimension": "mood"}, headers=h),
        422,
        "mood",
    )
    assert_error(
        await client.get(DRILL, params={"metric": "csat", "hour": "25"}, headers=h), 422, "hour"
    )
    assert_error(
        await client.get(DRILL, params={"metric": "resolution", "outcome": "yes"}, headers=h),
        422,
        "rate",
    )
    assert_error(
        await client.get(DRILL, params={"metric": "csat", "cursor": "###"}, headers=h),
        422,
        "cursor",
    )
    assert_error(await client.get(OVERVIEW, params={"days": 0}, headers=h), 422)


async def test_the_periodic_refresh_picks_up_a_reply_and_a_rebuild_agrees(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    load_job_modules()
    assert any(
        spec.kind == REFRESH_KIND and spec.every <= timedelta(seconds=10)
        for spec in periodic_jobs()
    )
    customer = await world.make_customer()
    created = await client.post(
        f"{API}/conversations",
        json={"customer": {"id": customer.id}, "body": "Where is my deposit?"},
        headers=world.bob.headers,
    )
    number = created.json()["id"]
    await do_refresh_analytics(db)
    today = {"days": 1}
    first = (await client.get(OVERVIEW, params=today, headers=world.alice.headers)).json()
    assert first["figures"]["conversations"]["value"] == 1
    assert first["figures"]["first_response"]["count"] == 0
    reply = await client.post(
        f"{API}/conversations/{number}/messages",
        json={"body": "On its way"},
        headers=world.bob.headers,
    )
    assert reply.status_code == 201
    result = await do_refresh_analytics(db)
    assert result.conversations >= 1
    second = (await client.get(OVERVIEW, params=today, headers=world.alice.headers)).json()
    assert second["figures"]["first_response"]["count"] == 1
    rows_before = await count(db, Rollup)
    again = await do_refresh_analytics(db)  # nothing new: the overlap recomputes, same rows
    assert await count(db, Rollup) == rows_before and again.conversations <= 1
    await do_rebuild_analytics(db)
    rebuilt = (await client.get(OVERVIEW, params=today, headers=world.alice.headers)).json()
    for figures in (rebuilt["figures"], second["figures"]):
        figures["backlog"].pop("oldest_age")  # measured at the time of the request
    assert rebuilt["figures"] == second["figures"]
    assert await count(db, ConversationFacts) == 1


async def test_the_dashboard_shows_the_figures_links_and_chinese(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    desk = await seed(db, world)
    await login(client, "alice@example.org")
    page = await client.get("/analytics", params=RANGE)
    assert page.status_code == 200, page.text
    assert 'data-metric="first_response"' in page.text and "30 min" in page.text
    assert "/analytics/conversations?from=2026-11-01&amp;to=2026-11-07&amp;metric=csat" in page.text
    assert "/analytics/gaps" in page.text and "<svg" in page.text
    assert "format=csv" in page.text
    drill = await client.get(
        "/analytics/conversations", params={**RANGE, "metric": "first_response"}
    )
    assert drill.status_code == 200
    assert f'href="/conversations/{desk.ids["c1"]}"' in drill.text
    assert f'href="/conversations/{desk.ids["c5"]}"' not in drill.text
    csrf = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    await client.post("/settings/language", data={"csrf_token": csrf, "language": "zh_Hans"})
    chinese = await client.get("/analytics", params=RANGE)
    assert "首次回复时间" in chinese.text


async def test_an_agent_opening_the_dashboard_sees_only_their_own_row(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    await seed(db, world)
    await login(client, "bob@example.org")
    page = await client.get("/analytics", params=RANGE)
    assert page.status_code == 200
    assert "Bob Agent" in page.text and 'data-metric="csat"' not in page.text


async def test_business_hours_use_the_calendar_of_the_conversations_sla_policy(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    from ledgerdesk.sla.models import SlaCalendar

    customer = await world.make_customer()
    async with db.writer() as session:
        calendar = SlaCalendar(
            name="London office",
            time_zone="Europe/London",
            week={d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
            holidays=[],
        )
        session.add(calendar)
        await session.flush()
        policy = SlaPolicy(name="Office", first_response_minutes=60, calendar_id=calendar.id)
        session.add(policy)
        await session.flush()
        w = Writer(session, customer.id, policy.id)
        friday = await w.conversation("2026-11-27 16:30")  # Friday, 30 minutes before closing
        w.message(friday, "customer", "2026-11-27 16:30")
        w.message(friday, "agent", "2026-11-30 09:30", world.bob.agent.id)  # Monday
        w.clock(friday, met=False, breached=None)
        await session.commit()
    await do_refresh_analytics(db)
    week = {"from": "2026-11-23", "to": "2026-11-29"}
    body = (await client.get(OVERVIEW, params=week, headers=world.alice.headers)).json()
    first = body["figures"]["first_response"]
    assert first["value"] == 65 * 3600 and first["business_hours_value"] == 3600


async def test_a_breach_found_by_the_sweep_alone_reaches_the_figures(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    desk = await seed(db, world)
    async with db.writer() as session:
        # The sweep marks a running clock breached without touching the conversation.
        clock = ConversationSla(
            conversation_id=desk.ids["c2"],
            metric="resolution",
            policy_id=(await session.execute(select(SlaPolicy.id))).scalar_one(),
            target_seconds=3600,
            started_at=at("2026-11-03 08:00"),
            warn_at=at("2026-11-03 08:48"),
            due_at=at("2026-11-03 09:00"),
            breached_at=datetime.now(UTC),
        )
        session.add(clock)
        await session.commit()
    await do_refresh_analytics(db)
    body = (await client.get(OVERVIEW, params=RANGE, headers=world.alice.headers)).json()
    assert (body["figures"]["sla"]["numerator"], body["figures"]["sla"]["count"]) == (1, 3)
