"""Every change of verified support: official channels, the denylist, signing keys,
signatures on replies and customers' anti-phishing codes.

Admin changes are audited; denylist changes announce ``safety.denylist_changed``
after the commit so every process drops its cached copy.
"""

from __future__ import annotations

import logging
import unicodedata
from datetime import UTC, datetime
from typing import cast

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Table, Update, bindparam, exists, select, update
from sqlalchemy.orm.attributes import set_committed_value

from ledgerdesk.accounts.models import Agent
from ledgerdesk.accounts.principal import Principal
from ledgerdesk.accounts.secrets import SecretBox
from ledgerdesk.audit.actions import do_record_audit
from ledgerdesk.conversations.models import Message
from ledgerdesk.customers.models import Customer
from ledgerdesk.db.direct import rowcount
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.errors import Conflict, InvalidInput, PermissionDenied
from ledgerdesk.safety import keyring
from ledgerdesk.safety.denylist import (
    DENYLIST_CHANGED,
    OFFICIAL_CHANNELS_CHANGED,
    normalise_denylist_value,
)
from ledgerdesk.safety.models import (
    ChannelKind,
    DenylistEntry,
    DenylistKind,
    OfficialChannel,
    SigningKey,
)
from ledgerdesk.safety.signing import (
    Signature,
    generate_private_key,
    new_key_id,
    public_key_text,
    sign_message,
)
from ledgerdesk.safety.verify import NotUnderstood, normalise_channel

log = logging.getLogger(__name__)

# Who writes for the platform: their public messages are signed and show the code.
PLATFORM_AUTHORS = ("agent", "assistant")
ASSISTANT_NAME = "AI assistant"
ANTI_PHISHING_MIN, ANTI_PHISHING_MAX = 4, 20


# Official channels -------------------------------------------------------------


async def do_add_official_channel(
    uow: UnitOfWork, *, actor: Principal, kind: str, value: str, note: str = ""
) -> OfficialChannel:
    admin = actor.require_admin()
    if kind not in set(ChannelKind):
        raise InvalidInput(f"kind must be one of: {', '.join(ChannelKind)}")
    try:
        normal = normalise_channel(kind, value)
    except NotUnderstood as exc:
        raise InvalidInput(str(exc)) from None
    existing = await uow.session.execute(
        select(OfficialChannel.id).where(
            OfficialChannel.kind == kind, OfficialChannel.value == normal
        )
    )
    if existing.first() is not None:
        raise Conflict(f"{normal} is already an official {kind} channel")
    channel = OfficialChannel(kind=kind, value=normal, note=note.strip(), created_by_id=admin.id)
    uow.session.add(channel)
    await uow.session.flush()
    do_record_audit(
        uow,
        agent_id=admin.id,
        action="official_channel.added",
        object_type="official_channel",
        object_id=channel.id,
        detail={"kind": kind, "value": normal, "note": channel.note},
        ip=actor.ip,
    )
    uow.emit(OFFICIAL_CHANNELS_CHANGED)
    return channel


async def do_remove_official_channel(
    uow: UnitOfWork, *, actor: Principal, channel: OfficialChannel
) -> None:
    admin = actor.require_admin()
    do_record_audit(
        uow,
        agent_id=admin.id,
        action="official_channel.removed",
        object_type="official_channel",
        object_id=channel.id,
        detail={"kind": channel.kind, "value": channel.value},
        ip=actor.ip,
    )
    await uow.session.delete(channel)
    uow.emit(OFFICIAL_CHANNELS_CHANGED)


# The denylist ------------------------------------------------------------------


async def do_add_denylist_entry(
    uow: UnitOfWork, *, actor: Principal, kind: str, value: str, note: str = ""
) -> DenylistEntry:
    admin = actor.require_admin()
    if kind not in set(DenylistKind):
        raise InvalidInput(f"kind must be one of: {', '.join(DenylistKind)}")
    try:
        normal = normalise_denylist_value(kind, value)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    existing = await uow.session.execute(
        select(DenylistEntry.id).where(DenylistEntry.kind == kind, DenylistEntry.value == normal)
    )
    if existing.first() is not None:
        raise Conflict(f"{normal} is already on the denylist")
    entry = DenylistEntry(kind=kind, value=normal, note=note.strip(), created_by_id=admin.id)
    uow.session.add(entry)
    await uow.session.flush()
    do_record_audit(
        uow,
        agent_id=admin.id,
        action="denylist.added",
        object_type="denylist_entry",
        object_id=entry.id,
        detail={"kind": kind, "value": normal, "note": entry.note},
        ip=actor.ip,
    )
    uow.emit(DENYLIST_CHANGED)
    return entry


async def do_remove_denylist_entry(
    uow: UnitOfWork, *, actor: Principal, entry: DenylistEntry
) -> None:
    admin = actor.require_admin()
    do_record_audit(
        uow,
        agent_id=admin.id,
        action="denylist.removed",
        object_type="denylist_entry",
        object_id=entry.id,
        detail={"kind": entry.kind, "value": entry.value},
        ip=actor.ip,
    )
    await uow.session.delete(entry)
    uow.emit(DENYLIST_CHANGED)


# Signing keys and signatures ------------------------------------------------------


async def _create_signing_key(uow: UnitOfWork, box: SecretBox) -> SigningKey:
    private = generate_private_key()
    row = SigningKey(
        key_id=new_key_id(),
        public_key=public_key_text(private),
        private_key_encrypted=keyring.encrypt_private_key(box, private),
        created_at=datetime.now(UTC),
    )
    uow.session.add(row)
    await uow.session.flush()
    return row


async def _active_signing_key(uow: UnitOfWork, box: SecretBox) -> tuple[SigningKey, bool]:
    """The newest unretired key, made on first use (then the flag is True).

    Two processes may both make the first key at once; both stay valid for
    verification and the newest signs from then on. A key this server key cannot
    decrypt (LEDGERDESK_SECRET_KEY was changed) is retired and replaced.
    """
    found = await uow.session.execute(
        select(SigningKey)
        .where(SigningKey.retired_at.is_(None))
        .order_by(SigningKey.created_at.desc(), SigningKey.key_id.desc())
        .limit(1)
    )
    row = found.scalar_one_or_none()
    if row is not None:
        try:
            keyring.private_key_of(box, row)
            return row, False
        except ValueError:
            log.warning(
                "signing key %s cannot be decrypted with this server key; retiring it and "
                "making a new one (its signatures still verify)",
                row.key_id,
            )
            row.retired_at = datetime.now(UTC)
    return await _create_signing_key(uow, box), True


async def _signing_key(uow: UnitOfWork, box: SecretBox) -> tuple[str, Ed25519PrivateKey, bool]:
    """The key id and private key that sign, and whether they came from the cache.

    The choice is cached for ``keyring.ACTIVE_RECHECK_SECONDS`` (one SELECT less per
    reply). A key made in this transaction is not cached: it exists only if the
    transaction commits.
    """
    database = uow.session.get_bind().engine
    cached = keyring.active_key(database, box)
    if cached is not None:
        return cached[0], cached[1], True
    generation = keyring.active_generation()
    row, made = await _active_signing_key(uow, box)
    private = keyring.private_key_of(box, row)
    if not made:
        keyring.remember_active_key(database, box, row.key_id, private, generation)
    return row.key_id, private, False


def _signature_updates() -> tuple[Update, Update]:
    """The signature UPDATE, plain and guarded by "its key is not retired"; built once."""
    table = cast(Table, Message.__table__)
    keys = cast(Table, SigningKey.__table__)
    plain = (
        update(table)
        .where(table.c.id == bindparam("message_id"))
        .values(signature=bindparam("token"), signing_key_id=bindparam("key_id"))
    )
    unretired = exists().where(keys.c.key_id == bindparam("key_id"), keys.c.retired_at.is_(None))
    return plain, plain.where(unretired)


_UPDATE_SIGNATURE, _UPDATE_SIGNATURE_WHILE_UNRETIRED = _signature_updates()


async def _store_signature(
    uow: UnitOfWork, message: Message, signature: Signature, *, while_unretired: bool
) -> bool:
    """Write the signature on the stored message; with ``while_unretired`` only if its
    key is not retired (False when it is: a rotation since the key was cached)."""
    statement = _UPDATE_SIGNATURE_WHILE_UNRETIRED if while_unretired else _UPDATE_SIGNATURE
    parameters = {"message_id": message.id, "token": signature.token, "key_id": signature.key_id}
    if await rowcount(uow.session, statement, parameters) == 0:
        return False
    # The row has them now; the session must not write them again.
    set_committed_value(message, "signature", signature.token)
    set_committed_value(message, "signing_key_id", signature.key_id)
    return True


async def do_rotate_signing_key(uow: UnitOfWork, *, actor: Principal, box: SecretBox) -> SigningKey:
    """Retire the signing keys in use and make a new one; old signatures still verify."""
    admin = actor.require_admin()
    now = datetime.now(UTC)
    active = await uow.session.execute(select(SigningKey).where(SigningKey.retired_at.is_(None)))
    retired = []
    for row in active.scalars():
        row.retired_at = now
        retired.append(row.key_id)
    row = await _create_signing_key(uow, box)
    # Replies signed here from now on take the new key. Another process finds out within
    # its recheck, or sooner: its cached key fails the check in _store_signature.
    keyring.forget_active_keys()
    do_record_audit(
        uow,
        agent_id=admin.id,
        action="signing_key.rotated",
        object_type="signing_key",
        object_id=row.key_id,
        detail={"retired": retired},
        ip=actor.ip,
    )
    return row


_warned_unsigned = False


async def do_sign_reply(uow: UnitOfWork, message: Message, actor: Principal | None) -> None:
    """Sign a platform-authored public message (agent or assistant) once it has its id.

    Called by ``conversations.actions.do_add_message``. Without a registered server
    key (a script that built no app) the message stays unsigned, with one warning.
    """
    global _warned_unsigned
    if message.is_internal or message.author_kind not in PLATFORM_AUTHORS:
        return
    box = keyring.signing_box()
    if box is None:
        if not _warned_unsigned:
            log.warning("no signing key is registered in this process; replies stay unsigned")
            _warned_unsigned = True
        return
    if message.author_kind == "assistant":
        name = ASSISTANT_NAME
    elif actor is not None and actor.agent is not None:
        name = actor.agent.name
    else:
        agent = await uow.session.get(Agent, message.agent_id) if message.agent_id else None
        name = agent.name if agent is not None else "Support"
    # The signature covers the message id, so it is written by an UPDATE after the INSERT.
    key_id, private, cached = await _signing_key(uow, box)
    signature = _sign(message, name, key_id, private)
    if await _store_signature(uow, message, signature, while_unretired=cached):
        return
    # The cached key was retired meanwhile (rotated in another process; or the database
    # was emptied under this process): a retired key cannot vouch for a later message.
    keyring.forget_active_keys()
    key_id, private, _cached = await _signing_key(uow, box)
    signature = _sign(message, name, key_id, private)
    await _store_signature(uow, message, signature, while_unretired=False)


def _sign(message: Message, name: str, key_id: str, private: Ed25519PrivateKey) -> Signature:
    return sign_message(
        private,
        key_id=key_id,
        conversation=message.conversation_id,
        message_id=message.id,
        agent_name=name,
        created_at=message.created_at,
        body=message.body,
    )


# Anti-phishing codes ---------------------------------------------------------------


def clean_anti_phishing_code(raw: str) -> str:
    code = unicodedata.normalize("NFC", raw).strip()
    if not ANTI_PHISHING_MIN <= len(code) <= ANTI_PHISHING_MAX:
        raise InvalidInput(
            f"an anti-phishing code has {ANTI_PHISHING_MIN} to {ANTI_PHISHING_MAX} characters"
        )
    if not all(char.isalnum() for char in code):
        raise InvalidInput("an anti-phishing code has only letters and digits (any language)")
    return code


async def do_set_anti_phishing_code(
    uow: UnitOfWork, *, actor: Principal, code: str | None
) -> Customer:
    """The customer chooses (or, with None, removes) the code our messages will show."""
    if actor.customer_id is None:
        raise PermissionDenied("only the customer sets their anti-phishing code")
    actor.require_scope("conversations:write")
    customer = await uow.session.get(Customer, actor.customer_id)
    if customer is None:
        raise PermissionDenied("this token's customer no longer exists")
    customer.anti_phishing_code = None if code is None else clean_anti_phishing_code(code)
    # The code itself stays out of the audit log: it is the customer's secret.
    do_record_audit(
        uow,
        agent_id=None,
        action="customer.anti_phishing_code_set" if code else "customer.anti_phishing_code_cleared",
        object_type="customer",
        object_id=customer.id,
        ip=actor.ip,
    )
    return customer
