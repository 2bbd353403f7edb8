"""The admin API for business calendars and SLA policies: who may write, what bad input
gets back (a 422 that names the problem), and the audit trail."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from ledgerdesk.audit.models import AuditEntry
from tests.api_support import API, assert_error, count
from tests.conftest import World
from tests.sla_support import OFFICE_HOURS, make_policy


async def _calendar(client: httpx.AsyncClient, world: World, **fields: Any) -> dict[str, Any]:
    response = await client.post(
        f"{API}/sla/calendars", json={**OFFICE_HOURS, **fields}, headers=world.alice.headers
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_an_admin_creates_a_calendar_that_agents_can_read(
    client: httpx.AsyncClient, world: World
) -> None:
    created = await _calendar(client, world)
    assert created["time_zone"] == "Europe/London" and created["always_open"] is False
    assert created["week"]["mon"] == [
        {"start": "09:00", "end": "12:30"},
        {"start": "13:30", "end": "18:00"},
    ]
    assert created["week"]["sat"] == []
    assert created["holidays"] == [{"date": "2026-12-25", "name": "Christmas Day", "periods": []}]
    listed = await client.get(f"{API}/sla/calendars", headers=world.victor.headers)
    assert [c["name"] for c in listed.json()] == ["London office"]
    assert await count(world.db, AuditEntry, AuditEntry.action == "sla.calendar.created") == 1


async def test_a_24_7_calendar_needs_no_hours(client: httpx.AsyncClient, world: World) -> None:
    response = await client.post(
        f"{API}/sla/calendars",
        json={"name": "Always", "time_zone": "Asia/Singapore", "always_open": True},
        headers=world.alice.headers,
    )
    assert response.status_code == 201, response.text
    assert response.json()["always_open"] is True
    assert response.json()["week"]["sun"] == [{"start": "00:00", "end": "24:00"}]


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"time_zone": "Mars/Olympus"}, ["IANA time zone"]),
        (
            {
                "week": {
                    "mon": [{"start": "09:00", "end": "13:00"}, {"start": "12:00", "end": "17:00"}]
                }
            },
            ["mon", "overlap"],
        ),
        ({"week": {"tue": [{"start": "17:00", "end": "09:00"}]}}, ["ends after it starts"]),
        ({"week": {"wed": [{"start": "09:00", "end": "24:30"}]}}, ["between 00:00 and 24:00"]),
        ({"week": {}}, ["at least one working period"]),
        ({"week": {"funday": []}}, ["week.funday"]),
        ({"always_open": True}, ["always_open", "no week"]),
        (
            {"holidays": [{"date": "2026-12-24", "periods": [{"start": "13:00", "end": "12:00"}]}]},
            ["2026-12-24", "ends after it starts"],
        ),
        ({"holidays": [{"date": "2026-02-30"}]}, ["holidays.0.date"]),
        ({"name": ""}, ["name"]),
    ],
)
async def test_a_bad_calendar_gets_a_422_that_says_what_is_wrong(
    client: httpx.AsyncClient, world: World, change: dict[str, Any], words: list[str]
) -> None:
    response = await client.post(
        f"{API}/sla/calendars", json={**OFFICE_HOURS, **change}, headers=world.alice.headers
    )
    error = assert_error(response, 422)
    text = error["message"]
    for word in words:
        assert word in text, (word, text)


async def test_only_admins_write_calendars_and_policies(
    client: httpx.AsyncClient, world: World
) -> None:
    refused = await client.post(
        f"{API}/sla/calendars", json=OFFICE_HOURS, headers=world.bob.headers
    )
    assert_error(refused, 403, "admin")
    refused = await client.post(
        f"{API}/sla/policies",
        json={"name": "Mine", "first_response_minutes": 5},
        headers=world.bob.headers,
    )
    assert_error(refused, 403, "admin")
    calendar = await _calendar(client, world)
    refused = await client.put(
        f"{API}/sla/calendars/{calendar['id']}", json=OFFICE_HOURS, headers=world.victor.headers
    )
    assert_error(refused, 403)
    assert (await client.get(f"{API}/sla/policies")).status_code == 401


async def test_a_policy_round_trips_with_its_conditions_and_escalations(
    client: httpx.AsyncClient, world: World
) -> None:
    calendar = await _calendar(client, world)
    policy = await make_policy(
        client,
        world.alice.headers,
        name="VIP withdrawals",
        position=1,
        conditions={"tiers": ["vip"], "priorities": ["high", "urgent"], "channels": ["webchat"]},
        first_response_minutes=15,
        next_response_minutes=30,
        resolution_minutes=1440,
        calendar_id=calendar["id"],
        warn_share=0.75,
        escalations=[
            {"type": "notify"},
            {"type": "reassign", "team_id": world.support.id},
            {"type": "raise_priority"},
        ],
    )
    shown = await client.get(f"{API}/sla/policies/{policy['id']}", headers=world.bob.headers)
    assert shown.json() == policy
    assert policy["escalations"] == [
        {"type": "notify"},
        {"type": "reassign", "team_id": world.support.id, "agent_id": None},
        {"type": "raise_priority", "to": None},
    ]
    assert await count(world.db, AuditEntry, AuditEntry.action == "sla.policy.created") == 1

    replaced = await client.put(
        f"{API}/sla/policies/{policy['id']}",
        json={"name": "VIP withdrawals", "first_response_minutes": 10},
        headers=world.alice.headers,
    )
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["first_response_minutes"] == 10
    assert replaced.json()["resolution_minutes"] is None
    assert await count(world.db, AuditEntry, AuditEntry.action == "sla.policy.updated") == 1


@pytest.mark.parametrize(
    ("payload", "status", "words"),
    [
        ({"name": "None"}, 422, ["at least one target"]),
        ({"name": "Zero", "first_response_minutes": 0}, 422, ["first_response_minutes"]),
        ({"name": "Share", "first_response_minutes": 5, "warn_share": 1.5}, 422, ["warn_share"]),
        ({"name": "Cal", "first_response_minutes": 5, "calendar_id": 999}, 422, ["calendar 999"]),
        (
            {"name": "Esc", "first_response_minutes": 5, "escalations": [{"type": "reassign"}]},
            422,
            ["team_id", "agent_id"],
        ),
        (
            {"name": "Esc", "first_response_minutes": 5, "escalations": [{"type": "page"}]},
            422,
            ["escalations.0"],
        ),
        (
            {
                "name": "Team",
                "first_response_minutes": 5,
                "escalations": [{"type": "reassign", "team_id": 999}],
            },
            422,
            ["team 999"],
        ),
        (
            {"name": "Inbox", "first_response_minutes": 5, "conditions": {"inbox_ids": [999]}},
            422,
            ["inbox 999"],
        ),
        (
            {"name": "Tier", "first_response_minutes": 5, "conditions": {"tiers": ["gold"]}},
            422,
            ["conditions.tiers.0"],
        ),
    ],
)
async def test_a_bad_policy_gets_a_clear_error(
    client: httpx.AsyncClient, world: World, payload: dict[str, Any], status: int, words: list[str]
) -> None:
    response = await client.post(f"{API}/sla/policies", json=payload, headers=world.alice.headers)
    assert_error(response, status, *words)


async def test_names_are_unique_and_a_calendar_in_use_cannot_be_deleted(
    client: httpx.AsyncClient, world: World
) -> None:
    calendar = await _calendar(client, world)
    again = await client.post(
        f"{API}/sla/calendars", json=OFFICE_HOURS, headers=world.alice.headers
    )
    assert_error(again, 409, "taken")
    await make_policy(client, world.alice.headers, name="Office", calendar_id=calendar["id"])
    refused = await client.delete(
        f"{API}/sla/calendars/{calendar['id']}", headers=world.alice.headers
    )
    assert_error(refused, 409, "Office")
    unused = await _calendar(client, world, name="Spare")
    deleted = await client.delete(
        f"{API}/sla/calendars/{unused['id']}", headers=world.alice.headers
    )
    assert deleted.status_code == 204
    missing = await client.get(f"{API}/sla/calendars/{unused['id']}", headers=world.alice.headers)
    assert_error(missing, 404, "calendar")
