"""The demo desk's SLA: support hours in Singapore, a VIP promise, and clocks on the
conversations the seed created (demo.py calls ``seed_sla_demo`` at the end).

The VIP policy is the one from the issue: a first answer within 15 minutes, resolution
within a day, around the clock; a breach notifies, raises the priority to urgent and
hands the conversation to the VIP desk. The seeded conversations are days old, so
VIP ones are overdue at once and the first sweep escalates them by itself.
"""

from __future__ import annotations

from sqlalchemy import select

from ledgerdesk.conversations.models import Conversation
from ledgerdesk.conversations.status import UNRESOLVED
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.sla.actions import do_save_calendar, do_save_policy, do_sla_backfill
from ledgerdesk.sla.schemas import CalendarIn, PolicyIn

WEEKDAY_HOURS = [{"start": "09:00", "end": "12:30"}, {"start": "13:30", "end": "18:00"}]
SUPPORT_HOURS = {
    "name": "Harbor support hours (Singapore)",
    "time_zone": "Asia/Singapore",
    "week": {
        **{day: WEEKDAY_HOURS for day in ("mon", "tue", "wed", "thu", "fri")},
        "sat": [{"start": "10:00", "end": "14:00"}],
    },
    "holidays": [
        {"date": "2026-12-25", "name": "Christmas Day"},
        {"date": "2026-12-31", "name": "New Year's Eve", "periods": [WEEKDAY_HOURS[0]]},
        {"date": "2027-01-01", "name": "New Year's Day"},
        {"date": "2027-02-06", "name": "Lunar New Year"},
        {"date": "2027-02-07", "name": "Lunar New Year"},
    ],
}


async def seed_sla_demo(uow: UnitOfWork, *, vip_team_id: int | None) -> int:
    """Create the calendar and policies, then clocks for the open conversations.

    Returns the number of clocks started.
    """
    calendar = await do_save_calendar(
        uow, actor=None, data=CalendarIn.model_validate(SUPPORT_HOURS)
    )
    escalate: list[dict[str, object]] = [
        {"type": "notify"},
        {"type": "raise_priority", "to": "urgent"},
    ]
    if vip_team_id is not None:
        escalate.append({"type": "reassign", "team_id": vip_team_id})
    policies = [
        {
            "name": "VIP",
            "position": 0,
            "conditions": {"tiers": ["vip"]},
            "first_response_minutes": 15,
            "next_response_minutes": 30,
            "resolution_minutes": 24 * 60,
            "escalations": escalate,
        },
        {
            "name": "Urgent",
            "position": 10,
            "conditions": {"priorities": ["urgent"]},
            "first_response_minutes": 30,
            "next_response_minutes": 60,
            "resolution_minutes": 8 * 60,
            "escalations": [{"type": "notify"}],
        },
        {
            "name": "Standard (business hours)",
            "position": 100,
            "first_response_minutes": 4 * 60,
            "next_response_minutes": 8 * 60,
            "resolution_minutes": 3 * 8 * 60,
            "calendar_id": calendar.id,
            "escalations": [{"type": "notify"}],
        },
    ]
    for policy in policies:
        await do_save_policy(uow, actor=None, data=PolicyIn.model_validate(policy))
    found = await uow.session.execute(
        select(Conversation)
        .where(Conversation.status.in_(list(UNRESOLVED)))
        .order_by(Conversation.id)
    )
    started = 0
    for conversation in found.scalars():
        started += await do_sla_backfill(uow, conversation)
    return started
