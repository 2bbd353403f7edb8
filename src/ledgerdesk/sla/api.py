"""REST routes for business calendars and SLA policies: agents read, admins write."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Response, status

from ledgerdesk.server.deps import Actor, ReadSession, Uow
from ledgerdesk.server.types import PathId
from ledgerdesk.sla.actions import (
    do_archive_policy,
    do_delete_calendar,
    do_save_calendar,
    do_save_policy,
)
from ledgerdesk.sla.queries import get_calendar, get_policy, list_calendars, list_policies
from ledgerdesk.sla.schemas import CalendarIn, CalendarOut, PolicyIn, PolicyOut, SweepOut
from ledgerdesk.sla.sweep import do_sweep_sla

router = APIRouter(prefix="/sla", tags=["sla"])


@router.get("/calendars", response_model=list[CalendarOut])
async def get_calendars(actor: Actor, session: ReadSession) -> list[CalendarOut]:
    actor.require_agent()
    return [CalendarOut.of(row) for row in await list_calendars(session)]


@router.post("/calendars", status_code=status.HTTP_201_CREATED, response_model=CalendarOut)
async def create_calendar(payload: CalendarIn, actor: Actor, uow: Uow) -> CalendarOut:
    row = await do_save_calendar(uow, actor=actor, data=payload)
    await uow.commit()
    return CalendarOut.of(row)


@router.get("/calendars/{calendar_id}", response_model=CalendarOut)
async def get_one_calendar(calendar_id: PathId, actor: Actor, session: ReadSession) -> CalendarOut:
    actor.require_agent()
    return CalendarOut.of(await get_calendar(session, calendar_id))


@router.put("/calendars/{calendar_id}", response_model=CalendarOut)
async def replace_calendar(
    calendar_id: PathId, payload: CalendarIn, actor: Actor, uow: Uow
) -> CalendarOut:
    actor.require_admin()
    row = await get_calendar(uow.session, calendar_id)
    await do_save_calendar(uow, actor=actor, data=payload, calendar=row)
    await uow.commit()
    return CalendarOut.of(row)


@router.delete("/calendars/{calendar_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_calendar(calendar_id: PathId, actor: Actor, uow: Uow) -> Response:
    actor.require_admin()
    row = await get_calendar(uow.session, calendar_id)
    await do_delete_calendar(uow, actor=actor, calendar=row)
    await uow.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/policies", response_model=list[PolicyOut])
async def get_policies(actor: Actor, session: ReadSession) -> list[PolicyOut]:
    """In the order they are tried: position, then id."""
    actor.require_agent()
    return [PolicyOut.of(row) for row in await list_policies(session)]


@router.post("/policies", status_code=status.HTTP_201_CREATED, response_model=PolicyOut)
async def create_policy(payload: PolicyIn, actor: Actor, uow: Uow) -> PolicyOut:
    row = await do_save_policy(uow, actor=actor, data=payload)
    await uow.commit()
    return PolicyOut.of(row)


@router.get("/policies/{policy_id}", response_model=PolicyOut)
async def get_one_policy(policy_id: PathId, actor: Actor, session: ReadSession) -> PolicyOut:
    actor.require_agent()
    return PolicyOut.of(await get_policy(session, policy_id))


@router.put("/policies/{policy_id}", response_model=PolicyOut)
async def replace_policy(policy_id: PathId, payload: PolicyIn, actor: Actor, uow: Uow) -> PolicyOut:
    """Replace a policy; running clocks keep the targets they started with."""
    actor.require_admin()
    row = await get_policy(uow.session, policy_id)
    await do_save_policy(uow, actor=actor, data=payload, policy=row)
    await uow.commit()
    return PolicyOut.of(row)


@router.delete("/policies/{policy_id}", response_model=PolicyOut)
async def archive_policy(policy_id: PathId, actor: Actor, uow: Uow) -> PolicyOut:
    """Archive (is_active false): it stops matching; clocks that name it keep running."""
    actor.require_admin()
    row = await get_policy(uow.session, policy_id)
    await do_archive_policy(uow, actor=actor, policy=row)
    await uow.commit()
    return PolicyOut.of(row)


@router.post("/sweep", response_model=SweepOut)
async def sweep_now(actor: Actor, uow: Uow) -> SweepOut:
    """Run the sweep at once (it also runs as a periodic job): for admins and tests."""
    actor.require_admin()
    result = await do_sweep_sla(uow, datetime.now(UTC))
    await uow.commit()
    return SweepOut(warned=result.warned, breached=result.breached, escalated=result.escalations)
