"""Every change to SLA data: the clock hooks the conversation actions call, and the
admin's calendars and policies.

Clock rules (docs/sla.md has the full table):

- created: the first matching policy starts first_response and resolution;
- an agent's public reply stops first_response and next_response (met or missed);
- a customer message after an agent's reply starts a new next_response clock;
- pending or on hold (waiting on the customer) pauses every running clock; back to
  new or open (a customer reply, or an agent) resumes them, due times moving back
  by the business time spent paused;
- solved or closed stops every clock with a verdict; a reopen resumes the
  resolution clock as if the solved time had been a pause;
- a priority change by a person selects the policy again (see ``_reselect``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from ledgerdesk.accounts.models import Agent, Team
from ledgerdesk.accounts.principal import Principal
from ledgerdesk.audit.actions import do_record_audit
from ledgerdesk.conversations.models import Conversation, Inbox, Message
from ledgerdesk.conversations.status import UNRESOLVED, Status
from ledgerdesk.customers.models import Customer
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.errors import Conflict, InvalidInput
from ledgerdesk.sla import clocks
from ledgerdesk.sla.cache import PolicyData, SlaConfig, sla_config, sla_config_changing
from ledgerdesk.sla.calendar import BusinessCalendar
from ledgerdesk.sla.models import ConversationSla, SlaCalendar, SlaPolicy
from ledgerdesk.sla.policy import Metric, Subject, select_policy, target_minutes
from ledgerdesk.sla.queries import clocks_out, open_clocks
from ledgerdesk.sla.schemas import CalendarIn, PolicyIn, SlaClockOut

PAUSED_STATUSES = frozenset({Status.PENDING, Status.ON_HOLD})
RUNNING_STATUSES = frozenset({Status.NEW, Status.OPEN})


# Hooks called by conversations/actions.py -----------------------------------------

# The clocks started in this unit of work, and the names of the policies it gave clocks
# to: the API answers a new conversation with them without reading them back
# (new_conversation_clocks). A rule run on creation may change the priority, and so the
# policy (``_reselect``: clocks retargeted, cancelled or started), hence names by id.
STARTED_CLOCKS = "sla.started_clocks"
POLICY_NAMES = "sla.policy_names"


def new_conversation_clocks(
    uow: UnitOfWork, principal: Principal, conversation_id: int
) -> Callable[[], list[SlaClockOut]]:
    """The clocks a conversation created in this unit of work has, as ``sla_for`` would
    read them after the commit (call the result then: the clocks get their ids when they
    are written). A new conversation has no clocks but those started here."""
    names = dict(uow.staged(POLICY_NAMES))
    started = [
        (clock, names.get(clock.policy_id, ""))
        for clock in uow.staged(STARTED_CLOCKS)
        if clock.conversation_id == conversation_id
    ]

    def listed() -> list[SlaClockOut]:
        if principal.is_customer:
            return []
        return clocks_out(started, datetime.now(UTC)).get(conversation_id, [])

    return listed


async def do_sla_on_created(uow: UnitOfWork, conversation: Conversation) -> None:
    """Start first_response and resolution under the first matching policy."""
    config = await sla_config(uow)
    policy = await _select(uow, conversation, config)
    if policy is None:
        return
    calendar = await _calendar(uow, config, policy)
    for metric in (Metric.FIRST_RESPONSE, Metric.RESOLUTION):
        _start(uow, conversation, policy, calendar, metric, conversation.created_at)


async def do_sla_on_message(uow: UnitOfWork, conversation: Conversation, message: Message) -> None:
    """Stop reply clocks on an agent's public reply; on a customer's, resume and start
    next_response. Internal notes and automated writers leave the clocks alone."""
    if message.is_internal or message.author_kind not in ("agent", "customer"):
        return
    now = message.created_at
    found = await open_clocks(uow.session, conversation.id)
    if message.author_kind == "agent":
        for clock in found:
            if clock.metric in (Metric.FIRST_RESPONSE, Metric.NEXT_RESPONSE):
                clocks.stop(clock, now)
        await _follow_status(uow, conversation, found, now)
        return
    await _follow_status(uow, conversation, found, now)
    waiting = any(c.metric == Metric.NEXT_RESPONSE and c.stopped_at is None for c in found)
    first_open = any(c.metric == Metric.FIRST_RESPONSE and c.stopped_at is None for c in found)
    if conversation.first_response_at is None or waiting or first_open:
        return  # still waiting for the first answer, or already for the next one
    if conversation.status not in UNRESOLVED:
        return
    config, policy = await _current_policy(uow, conversation, found)
    if policy is not None and policy.next_response_minutes is not None:
        calendar = await _calendar(uow, config, policy)
        _start(uow, conversation, policy, calendar, Metric.NEXT_RESPONSE, now)


async def do_sla_on_update(
    uow: UnitOfWork, conversation: Conversation, changes: Iterable[str]
) -> None:
    """After a status or priority change by a person."""
    changed = set(changes)
    if "priority" in changed:
        await _reselect(uow, conversation)
    if "status" in changed:
        await _follow_status(uow, conversation, await open_clocks(uow.session, conversation.id))


async def do_sla_backfill(uow: UnitOfWork, conversation: Conversation) -> int:
    """Give an unresolved conversation without clocks the clocks it would have had.

    For data that predates the policies (an import, the demo seed): clocks start at
    the conversation's creation, first_response stops at its first reply. Pauses
    before now are not replayed. Returns the number of clocks started.
    """
    if conversation.status not in UNRESOLVED or await open_clocks(uow.session, conversation.id):
        return 0
    config = await sla_config(uow)
    policy = await _select(uow, conversation, config)
    if policy is None:
        return 0
    calendar = await _calendar(uow, config, policy)
    started = 0
    for metric in (Metric.FIRST_RESPONSE, Metric.RESOLUTION):
        clock = _start(uow, conversation, policy, calendar, metric, conversation.created_at)
        if clock is None:
            continue
        started += 1
        if metric == Metric.FIRST_RESPONSE and conversation.first_response_at is not None:
            clocks.stop(clock, conversation.first_response_at)
    await _follow_status(uow, conversation, await open_clocks(uow.session, conversation.id))
    return started


# Clock mechanics against the database ----------------------------------------------


async def _subject(uow: UnitOfWork, conversation: Conversation) -> Subject:
    customer = await uow.session.get(Customer, conversation.customer_id)
    return Subject(
        priority=conversation.priority,
        tier=customer.tier if customer is not None else None,
        channel=conversation.channel,
        inbox_id=conversation.inbox_id,
    )


async def _select(
    uow: UnitOfWork, conversation: Conversation, config: SlaConfig
) -> PolicyData | None:
    if not config.active:
        return None  # no query at all: the common case of a desk without policies
    return select_policy(config.active, await _subject(uow, conversation))


async def _policy_of(
    uow: UnitOfWork, config: SlaConfig, policy_id: int
) -> tuple[SlaConfig, PolicyData | None]:
    """A clock's policy. One the cached reading does not know was made elsewhere since
    (the foreign key says it exists): the version is asked again at once."""
    policy = config.policies.get(policy_id)
    if policy is None:
        config = await sla_config(uow, recheck=True)
        policy = config.policies.get(policy_id)
    return config, policy


async def _calendar(uow: UnitOfWork, config: SlaConfig, policy: PolicyData) -> BusinessCalendar:
    if not config.has_calendar(policy.calendar_id):
        config = await sla_config(uow, recheck=True)
    return config.calendar(policy.calendar_id)


async def _current_policy(
    uow: UnitOfWork, conversation: Conversation, found: list[ConversationSla]
) -> tuple[SlaConfig, PolicyData | None]:
    """The policy the conversation's clocks run under (or would, if it has none yet)."""
    config = await sla_config(uow)
    for clock in reversed(found):
        config, policy = await _policy_of(uow, config, clock.policy_id)
        if policy is not None and policy.is_active:
            return config, policy
    return config, await _select(uow, conversation, config)


def _start(
    uow: UnitOfWork,
    conversation: Conversation,
    policy: PolicyData,
    calendar: BusinessCalendar,
    metric: Metric,
    started_at: datetime,
) -> ConversationSla | None:
    minutes = target_minutes(
        metric,
        policy.first_response_minutes,
        policy.next_response_minutes,
        policy.resolution_minutes,
    )
    if minutes is None:
        return None
    clock = clocks.new_clock(
        conversation_id=conversation.id,
        metric=metric,
        policy_id=policy.id,
        target_minutes=minutes,
        started_at=started_at,
        calendar=calendar,
        warn_share=policy.warn_share,
    )
    uow.session.add(clock)
    uow.staged(STARTED_CLOCKS).append(clock)
    uow.staged(POLICY_NAMES).append((policy.id, policy.name))
    return clock


async def _follow_status(
    uow: UnitOfWork,
    conversation: Conversation,
    found: list[ConversationSla],
    now: datetime | None = None,
) -> None:
    """Pause, resume or stop the clocks to match the conversation's status."""
    now = now or datetime.now(UTC)
    status = Status(conversation.status)
    if status in PAUSED_STATUSES:
        for clock in found:
            clocks.pause(clock, now)
        return
    if status in (Status.SOLVED, Status.CLOSED):
        for clock in found:
            clocks.stop(clock, now)
        return
    config: SlaConfig | None = None
    for clock in found:
        if clock.stopped_at is not None and clock.metric != Metric.RESOLUTION:
            continue  # only a resolution clock is taken up again (a reopen)
        if clock.paused_at is None and clock.stopped_at is None:
            continue
        config, policy = await _policy_of(uow, config or await sla_config(uow), clock.policy_id)
        if policy is None:
            continue
        calendar = await _calendar(uow, config, policy)
        if clock.stopped_at is not None:
            clocks.reopen(clock, now, calendar, policy.warn_share)
        else:
            clocks.resume(clock, now, calendar, policy.warn_share)


async def _reselect(uow: UnitOfWork, conversation: Conversation) -> None:
    """Apply the policy that matches now, to clocks still running, from their start.

    As in Zendesk: raising a conversation to urgent makes the urgent targets count from
    when its clocks started, which may breach them at once. Metrics the new policy
    lacks are cancelled (no verdict); metrics it adds start from the conversation's
    creation when they still apply. Priorities raised by an SLA escalation do not come
    here, so a breach cannot set off another policy's breach in a loop.
    """
    now = datetime.now(UTC)
    found = [c for c in await open_clocks(uow.session, conversation.id) if c.stopped_at is None]
    config = await sla_config(uow)
    policy = await _select(uow, conversation, config)
    if policy is None:
        for clock in found:
            clocks.cancel(clock, now)
        return
    if found and all(clock.policy_id == policy.id for clock in found):
        return
    calendar = await _calendar(uow, config, policy)
    uow.staged(POLICY_NAMES).append((policy.id, policy.name))  # clocks retargeted to it
    running = set()
    for clock in found:
        metric = Metric(clock.metric)
        minutes = target_minutes(
            metric,
            policy.first_response_minutes,
            policy.next_response_minutes,
            policy.resolution_minutes,
        )
        if minutes is None:
            clocks.cancel(clock, now)
            continue
        running.add(metric)
        clocks.retarget(
            clock,
            policy_id=policy.id,
            target_minutes=minutes,
            now=now,
            calendar=calendar,
            warn_share=policy.warn_share,
        )
    if conversation.status in UNRESOLVED:
        if Metric.FIRST_RESPONSE not in running and conversation.first_response_at is None:
            _start(
                uow, conversation, policy, calendar, Metric.FIRST_RESPONSE, conversation.created_at
            )
        if Metric.RESOLUTION not in running:
            _start(uow, conversation, policy, calendar, Metric.RESOLUTION, conversation.created_at)
    await uow.session.flush()
    await _follow_status(uow, conversation, await open_clocks(uow.session, conversation.id), now)


# Calendars and policies (admin) ------------------------------------------------------


async def _unique_name(uow: UnitOfWork, model: Any, name: str, own_id: int | None) -> None:
    found = await uow.session.execute(select(model.id).where(model.name == name))
    other = found.scalar_one_or_none()
    if other is not None and other != own_id:
        raise Conflict(f"the name {name!r} is taken")


async def do_save_calendar(
    uow: UnitOfWork,
    *,
    actor: Principal | None,
    data: CalendarIn,
    calendar: SlaCalendar | None = None,
) -> SlaCalendar:
    """Create a calendar, or replace one. Running clocks use the new hours from their
    next pause, resume or policy change; new clocks at once."""
    if actor is not None:
        actor.require_admin()
    name = data.name.strip()
    if not name:
        raise InvalidInput("a calendar needs a name")
    await _unique_name(uow, SlaCalendar, name, calendar.id if calendar else None)
    now = datetime.now(UTC)
    row = calendar or SlaCalendar(created_at=now)
    row.name = name
    row.time_zone = data.time_zone
    row.week = data.stored_week()
    row.holidays = data.stored_holidays()
    row.updated_at = now
    sla_config_changing(uow)
    uow.session.add(row)
    await uow.session.flush()
    do_record_audit(
        uow,
        agent_id=actor.agent_id if actor else None,
        action="sla.calendar.updated" if calendar else "sla.calendar.created",
        object_type="sla_calendar",
        object_id=row.id,
        detail={"name": name, "time_zone": row.time_zone, "holidays": len(row.holidays)},
        ip=actor.ip if actor else None,
    )
    return row


async def do_delete_calendar(uow: UnitOfWork, *, actor: Principal, calendar: SlaCalendar) -> None:
    actor.require_admin()
    users = await uow.session.execute(
        select(SlaPolicy.name).where(SlaPolicy.calendar_id == calendar.id).order_by(SlaPolicy.name)
    )
    names = list(users.scalars())
    if names:
        raise Conflict(f"calendar {calendar.name!r} is used by the policies: {', '.join(names)}")
    sla_config_changing(uow)
    await uow.session.delete(calendar)
    do_record_audit(
        uow,
        agent_id=actor.agent_id,
        action="sla.calendar.deleted",
        object_type="sla_calendar",
        object_id=calendar.id,
        detail={"name": calendar.name},
        ip=actor.ip,
    )


async def _check_references(uow: UnitOfWork, data: PolicyIn) -> None:
    if (
        data.calendar_id is not None
        and await uow.session.get(SlaCalendar, data.calendar_id) is None
    ):
        raise InvalidInput(f"calendar {data.calendar_id} does not exist")
    for inbox_id in data.conditions.inbox_ids:
        if await uow.session.get(Inbox, inbox_id) is None:
            raise InvalidInput(f"conditions.inbox_ids: inbox {inbox_id} does not exist")
    for action in data.escalations:
        team_id = getattr(action, "team_id", None)
        agent_id = getattr(action, "agent_id", None)
        if team_id is not None and await uow.session.get(Team, team_id) is None:
            raise InvalidInput(f"escalations: team {team_id} does not exist")
        if agent_id is not None:
            agent = await uow.session.get(Agent, agent_id)
            if agent is None or not agent.is_active or not agent.can_reply:
                raise InvalidInput(
                    f"escalations: agent {agent_id} does not exist or cannot take conversations"
                )


async def do_save_policy(
    uow: UnitOfWork, *, actor: Principal | None, data: PolicyIn, policy: SlaPolicy | None = None
) -> SlaPolicy:
    """Create a policy, or replace one. Running clocks keep their targets."""
    if actor is not None:
        actor.require_admin()
    name = data.name.strip()
    if not name:
        raise InvalidInput("a policy needs a name")
    await _unique_name(uow, SlaPolicy, name, policy.id if policy else None)
    await _check_references(uow, data)
    now = datetime.now(UTC)
    row = policy or SlaPolicy(created_at=now)
    row.name = name
    row.position = data.position
    row.is_active = data.is_active
    row.conditions = data.conditions.model_dump(mode="json")
    row.first_response_minutes = data.first_response_minutes
    row.next_response_minutes = data.next_response_minutes
    row.resolution_minutes = data.resolution_minutes
    row.calendar_id = data.calendar_id
    row.warn_share = data.warn_share
    row.escalations = [
        action.model_dump(mode="json", exclude_none=True) for action in data.escalations
    ]
    row.updated_at = now
    sla_config_changing(uow)
    uow.session.add(row)
    await uow.session.flush()
    do_record_audit(
        uow,
        agent_id=actor.agent_id if actor else None,
        action="sla.policy.updated" if policy else "sla.policy.created",
        object_type="sla_policy",
        object_id=row.id,
        detail=data.model_dump(mode="json"),
        ip=actor.ip if actor else None,
    )
    return row


async def do_archive_policy(uow: UnitOfWork, *, actor: Principal, policy: SlaPolicy) -> SlaPolicy:
    """Policies are archived, not deleted: running clocks and history still name them."""
    actor.require_admin()
    policy.is_active = False
    policy.updated_at = datetime.now(UTC)
    sla_config_changing(uow)
    do_record_audit(
        uow,
        agent_id=actor.agent_id,
        action="sla.policy.archived",
        object_type="sla_policy",
        object_id=policy.id,
        detail={"name": policy.name},
        ip=actor.ip,
    )
    return policy
