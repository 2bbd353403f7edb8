"""Every change to customers and their identities, merges included."""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from ledgerdesk.accounts.actions import ACCOUNTS_CHANGED
from ledgerdesk.accounts.models import ApiToken
from ledgerdesk.accounts.principal import Principal
from ledgerdesk.audit.actions import do_record_audit
from ledgerdesk.channels.webchat.models import WebchatAttachment
from ledgerdesk.conversations.models import Conversation, ConversationEvent, Message
from ledgerdesk.customers.models import Customer, CustomerIdentity, IdentityKind, Tier
from ledgerdesk.customers.queries import find_by_identity, require_customer_write
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.errors import Conflict, InvalidInput
from ledgerdesk.feedback.models import Survey
from ledgerdesk.realtime.models import StreamEvent

MAX_EMAIL_LENGTH = 254  # customers.email


def normalise_identity(kind: str, value: str) -> str:
    if kind not in set(IdentityKind):
        raise InvalidInput(f"identity kind must be one of: {', '.join(IdentityKind)}")
    value = value.strip()
    if not value:
        raise InvalidInput("identity value must not be empty")
    if kind == IdentityKind.EMAIL:
        if "@" not in value or value.startswith("@") or value.endswith("@"):
            raise InvalidInput(f"{value!r} is not an email address")
        if len(value) > MAX_EMAIL_LENGTH:
            raise InvalidInput(f"an email address has at most {MAX_EMAIL_LENGTH} characters")
        return value.lower()
    return value


async def do_create_customer(
    uow: UnitOfWork,
    *,
    actor: Principal | None,
    name: str = "",
    email: str | None = None,
    language: str | None = None,
    tier: str = Tier.STANDARD,
    identities: list[tuple[str, str]] | None = None,
) -> Customer:
    if actor is not None:
        require_customer_write(actor)
    if tier not in set(Tier):
        raise InvalidInput(f"tier must be one of: {', '.join(Tier)}")
    pairs: list[tuple[str, str]] = []
    for kind, value in identities or []:
        pair = (kind, normalise_identity(kind, value))
        if pair not in pairs:  # the same identity twice is one identity
            pairs.append(pair)
    if email:
        email = normalise_identity(IdentityKind.EMAIL, email)
        if (IdentityKind.EMAIL.value, email) not in pairs:
            pairs.insert(0, (IdentityKind.EMAIL.value, email))
    else:
        email = next((value for kind, value in pairs if kind == IdentityKind.EMAIL), None)
    for kind, value in pairs:
        if await find_by_identity(uow.session, kind, value) is not None:
            raise Conflict(f"a customer with {kind} {value!r} already exists")
    customer = Customer(name=name.strip(), email=email, language=language, tier=tier)
    uow.session.add(customer)
    await uow.session.flush()
    for kind, value in pairs:
        uow.session.add(CustomerIdentity(customer_id=customer.id, kind=kind, value=value))
    if actor is not None:
        do_record_audit(
            uow,
            agent_id=actor.agent_id,
            action="customer.created",
            object_type="customer",
            object_id=customer.id,
        )
    return customer


async def do_find_or_create_customer(
    uow: UnitOfWork, *, kind: str, value: str, name: str = "", language: str | None = None
) -> Customer:
    """Used by channels: one person is one customer whichever channel they write from."""
    value = normalise_identity(kind, value)
    existing = await find_by_identity(uow.session, kind, value)
    if existing is not None:
        return existing
    email = value if kind == IdentityKind.EMAIL else None
    try:
        async with uow.session.begin_nested():
            customer = await do_create_customer(
                uow,
                actor=None,
                name=name,
                email=email,
                language=language,
                identities=[(kind, value)],
            )
            await uow.session.flush()
    except IntegrityError:
        # Another request created this person at the same moment: use that record.
        existing = await find_by_identity(uow.session, kind, value)
        if existing is None:
            raise
        return existing
    return customer


async def do_update_customer(
    uow: UnitOfWork,
    *,
    actor: Principal,
    customer: Customer,
    name: str | None = None,
    language: str | None = None,
    tier: str | None = None,
    notes: str | None = None,
) -> Customer:
    require_customer_write(actor)
    changes: dict[str, object] = {}
    if name is not None:
        customer.name = changes["name"] = name.strip()
    if language is not None:
        customer.language = changes["language"] = language
    if tier is not None:
        if tier not in set(Tier):
            raise InvalidInput(f"tier must be one of: {', '.join(Tier)}")
        customer.tier = changes["tier"] = tier
    if notes is not None:
        customer.notes = notes
        changes["notes"] = "changed"
    do_record_audit(
        uow,
        agent_id=actor.agent_id,
        action="customer.updated",
        object_type="customer",
        object_id=customer.id,
        detail=changes,
    )
    return customer


async def do_add_identity(
    uow: UnitOfWork,
    *,
    actor: Principal | None,
    customer: Customer,
    kind: str,
    value: str,
    verified: bool = False,
) -> CustomerIdentity:
    if actor is not None:
        require_customer_write(actor)
    value = normalise_identity(kind, value)
    owner = await find_by_identity(uow.session, kind, value)
    if owner is not None:
        if owner.id == customer.id:
            raise Conflict(f"this customer already has {kind} {value!r}")
        raise Conflict(
            f"{kind} {value!r} belongs to customer {owner.id}; merge the two customers instead"
        )
    identity = CustomerIdentity(customer_id=customer.id, kind=kind, value=value, verified=verified)
    uow.session.add(identity)
    if kind == IdentityKind.EMAIL and not customer.email:
        customer.email = value
    if actor is not None:
        do_record_audit(
            uow,
            agent_id=actor.agent_id,
            action="customer.identity_added",
            object_type="customer",
            object_id=customer.id,
            detail={"kind": kind},
        )
    return identity


async def _move_attachments(uow: UnitOfWork, survivor_id: int, absorbed_id: int) -> None:
    """Uploads follow their uploader. A file both customers uploaded is one (sha256,
    customer) row (unique): the survivor's row stays, the absorbed one's duplicate goes,
    and the survivor may fetch the file either way (access is by hash and uploader)."""
    survivor_hashes = select(WebchatAttachment.sha256).where(
        WebchatAttachment.customer_id == survivor_id
    )
    for attempt in (1, 2):
        try:
            async with uow.session.begin_nested():
                await uow.session.execute(
                    delete(WebchatAttachment).where(
                        WebchatAttachment.customer_id == absorbed_id,
                        WebchatAttachment.sha256.in_(survivor_hashes),
                    )
                )
                await uow.session.execute(
                    update(WebchatAttachment)
                    .where(WebchatAttachment.customer_id == absorbed_id)
                    .values(customer_id=survivor_id)
                )
            return
        except IntegrityError:
            # PostgreSQL: the survivor uploaded one of these files in a transaction that
            # committed after our DELETE read its rows. Once more sees that row.
            if attempt == 2:
                raise


async def do_merge_customers(
    uow: UnitOfWork, *, actor: Principal, survivor: Customer, absorbed: Customer
) -> Customer:
    """Move everything of ``absorbed`` to ``survivor``; the absorbed record stays as a pointer.

    Every table with a customer reference, and why it moves or stays:

    - identities, conversations, messages, conversation events (actor), API tokens
      (so the absorbed visitor's widget tokens act for the survivor), surveys (CSAT and
      the widget's open cards are read by customer), web chat uploads (the uploader is
      who may fetch a file back): they move.
    - stream_events.customer_id: moves. It says who may read the row's customer view,
      and those conversations are now the survivor's: a widget holding an absorbed
      token (now the survivor's) that resumes from an id before the merge must get the
      entries it missed. The JSON inside the rows stays as it was written.
    - customers.merged_into_id of customers merged into ``absorbed`` earlier: repointed
      at the survivor, so every pointer leads to a live record in one step (web chat
      attachment access follows one step).
    - Stay: audit_log (what was done to which record, history); assistant turns,
      SLA clocks, analytics facts, follow-up jobs and webhook deliveries reference the
      conversation, not the customer, and follow it; help-center votes are keyed by a
      browser cookie; rate limits keyed ``customer:<id>`` (memory or Redis) are windows
      of seconds to minutes and are left to run out.
    """
    require_customer_write(actor)
    if survivor.id == absorbed.id:
        raise InvalidInput("cannot merge a customer into itself")
    if absorbed.merged_into_id is not None or survivor.merged_into_id is not None:
        raise Conflict("one of these customers was already merged into another")
    session = uow.session
    for model, column in (
        (CustomerIdentity, CustomerIdentity.customer_id),
        (Conversation, Conversation.customer_id),
        (Message, Message.customer_id),
        (ConversationEvent, ConversationEvent.actor_customer_id),
        (ApiToken, ApiToken.customer_id),
        (Survey, Survey.customer_id),
        (StreamEvent, StreamEvent.customer_id),
        (Customer, Customer.merged_into_id),
    ):
        await session.execute(
            update(model).where(column == absorbed.id).values({column.key: survivor.id})
        )
    await _move_attachments(uow, survivor.id, absorbed.id)
    # The absorbed customer's tokens now act for the survivor: forget cached principals.
    uow.emit(ACCOUNTS_CHANGED)
    absorbed.merged_into_id = survivor.id
    survivor.name = survivor.name or absorbed.name
    survivor.email = survivor.email or absorbed.email
    survivor.language = survivor.language or absorbed.language
    if absorbed.tier == Tier.VIP:
        survivor.tier = Tier.VIP
    if absorbed.notes:
        survivor.notes = (survivor.notes + "\n\n" + absorbed.notes).strip()
    do_record_audit(
        uow,
        agent_id=actor.agent_id,
        action="customer.merged",
        object_type="customer",
        object_id=survivor.id,
        detail={"absorbed_id": absorbed.id},
    )
    return survivor
