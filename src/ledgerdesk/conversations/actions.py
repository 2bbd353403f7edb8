"""Every change to conversations and messages.

Each action checks permission, changes rows, appends to the conversation's event
history and stages a bus event; the caller commits once, and the bus hears of
the change only after that commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from ledgerdesk.accounts.models import Agent, Team, TeamMembership
from ledgerdesk.accounts.principal import Principal
from ledgerdesk.audit.actions import do_record_audit
from ledgerdesk.automation.hooks import (
    do_automation_on_created,
    do_automation_on_message,
    do_automation_on_updated,
)
from ledgerdesk.conversations.models import (
    Conversation,
    ConversationEvent,
    ConversationTag,
    Inbox,
    Message,
)
from ledgerdesk.conversations.queries import find_message_by_channel_id
from ledgerdesk.conversations.status import (
    Priority,
    Status,
    TransitionError,
    check_transition,
    status_after_agent_reply,
    status_after_customer_message,
)
from ledgerdesk.customers.models import Customer
from ledgerdesk.db.direct import execute_many
from ledgerdesk.db.persist import (
    insert_now,
    insert_now_unless_exists,
    inserts_can_race,
    update_now,
)
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.errors import Conflict, InvalidInput, PermissionDenied
from ledgerdesk.feedback.actions import note_status_change
from ledgerdesk.realtime import outbox
from ledgerdesk.realtime.payloads import (
    conversation_payload,
    customer_conversation_payload,
    message_payload,
)
from ledgerdesk.safety.actions import do_sign_reply
from ledgerdesk.safety.guard import GuardedText, customer_notice, guard_text
from ledgerdesk.safety.queries import code_for_customer_copy
from ledgerdesk.sla.actions import do_sla_on_created, do_sla_on_message, do_sla_on_update

# Core, not ORM-enabled: the ORM's bulk insert cost more than the rows (db/direct.py).
_INSERT_TAGS = insert(ConversationTag.__table__)  # type: ignore[arg-type]
CHANNELS = ("webchat", "email", "telegram", "discord", "api")
MAX_TAGS = 50


@dataclass(frozen=True)
class Author:
    kind: str  # customer, agent, assistant, system
    agent_id: int | None = None
    customer_id: int | None = None


def _author_of(principal: Principal | None, customer: Customer | None = None) -> Author:
    if principal is None:
        return Author("customer", customer_id=customer.id if customer else None)
    if principal.is_customer:
        return Author("customer", customer_id=principal.customer_id)
    return Author("agent", agent_id=principal.agent_id)


def normalise_tags(tags: Iterable[str]) -> list[str]:
    cleaned: list[str] = []
    for tag in tags:
        value = tag.strip().lower().replace(" ", "-")
        if not value:
            raise InvalidInput("tags must not be empty")
        if len(value) > 60:
            raise InvalidInput(f"tag {value[:20]!r}... is longer than 60 characters")
        if value not in cleaned:
            cleaned.append(value)
    if len(cleaned) > MAX_TAGS:
        raise InvalidInput(f"a conversation has at most {MAX_TAGS} tags")
    return cleaned


def _event(
    conversation: Conversation, author: Author, kind: str, data: dict[str, Any]
) -> ConversationEvent:
    return ConversationEvent(
        conversation_id=conversation.id,
        kind=kind,
        actor_kind=author.kind,
        actor_agent_id=author.agent_id,
        actor_customer_id=author.customer_id,
        data=data,
    )


async def _record(
    uow: UnitOfWork,
    conversation: Conversation,
    author: Author,
    kind: str,
    data: dict[str, Any],
) -> None:
    # One INSERT now: left to the next autoflush, a first reply's status_changed row
    # cost a unit-of-work flush, about a fifth of the reply (bench/README.md).
    await insert_now(uow.session, _event(conversation, author, kind, data))


def _announce(
    uow: UnitOfWork,
    conversation: Conversation,
    kind: str,
    data: dict[str, Any],
    customer_data: dict[str, Any] | None,
) -> None:
    """Append to the real-time stream: agents get ``data``, the customer ``customer_data``."""
    outbox.append(
        uow,
        kind=kind,
        conversation_id=conversation.id,
        customer_id=conversation.customer_id,
        team_id=conversation.team_id,
        data={"conversation": conversation_payload(conversation), **data},
        customer_data=(
            None
            if customer_data is None
            else {"conversation": customer_conversation_payload(conversation), **customer_data}
        ),
    )


async def _set_status(
    uow: UnitOfWork, conversation: Conversation, author: Author, status: str
) -> None:
    """Change status with its history row; solved_at follows solving and reopening."""
    if status == conversation.status:
        return
    previous = conversation.status
    await _record(uow, conversation, author, "status_changed", {"from": previous, "to": status})
    conversation.status = status
    if status == Status.SOLVED:
        conversation.solved_at = datetime.now(UTC)
    elif status != Status.CLOSED:
        conversation.solved_at = None
    # Satisfaction survey and follow-up (feedback/actions.py), settled before the commit.
    note_status_change(uow, conversation, previous)


async def _check_private_team_assignee(
    uow: UnitOfWork, team_id: int | None, assignee_id: int | None
) -> None:
    """An assignee must be able to see the conversation they are given."""
    if team_id is None or assignee_id is None:
        return
    team = await uow.session.get(Team, team_id)
    agent = await uow.session.get(Agent, assignee_id)
    if team is None or agent is None or not team.is_private or agent.is_supervisor:
        return
    member = await uow.session.get(TeamMembership, (team_id, assignee_id))
    if member is None:
        raise InvalidInput(
            f"{agent.name} is not in the private team {team.name} and could not see this "
            "conversation; add them to the team or choose a member"
        )


async def _check_assignee(uow: UnitOfWork, assignee_id: int | None) -> None:
    if assignee_id is None:
        return
    agent = await uow.session.get(Agent, assignee_id)
    if agent is None or not agent.is_active:
        raise InvalidInput(f"agent {assignee_id} does not exist or is deactivated")
    if not agent.can_reply:
        raise InvalidInput(f"agent {assignee_id} is a viewer and cannot be assigned work")


async def _check_team(uow: UnitOfWork, team_id: int | None) -> None:
    if team_id is not None and await uow.session.get(Team, team_id) is None:
        raise InvalidInput(f"team {team_id} does not exist")


def _validate_choice(value: str, choices: Iterable[str], what: str) -> str:
    allowed = list(choices)
    if value not in allowed:
        raise InvalidInput(f"{what} must be one of: {', '.join(allowed)}")
    return value


async def _replayed_conversation(
    uow: UnitOfWork, existing: Message, customer: Customer
) -> Conversation:
    """The conversation a resent first message opened, if it is this customer's."""
    found = await uow.session.get(Conversation, existing.conversation_id)
    assert found is not None
    if found.customer_id != customer.id:
        # Otherwise anyone who guesses a channel message id reads another's conversation.
        raise Conflict("this channel message id belongs to another conversation")
    return found


async def _guard(
    uow: UnitOfWork, texts: Sequence[str], locale: str | None
) -> tuple[list[str], GuardedText]:
    """Each text with secrets removed, and what was found in all of them together."""
    cleaned: list[str] = []
    kinds: set[str] = set()
    secret_kinds: list[str] = []
    risks: set[str] = set()
    hosts: set[str] = set()
    for text in texts:
        guarded = await guard_text(uow.session, text, locale=locale)
        cleaned.append(guarded.text)
        kinds.update(guarded.kinds)
        secret_kinds.extend(k for k in guarded.secret_kinds if k not in secret_kinds)
        risks.update(guarded.risks)
        hosts.update(guarded.phishing_hosts)
    return cleaned, GuardedText("", sorted(kinds), secret_kinds, sorted(risks), sorted(hosts))


async def _act_on_risks(
    uow: UnitOfWork, conversation: Conversation, message: Message, guarded: GuardedText
) -> None:
    """Flag the conversation, raise it to urgent when a secret was shared, and tell the
    customer at once (in their language) when they wrote the message."""
    if not guarded.risks:
        return
    known = set(conversation.risk_flags or [])
    if not set(guarded.risks) <= known:
        added = sorted(set(guarded.risks) - known)
        conversation.risk_flags = sorted(known | set(guarded.risks))
        await _record(uow, conversation, Author("system"), "risk_flagged", {"flags": added})
    if guarded.removed_secret and conversation.priority != Priority.URGENT:
        await _record(
            uow,
            conversation,
            Author("system"),
            "priority_changed",
            {"from": conversation.priority, "to": Priority.URGENT, "reason": "secret_shared"},
        )
        conversation.priority = Priority.URGENT
        await do_sla_on_update(uow, conversation, ["priority"])
    if message.author_kind != "customer":
        return
    notice = customer_notice(guarded, conversation.language)
    if notice is not None:
        await do_add_message(
            uow, actor=None, conversation=conversation, body=notice, author_kind="system"
        )


async def do_create_conversation(
    uow: UnitOfWork,
    *,
    actor: Principal | None,
    customer: Customer,
    body: str,
    subject: str = "",
    channel: str = "api",
    inbox_id: int | None = None,
    priority: str = Priority.NORMAL,
    language: str | None = None,
    team_id: int | None = None,
    assignee_id: int | None = None,
    tags: Sequence[str] = (),
    custom_fields: dict[str, Any] | None = None,
    channel_message_id: str | None = None,
    attachments: list[dict[str, Any]] | None = None,
) -> tuple[Conversation, bool]:
    """Open a conversation with its first customer message.

    With ``channel_message_id`` the call is idempotent: delivering the same
    message again returns the conversation it opened, and ``False``.
    """
    if actor is not None:
        if actor.is_customer:
            actor.require_scope("conversations:write")
            if customer.id != actor.customer_id:
                raise PermissionDenied("a customer may only open conversations of their own")
            if assignee_id is not None or team_id is not None:
                raise PermissionDenied("customers cannot choose an assignee or team")
        else:
            agent = actor.require_agent()
            actor.require_scope("conversations:write")
            if not agent.can_reply:
                raise PermissionDenied("viewers cannot create conversations")
    _validate_choice(channel, CHANNELS, "channel")
    _validate_choice(priority, list(Priority), "priority")
    if not body.strip():
        raise InvalidInput("the first message must not be empty")
    if customer.merged_into_id is not None:
        raise InvalidInput(
            f"customer {customer.id} was merged into customer {customer.merged_into_id}; "
            "use that one"
        )
    if channel_message_id is not None:
        existing = await find_message_by_channel_id(uow.session, channel, channel_message_id)
        if existing is not None:
            return await _replayed_conversation(uow, existing, customer), False
    # Before anything else sees the text: secrets out, risks noted (safety/guard.py).
    (body, subject), guarded = await _guard(uow, [body, subject], language or customer.language)
    if inbox_id is not None:
        inbox = await uow.session.get(Inbox, inbox_id)
        if inbox is None:
            raise InvalidInput(f"inbox {inbox_id} does not exist")
        if team_id is None:
            team_id = inbox.default_team_id
    await _check_team(uow, team_id)
    await _check_assignee(uow, assignee_id)
    await _check_private_team_assignee(uow, team_id, assignee_id)
    clean_tags = normalise_tags(tags)
    now = datetime.now(UTC)
    conversation = Conversation(
        subject=subject.strip()[:300] or body.strip().splitlines()[0][:120],
        channel=channel,
        inbox_id=inbox_id,
        customer_id=customer.id,
        status=Status.NEW if assignee_id is None else Status.OPEN,
        priority=priority,
        language=language or customer.language,
        team_id=team_id,
        assignee_id=assignee_id,
        custom_fields=custom_fields or {},
        tags=sorted(clean_tags),
        message_count=1,
        created_at=now,
        updated_at=now,
        last_message_at=now,
    )
    message = Message(
        author_kind="customer",
        customer_id=customer.id,
        body=body,
        channel=channel,
        channel_message_id=channel_message_id,
        attachments=attachments or [],
        created_at=now,
        safety_flags=guarded.kinds or None,
    )

    author = _author_of(actor, customer)

    async def insert() -> None:
        # Core INSERTs, not a flush: a flush's bookkeeping cost more than these rows.
        await insert_now(uow.session, conversation)
        message.conversation_id = conversation.id
        await insert_now(uow.session, message)
        if clean_tags:
            await execute_many(
                uow.session,
                _INSERT_TAGS,
                [{"conversation_id": conversation.id, "tag": t} for t in clean_tags],
            )
        created = {
            "status": conversation.status,
            "priority": priority,
            "channel": channel,
            "team_id": team_id,
            "assignee_id": assignee_id,
            "tags": clean_tags,
        }
        await insert_now(uow.session, _event(conversation, author, "created", created))

    if channel_message_id is None or not inserts_can_race(uow.session):
        await insert()
    else:
        try:
            async with uow.session.begin_nested():
                await insert()
        except IntegrityError:
            # The savepoint took our conversation's row back; the object insert_now
            # attached must go too, or the session would hold a row that is not there.
            if conversation in uow.session:
                uow.session.expunge(conversation)
            # Another request stored the same channel message first: return its result.
            existing = await find_message_by_channel_id(uow.session, channel, channel_message_id)
            if existing is None:
                raise
            return await _replayed_conversation(uow, existing, customer), False
    await do_sla_on_created(uow, conversation)
    first = {"message": message_payload(message)}
    _announce(uow, conversation, "conversation.created", first, first)
    await _act_on_risks(uow, conversation, message, guarded)
    # Rules, routing and webhooks (automation/hooks.py), in this unit of work.
    await do_automation_on_created(uow, conversation, message)
    return conversation, True


# A channel's message id is stored once (messages' unique constraint).
_MESSAGE_KEY = ("channel", "channel_message_id")


def _check_replayed_message(existing: Message, conversation: Conversation, internal: bool) -> None:
    if existing.conversation_id != conversation.id:
        raise Conflict("this channel message id belongs to another conversation")
    if existing.is_internal != internal:
        # A public resend must never hand back an internal note (customers cannot see those).
        raise Conflict("this channel message id belongs to another message")


async def do_add_message(
    uow: UnitOfWork,
    *,
    actor: Principal | None,
    conversation: Conversation,
    body: str,
    internal: bool = False,
    channel: str | None = None,
    channel_message_id: str | None = None,
    attachments: list[dict[str, Any]] | None = None,
    customer: Customer | None = None,
    author_kind: str | None = None,
) -> tuple[Message, bool]:
    """Add a reply, a note or an incoming customer message. Idempotent per channel message id.

    ``actor`` None with ``customer`` is a channel delivering a customer's message;
    ``author_kind`` "assistant" or "system" is for automated writers.
    """
    channel = channel or conversation.channel
    _validate_choice(channel, CHANNELS, "channel")
    if actor is None and customer is None and author_kind not in ("assistant", "system"):
        raise InvalidInput("a message needs an author: an actor, a customer or an automated writer")
    if actor is not None:
        actor.require_scope("conversations:write")
        if actor.is_customer and internal:
            raise PermissionDenied("customers cannot write internal notes")
        if not actor.is_customer:
            agent = actor.require_agent()
            if not agent.can_reply:
                raise PermissionDenied("viewers cannot reply or write notes")
    if not body.strip() and not attachments:
        raise InvalidInput("a message needs text or an attachment")
    if conversation.status == Status.CLOSED:
        raise Conflict("this conversation is closed; start a new one")
    author = _author_of(actor, customer)
    if author_kind in ("assistant", "system"):
        author = Author(author_kind)
    guarded = GuardedText(body)
    if author.kind != "system":  # system messages are our own words
        (body,), guarded = await _guard(uow, [body], conversation.language)
    now = datetime.now(UTC)
    message = Message(
        conversation_id=conversation.id,
        author_kind=author.kind,
        agent_id=author.agent_id,
        customer_id=author.customer_id,
        is_internal=internal,
        body=body,
        channel=channel,
        channel_message_id=channel_message_id,
        attachments=attachments or [],
        created_at=now,
        safety_flags=guarded.kinds or None,
    )
    if channel_message_id is None:
        await insert_now(uow.session, message)
    elif not await insert_now_unless_exists(uow.session, message, _MESSAGE_KEY):
        # A resend (or a concurrent delivery, which the insert waited for): the stored one.
        existing = await find_message_by_channel_id(uow.session, channel, channel_message_id)
        if existing is None:  # deleted since, with its whole conversation
            raise Conflict("this channel message id was used by a message that is gone")
        _check_replayed_message(existing, conversation, internal)
        return existing, False
    changes: dict[str, Any] = {"message_count": conversation.message_count + 1, "updated_at": now}
    if not internal:
        changes["last_message_at"] = now
        if author.kind == "customer":
            await _set_status(
                uow,
                conversation,
                author,
                status_after_customer_message(Status(conversation.status)),
            )
        elif author.kind == "agent":
            await _set_status(
                uow, conversation, author, status_after_agent_reply(Status(conversation.status))
            )
            if conversation.first_response_at is None:
                changes["first_response_at"] = now
        # The status as _set_status left it, written by the same statement.
        changes["status"] = conversation.status
        changes["solved_at"] = conversation.solved_at
    # One UPDATE built once, not a flush (which cost more than the statement); a status
    # change's history row goes in with the next statement's autoflush.
    await update_now(uow.session, conversation, **changes)
    await do_sla_on_message(uow, conversation, message)
    # Safety (safety/actions.py, safety/queries.py): sign a platform-written public reply;
    # the customer's copy shows their anti-phishing code.
    await do_sign_reply(uow, message, actor)
    code = await code_for_customer_copy(uow.session, message, conversation.customer_id)
    payload = {"message": message_payload(message)}
    customer_copy = {"message": message_payload(message, anti_phishing_code=code)}
    _announce(uow, conversation, "message.created", payload, None if internal else customer_copy)
    await _act_on_risks(uow, conversation, message, guarded)
    await do_automation_on_message(uow, conversation, message)
    return message, True


UNSET: Any = object()


async def do_update_conversation(
    uow: UnitOfWork,
    *,
    actor: Principal,
    conversation: Conversation,
    status: str | None = None,
    priority: str | None = None,
    assignee_id: int | None = UNSET,
    team_id: int | None = UNSET,
    subject: str | None = None,
    tags: Sequence[str] | None = None,
    add_tags: Sequence[str] = (),
    remove_tags: Sequence[str] = (),
    custom_fields: dict[str, Any] | None = None,
) -> Conversation:
    """Change status, priority, assignment, team, subject, tags or custom fields."""
    actor.require_scope("conversations:write")
    if actor.is_customer and conversation.customer_id != actor.customer_id:
        raise PermissionDenied("a customer may only change conversations of their own")
    if not actor.is_customer and not actor.require_agent().can_reply:
        raise PermissionDenied("viewers cannot reply to or change conversations")
    if actor.is_customer:
        # A customer may only mark their own conversation solved (or reopen it).
        if any(v is not None for v in (priority, subject, tags, custom_fields)) or (
            assignee_id is not UNSET or team_id is not UNSET or add_tags or remove_tags
        ):
            raise PermissionDenied("customers may only change the status of a conversation")
        if status not in (None, Status.SOLVED, Status.OPEN):
            raise PermissionDenied("customers may only mark a conversation solved or reopen it")
    author = _author_of(actor)
    changes: dict[str, Any] = {}
    if status is not None and status != conversation.status:
        _validate_choice(status, list(Status), "status")
        try:
            check_transition(Status(conversation.status), Status(status))
        except TransitionError as exc:
            raise Conflict(str(exc)) from None
        await _set_status(uow, conversation, author, status)
        changes["status"] = status
    if priority is not None and priority != conversation.priority:
        _validate_choice(priority, list(Priority), "priority")
        await _record(
            uow,
            conversation,
            author,
            "priority_changed",
            {
                "from": conversation.priority,
                "to": priority,
            },
        )
        changes["priority"] = conversation.priority = priority
    if assignee_id is not UNSET and assignee_id != conversation.assignee_id:
        await _check_assignee(uow, assignee_id)
        await _record(
            uow,
            conversation,
            author,
            "assignee_changed",
            {
                "from": conversation.assignee_id,
                "to": assignee_id,
            },
        )
        changes["assignee_id"] = conversation.assignee_id = assignee_id
        if assignee_id is not None and conversation.status == Status.NEW:
            await _set_status(uow, conversation, author, Status.OPEN)
            changes["status"] = Status.OPEN
    if team_id is not UNSET and team_id != conversation.team_id:
        await _check_team(uow, team_id)
        await _record(
            uow,
            conversation,
            author,
            "team_changed",
            {
                "from": conversation.team_id,
                "to": team_id,
            },
        )
        changes["team_id"] = conversation.team_id = team_id
    if subject is not None and subject.strip() != conversation.subject:
        if not subject.strip():
            raise InvalidInput("subject must not be empty")
        await _record(
            uow,
            conversation,
            author,
            "subject_changed",
            {
                "from": conversation.subject,
                "to": subject.strip(),
            },
        )
        changes["subject"] = conversation.subject = subject.strip()[:300]
    if tags is not None or add_tags or remove_tags:
        await _change_tags(uow, conversation, author, tags, add_tags, remove_tags, changes)
    if custom_fields is not None:
        merged = {**conversation.custom_fields, **custom_fields}
        merged = {key: value for key, value in merged.items() if value is not None}
        if merged != conversation.custom_fields:
            await _record(
                uow, conversation, author, "custom_fields_changed", {"set": custom_fields}
            )
            changes["custom_fields"] = conversation.custom_fields = merged
    if "team_id" in changes or "assignee_id" in changes:
        await _check_private_team_assignee(uow, conversation.team_id, conversation.assignee_id)
    if changes:
        await do_sla_on_update(uow, conversation, changes)
        conversation.updated_at = datetime.now(UTC)
        # The customer hears of status changes only; the rest is the team's business.
        _announce(
            uow,
            conversation,
            "conversation.updated",
            {"changes": sorted(changes)},
            {"changes": ["status"]} if "status" in changes else None,
        )
        await do_automation_on_updated(uow, conversation, changes)
    return conversation


async def _change_tags(
    uow: UnitOfWork,
    conversation: Conversation,
    author: Author,
    tags: Sequence[str] | None,
    add_tags: Sequence[str],
    remove_tags: Sequence[str],
    changes: dict[str, Any],
) -> None:
    current = set(conversation.tags)
    target = set(normalise_tags(tags)) if tags is not None else set(current)
    target |= set(normalise_tags(add_tags))
    target -= set(normalise_tags(remove_tags))
    if len(target) > MAX_TAGS:
        raise InvalidInput(f"a conversation has at most {MAX_TAGS} tags")
    added, removed = sorted(target - current), sorted(current - target)
    if not added and not removed:
        return
    if removed:
        await uow.session.execute(
            delete(ConversationTag).where(
                ConversationTag.conversation_id == conversation.id,
                ConversationTag.tag.in_(removed),
            )
        )
    uow.session.add_all(ConversationTag(conversation_id=conversation.id, tag=t) for t in added)
    await _record(uow, conversation, author, "tags_changed", {"added": added, "removed": removed})
    changes["tags"] = conversation.tags = sorted(target)


async def do_create_inbox(
    uow: UnitOfWork,
    *,
    actor: Principal | None,
    name: str,
    channel: str,
    default_team_id: int | None = None,
) -> Inbox:
    if actor is not None:
        actor.require_admin()
    _validate_choice(channel, CHANNELS, "channel")
    name = name.strip()
    if not name:
        raise InvalidInput("an inbox needs a name")
    if (await uow.session.execute(select(Inbox.id).where(Inbox.name == name))).first() is not None:
        raise Conflict(f"an inbox named {name!r} already exists")
    await _check_team(uow, default_team_id)
    inbox = Inbox(name=name, channel=channel, default_team_id=default_team_id)
    uow.session.add(inbox)
    await uow.session.flush()
    do_record_audit(
        uow,
        agent_id=actor.agent_id if actor else None,
        action="inbox.created",
        object_type="inbox",
        object_id=inbox.id,
        detail={"name": name, "channel": channel},
    )
    return inbox
