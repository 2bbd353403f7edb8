"""Every change the web chat channel makes: inbox settings, widget sessions, uploads,
the offline email hand-over, and agent presence.

Like all actions these stage changes on a unit of work; the caller commits once.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from ledgerdesk.accounts.actions import do_create_api_token
from ledgerdesk.accounts.principal import CUSTOMER_SCOPES, Principal
from ledgerdesk.accounts.queries import authenticate_token
from ledgerdesk.accounts.secrets import SecretBox
from ledgerdesk.audit.actions import do_record_audit
from ledgerdesk.channels.webchat.identity import (
    new_identity_secret,
    new_widget_key,
    verify_user_hash,
)
from ledgerdesk.channels.webchat.models import (
    AgentPresence,
    PresenceStatus,
    WebchatAttachment,
    WebchatToken,
)
from ledgerdesk.channels.webchat.origins import normalise_origins
from ledgerdesk.channels.webchat.queries import CHANNEL, inbox_of_token
from ledgerdesk.channels.webchat.texts import EMAIL_RECORDED, choose_language
from ledgerdesk.conversations.actions import do_add_message, do_create_inbox
from ledgerdesk.conversations.models import Conversation, Inbox
from ledgerdesk.conversations.queries import access_conversation
from ledgerdesk.conversations.status import Status
from ledgerdesk.customers.actions import do_add_identity, do_find_or_create_customer
from ledgerdesk.customers.models import Customer, IdentityKind
from ledgerdesk.customers.queries import access_customer, find_by_identity, identities_of
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.errors import Conflict, InvalidInput, NotAuthenticated, PermissionDenied

EMAIL_SHAPE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s.]{2,}$")

# Inbox settings -------------------------------------------------------------------


async def do_enable_webchat(
    uow: UnitOfWork,
    *,
    actor: Principal | None,
    box: SecretBox,
    inbox: Inbox,
    allowed_origins: list[str] | None = None,
    greetings: dict[str, str] | None = None,
    widget_key: str | None = None,
) -> str:
    """Give a web chat inbox its widget key and identity secret; returns the secret (once)."""
    if actor is not None:
        actor.require_admin()
    if inbox.channel != CHANNEL:
        raise InvalidInput(f"inbox {inbox.name!r} is a {inbox.channel} inbox, not web chat")
    try:
        origins = normalise_origins(allowed_origins or [])
    except ValueError as exc:
        raise InvalidInput(f"allowed_origins: {exc}") from None
    secret = new_identity_secret()
    inbox.widget_key = widget_key or inbox.widget_key or new_widget_key()
    inbox.allowed_origins = origins
    inbox.greetings = dict(greetings or {})
    inbox.identity_secret_encrypted = box.encrypt(secret)
    do_record_audit(
        uow,
        agent_id=actor.agent_id if actor else None,
        action="webchat.enabled",
        object_type="inbox",
        object_id=inbox.id,
        detail={"allowed_origins": origins},
    )
    return secret


async def do_create_webchat_inbox(
    uow: UnitOfWork,
    *,
    actor: Principal | None,
    box: SecretBox,
    name: str,
    default_team_id: int | None = None,
    allowed_origins: list[str] | None = None,
    greetings: dict[str, str] | None = None,
    widget_key: str | None = None,
) -> tuple[Inbox, str]:
    inbox = await do_create_inbox(
        uow, actor=actor, name=name, channel=CHANNEL, default_team_id=default_team_id
    )
    secret = await do_enable_webchat(
        uow,
        actor=actor,
        box=box,
        inbox=inbox,
        allowed_origins=allowed_origins,
        greetings=greetings,
        widget_key=widget_key,
    )
    await uow.session.flush()
    return inbox, secret


async def do_update_webchat_inbox(
    uow: UnitOfWork,
    *,
    actor: Principal,
    inbox: Inbox,
    allowed_origins: list[str] | None = None,
    greetings: dict[str, str] | None = None,
) -> Inbox:
    actor.require_admin()
    changes: dict[str, object] = {}
    if allowed_origins is not None:
        try:
            inbox.allowed_origins = changes["allowed_origins"] = normalise_origins(allowed_origins)
        except ValueError as exc:
            raise InvalidInput(f"allowed_origins: {exc}") from None
    if greetings is not None:
        inbox.greetings = dict(greetings)
        changes["greetings"] = sorted(greetings)
    do_record_audit(
        uow,
        agent_id=actor.agent_id,
        action="webchat.updated",
        object_type="inbox",
        object_id=inbox.id,
        detail=changes,
    )
    return inbox


async def do_rotate_identity_secret(
    uow: UnitOfWork, *, actor: Principal, box: SecretBox, inbox: Inbox
) -> str:
    """A new identity secret; hashes made with the old one stop working at once."""
    actor.require_admin()
    secret = new_identity_secret()
    inbox.identity_secret_encrypted = box.encrypt(secret)
    do_record_audit(
        uow,
        agent_id=actor.agent_id,
        action="webchat.identity_secret_rotated",
        object_type="inbox",
        object_id=inbox.id,
    )
    return secret


# Widget sessions ------------------------------------------------------------------


@dataclass(frozen=True)
class WidgetSession:
    token: str
    customer: Customer
    verified_user: bool
    language: str


async def _returning_visitor(
    uow: UnitOfWork, inbox: Inbox, visitor_token: str | None
) -> tuple[Principal, WebchatToken] | None:
    """The visitor behind a token this inbox issued earlier; None for a stale or foreign one
    (the widget then simply starts over as a new visitor)."""
    if not visitor_token:
        return None
    try:
        principal = await authenticate_token(uow.session, visitor_token, None)
    except NotAuthenticated:
        return None
    binding = await inbox_of_token(uow.session, principal.token_id)
    if principal.customer_id is None or binding is None or binding.inbox_id != inbox.id:
        return None
    return principal, binding


def _check_user_hash(box: SecretBox, inbox: Inbox, user_id: str, user_hash: str | None) -> None:
    if inbox.identity_secret_encrypted is None:
        raise PermissionDenied(
            "identity verification is not set up for this inbox, so user_id cannot be "
            "accepted; leave it out to chat as an anonymous visitor"
        )
    if not user_hash:
        raise PermissionDenied(
            "user_id must come with user_hash: hex HMAC-SHA256 of the user_id, keyed with "
            "the inbox's identity secret and computed on your server (see docs/webchat.md)"
        )
    try:
        secret = box.decrypt(inbox.identity_secret_encrypted)
    except ValueError:
        raise PermissionDenied(
            "identity verification is unavailable: this inbox's identity secret was "
            "encrypted with another server key; an admin must rotate it"
        ) from None
    if not verify_user_hash(secret, user_id, user_hash):
        raise PermissionDenied(
            "user_hash does not match user_id; compute it on your server as hex "
            "HMAC-SHA256(identity secret, user_id) with this inbox's current secret"
        )


async def _issue_token(
    uow: UnitOfWork, inbox: Inbox, customer: Customer, verified: bool, expires_at: datetime
) -> str:
    token, api_token = await do_create_api_token(
        uow,
        actor=None,
        name=f"webchat:{inbox.id}",
        scopes=sorted(CUSTOMER_SCOPES),
        customer_id=customer.id,
        expires_at=expires_at,
    )
    uow.session.add(WebchatToken(token_id=api_token.id, inbox_id=inbox.id, verified_user=verified))
    return token


async def _offer_email(uow: UnitOfWork, customer: Customer, email: str | None) -> None:
    """An email the host page passed along: linked when nobody else has it (unverified)."""
    if not email or not EMAIL_SHAPE.match(email.strip()):
        return
    value = email.strip().lower()
    owner = await find_by_identity(uow.session, IdentityKind.EMAIL, value)
    if owner is None and not customer.email:
        await do_add_identity(
            uow, actor=None, customer=customer, kind=IdentityKind.EMAIL, value=value
        )


async def do_start_widget_session(
    uow: UnitOfWork,
    *,
    box: SecretBox,
    inbox: Inbox,
    visitor_token: str | None,
    user_id: str | None,
    user_hash: str | None,
    name: str | None,
    email: str | None,
    language: str | None,
    token_lifetime: timedelta,
    now: datetime,
) -> WidgetSession:
    """Find or make the visitor's customer and give the widget a customer token.

    An anonymous visitor is a customer with a random ``webchat`` identity; the token
    the widget keeps in localStorage brings the same customer back on the next page.
    A platform's logged-in user proves their id with ``user_hash`` and is found or
    made by their ``platform_user`` identity, whichever browser they use.
    """
    language = choose_language(language)
    if user_hash is not None and user_id is None:
        raise InvalidInput("user_hash was given without the user_id it signs")
    returning = await _returning_visitor(uow, inbox, visitor_token)
    reuse: str | None = None
    if user_id is not None:
        _check_user_hash(box, inbox, user_id, user_hash)
        customer = await do_find_or_create_customer(
            uow,
            kind=IdentityKind.PLATFORM_USER,
            value=user_id,
            name=name or "",
            language=language,
        )
        verified = True
        if (
            returning is not None
            and returning[0].customer_id == customer.id
            and returning[1].verified_user
        ):
            reuse = visitor_token
    elif returning is not None:
        assert returning[0].customer_id is not None
        customer = await access_customer(uow.session, returning[0], returning[0].customer_id)
        verified = returning[1].verified_user
        reuse = visitor_token
    else:
        customer = await do_find_or_create_customer(
            uow,
            kind=IdentityKind.WEBCHAT,
            value="wc-" + secrets.token_hex(8),
            name=name or "",
            language=language,
        )
        verified = False
    if name and not customer.name:
        customer.name = name.strip()
    await _offer_email(uow, customer, email)
    token = reuse or await _issue_token(
        uow, inbox, customer, verified, expires_at=now + token_lifetime
    )
    return WidgetSession(token, customer, verified, language)


async def has_email(uow: UnitOfWork, customer: Customer) -> bool:
    if customer.email:
        return True
    return any(i.kind == IdentityKind.EMAIL for i in await identities_of(uow.session, customer.id))


# Attachments ----------------------------------------------------------------------


async def do_record_attachment(
    uow: UnitOfWork,
    *,
    customer_id: int,
    sha256: str,
    filename: str,
    content_type: str,
    size: int,
) -> WebchatAttachment:
    """Remember who uploaded these bytes (once per customer and file)."""

    async def existing() -> WebchatAttachment | None:
        result = await uow.session.execute(
            select(WebchatAttachment).where(
                WebchatAttachment.sha256 == sha256, WebchatAttachment.customer_id == customer_id
            )
        )
        return result.scalar_one_or_none()

    found = await existing()
    if found is not None:
        return found
    row = WebchatAttachment(
        sha256=sha256,
        customer_id=customer_id,
        filename=filename,
        content_type=content_type,
        size=size,
    )
    try:
        async with uow.session.begin_nested():
            uow.session.add(row)
            await uow.session.flush()
    except IntegrityError:
        found = await existing()
        if found is None:
            raise
        return found
    return row


# The offline hand-over ------------------------------------------------------------


async def _latest_open_conversation(uow: UnitOfWork, customer_id: int) -> int | None:
    result = await uow.session.execute(
        select(Conversation.id)
        .where(
            Conversation.customer_id == customer_id,
            Conversation.channel == CHANNEL,
            Conversation.status != Status.CLOSED,
        )
        .order_by(Conversation.id.desc())
        .limit(1)
    )
    return result.scalar_one_or_none()


async def do_leave_email(
    uow: UnitOfWork,
    *,
    principal: Principal,
    email: str,
    conversation_id: int | None,
) -> tuple[str, Conversation | None]:
    """No agent is online: the visitor leaves an email address for the reply.

    The address becomes an email identity of the visitor's customer, and the
    conversation gets a system message saying that replies go by email.
    """
    if principal.customer_id is None:
        raise PermissionDenied("only a visitor's token may leave an email address")
    principal.require_scope("conversations:write")
    value = email.strip().lower()
    if not EMAIL_SHAPE.match(value) or len(value) > 254:
        raise InvalidInput(f"{email.strip()[:60]!r} is not an email address")
    customer = await access_customer(uow.session, principal, principal.customer_id)
    owner = await find_by_identity(uow.session, IdentityKind.EMAIL, value)
    if owner is not None and owner.id != customer.id:
        raise Conflict(
            "this email address already belongs to another customer record, so the chat "
            "cannot link it; give another address, or write to us from that one"
        )
    if owner is None:
        await do_add_identity(
            uow, actor=None, customer=customer, kind=IdentityKind.EMAIL, value=value
        )
    if conversation_id is None:
        conversation_id = await _latest_open_conversation(uow, customer.id)
    conversation = None
    if conversation_id is not None:
        conversation = await access_conversation(
            uow.session, principal, conversation_id, write=True
        )
        if conversation.status == Status.CLOSED:
            raise Conflict("this conversation is closed; start a new one")
        language = choose_language(conversation.language or customer.language)
        body = EMAIL_RECORDED[language].format(email=value)
        await do_add_message(
            uow, actor=None, conversation=conversation, body=body, author_kind="system"
        )
    return value, conversation


# Presence -------------------------------------------------------------------------


async def do_touch_presence(
    uow: UnitOfWork, agent_id: int, status: str, now: datetime | None = None
) -> None:
    """Record that an agent is online, away or offline as of ``now`` (one row per agent).

    Called by the real-time connection of agents (on ready and on heartbeats) and by
    the console. An upsert, so concurrent touches from several processes never fail.
    """
    if status not in set(PresenceStatus):
        raise InvalidInput(f"status must be one of: {', '.join(PresenceStatus)}")
    now = now or datetime.now(UTC)
    dialect = uow.session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(AgentPresence).values(agent_id=agent_id, status=status, last_seen_at=now)
    statement = statement.on_conflict_do_update(
        index_elements=[AgentPresence.agent_id],
        set_={"status": status, "last_seen_at": now},
    )
    await uow.session.execute(statement)
