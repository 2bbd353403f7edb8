"""Reads of verified support: answering "is this ours?", checking a pasted signature,
the published keys, the denylist for the scanner, a customer's anti-phishing code."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerdesk.accounts.principal import Principal
from ledgerdesk.conversations.models import Message
from ledgerdesk.customers.models import Customer
from ledgerdesk.db.direct import scalar_one_or_none
from ledgerdesk.db.engine import database_key
from ledgerdesk.errors import InvalidInput, NotFound
from ledgerdesk.safety.actions import PLATFORM_AUTHORS
from ledgerdesk.safety.denylist import Denylist, denylist_cache
from ledgerdesk.safety.models import (
    ChannelKind,
    DenylistEntry,
    DenylistKind,
    OfficialChannel,
    SigningKey,
)
from ledgerdesk.safety.signing import (
    SignatureFormatError,
    SignedFields,
    parse_token,
    public_key_from_text,
    split_pasted,
    verify_signed,
)
from ledgerdesk.safety.verify import (
    Channel,
    NotUnderstood,
    Question,
    channel_advice,
    find_match,
    parse_question,
)

# Official channels and the public check ---------------------------------------------


async def list_official_channels(session: AsyncSession) -> list[OfficialChannel]:
    rows = await session.execute(
        select(OfficialChannel).order_by(OfficialChannel.kind, OfficialChannel.value)
    )
    return list(rows.scalars())


async def access_official_channel(
    session: AsyncSession, actor: Principal, channel_id: int
) -> OfficialChannel:
    actor.require_admin()
    channel = await session.get(OfficialChannel, channel_id)
    if channel is None:
        raise NotFound(f"official channel {channel_id} does not exist")
    return channel


async def _channels(session: AsyncSession, official_hosts: tuple[str, ...]) -> list[Channel]:
    registered = [
        Channel(row.kind, row.value, row.note) for row in await list_official_channels(session)
    ]
    # The install's own domains (LEDGERDESK_OFFICIAL_DOMAINS) are official too.
    configured = [Channel(ChannelKind.DOMAIN, host, "", "settings") for host in official_hosts]
    return registered + configured


def _lookalike(question: Question, channels: list[Channel]) -> str | None:
    """The official domain a host imitates, if the link detector can tell (optional:
    the detector package is written alongside; any change there only loses the hint)."""
    if question.host is None:
        return None
    try:
        from ledgerdesk.safety import links

        check, officials = links.check_host, links._officials
        domains = tuple(c.value for c in channels if c.kind == ChannelKind.DOMAIN)
        found = check(question.host, officials(domains), ())
    except Exception:  # a bonus hint never breaks the answer
        return None
    return found[1] if found is not None and isinstance(found[1], str) else None


def _on_denylist(question: Question, denied_domains: list[str]) -> bool:
    host = question.host
    return host is not None and any(
        host == domain or host.endswith("." + domain) for domain in denied_domains
    )


async def answer_question(
    session: AsyncSession, query: str, official_hosts: tuple[str, ...]
) -> dict[str, Any]:
    """``{"query", "kind", "official", "match", "advice"}`` for the public check."""
    try:
        question = parse_question(query)
    except NotUnderstood as exc:
        raise InvalidInput(str(exc)) from None
    channels = await _channels(session, official_hosts)
    match = find_match(question, channels)
    lookalike = None if match is not None else _lookalike(question, channels)
    denied_domains, _addresses = await load_denylist(session)
    known_scam = match is None and _on_denylist(question, denied_domains)
    kind = match.kind if match is not None and question.kind == "handle" else question.kind
    return {
        "query": query,
        "kind": str(kind),
        "normalised": question.value,
        "official": match is not None,
        "match": (
            None
            if match is None
            else {"kind": match.kind, "value": match.value, "note": match.note}
        ),
        "lookalike_of": lookalike,
        "known_scam": known_scam,
        "advice": channel_advice(str(kind), match is not None, lookalike, known_scam),
    }


# Signatures -------------------------------------------------------------------------


async def signing_keys(session: AsyncSession) -> list[SigningKey]:
    rows = await session.execute(
        select(SigningKey).order_by(SigningKey.created_at.desc(), SigningKey.key_id)
    )
    return list(rows.scalars())


@dataclass(frozen=True)
class MessageCheck:
    valid: bool
    reason: str  # valid, no_signature, malformed, unknown_key, retired_key, mismatch
    fields: SignedFields | None = None

    def as_dict(self) -> dict[str, Any]:
        fields = self.fields
        return {
            "valid": self.valid,
            "reason": self.reason,
            "agent": fields.agent_name if fields and self.valid else None,
            "conversation": fields.conversation if fields and self.valid else None,
            "message_id": fields.message_id if fields and self.valid else None,
            "created_at": fields.created_at if fields and self.valid else None,
            "key_id": fields.key_id if fields else None,
            "advice": signature_advice(self),
        }


async def check_pasted_message(session: AsyncSession, text: str) -> MessageCheck:
    """Is this pasted message (body, then its signature line) signed by one of our keys?"""
    try:
        pasted = split_pasted(text)
    except SignatureFormatError:
        return MessageCheck(False, "no_signature")
    try:
        claimed, _raw = parse_token(pasted.token)
    except SignatureFormatError:
        return MessageCheck(False, "malformed")
    key = await session.get(SigningKey, claimed.key_id)
    if key is None:
        return MessageCheck(False, "unknown_key", claimed)
    fields = verify_signed(public_key_from_text(key.public_key), pasted.token, pasted.body)
    if fields is None:
        return MessageCheck(False, "mismatch", claimed)
    if key.retired_at is not None:
        try:
            signed_at = datetime.fromisoformat(fields.created_at)
        except ValueError:
            return MessageCheck(False, "malformed", claimed)
        if signed_at.tzinfo is None or signed_at > key.retired_at:
            return MessageCheck(False, "retired_key", claimed)
    return MessageCheck(True, "valid", fields)


_SIGNATURE_ADVICE = {
    "valid": (
        "This message was written by {agent} of our support team (conversation #{conversation}). "
        "Even so, we never ask for seed phrases, private keys or passwords.",
        "此消息由我们的客服 {agent} 发送（会话 #{conversation}）。即便如此，我们绝不会索要"
        "助记词、私钥或密码。",
    ),
    "no_signature": (
        "We found no signature. Paste the whole message, including its last line that "
        "starts with 'Signature: ldsig1.'. A message without one is not from our agents.",
        "未找到签名。请粘贴完整消息，包括以“Signature: ldsig1.”开头的最后一行。"
        "没有签名的消息并非来自我们的客服。",
    ),
    "malformed": (
        "The signature is damaged or incomplete. Copy the message again; if it still fails, "
        "do not trust it.",
        "签名已损坏或不完整。请重新复制消息；如果仍然失败，请不要相信它。",
    ),
    "unknown_key": (
        "This signature was not made with any of our keys. The message is NOT from us: do not "
        "follow its instructions.",
        "此签名并非由我们的密钥生成。该消息不是我们发送的：请勿按其指示操作。",
    ),
    "retired_key": (
        "This signature uses a key we retired before the date it claims. Treat the message as "
        "NOT from us.",
        "此签名使用的密钥在其声称的日期之前已停用。请将该消息视为并非我们发送。",
    ),
    "mismatch": (
        "The signature does not match this text: the message was changed or the signature "
        "was copied from another one. It is NOT a genuine message from us.",
        "签名与此文本不符：消息已被篡改，或签名是从其他消息复制的。这不是我们发送的真实消息。",
    ),
}


def signature_advice(check: MessageCheck) -> dict[str, str]:
    en, zh = _SIGNATURE_ADVICE[check.reason]
    values: dict[str, Any] = {"agent": "", "conversation": ""}
    if check.valid and check.fields is not None:
        values = {"agent": check.fields.agent_name, "conversation": check.fields.conversation}
    return {"en": en.format(**values), "zh-Hans": zh.format(**values)}


# The denylist -----------------------------------------------------------------------


async def list_denylist(session: AsyncSession, kind: str | None = None) -> list[DenylistEntry]:
    statement = select(DenylistEntry).order_by(DenylistEntry.kind, DenylistEntry.value)
    if kind is not None:
        statement = statement.where(DenylistEntry.kind == kind)
    return list((await session.execute(statement)).scalars())


async def access_denylist_entry(
    session: AsyncSession, actor: Principal, entry_id: int
) -> DenylistEntry:
    actor.require_admin()
    entry = await session.get(DenylistEntry, entry_id)
    if entry is None:
        raise NotFound(f"denylist entry {entry_id} does not exist")
    return entry


async def load_denylist(session: AsyncSession) -> tuple[list[str], list[str]]:
    """(domains, addresses) on the denylist, for the scanner; cached per process.

    Addresses are in the form of ``safety.denylist.normalise_address``; domains in
    their ASCII (xn--) form, each also covering its subdomains.
    """
    # One cached list per database (a process may talk to several: the test suite).
    key = database_key(session)
    cached = denylist_cache.get(key)
    if cached is not None:
        return list(cached.domains), list(cached.addresses)
    rows = await session.execute(select(DenylistEntry.kind, DenylistEntry.value))
    domains: list[str] = []
    addresses: list[str] = []
    for kind, value in rows:
        (domains if kind == DenylistKind.DOMAIN else addresses).append(value)
    denylist_cache.put(key, Denylist(sorted(domains), sorted(addresses)))
    return sorted(domains), sorted(addresses)


# Anti-phishing codes ----------------------------------------------------------------


# One column, not the whole customer, and built once: every agent reply asks. A Core
# select (the table's columns, not the mapped ones), so it can run directly (db/direct.py).
_CUSTOMERS = Customer.__table__.c
_CODE_OF = select(_CUSTOMERS.anti_phishing_code).where(_CUSTOMERS.id == bindparam("customer_id"))


async def anti_phishing_code_of(session: AsyncSession, customer_id: int) -> str | None:
    code: str | None = await scalar_one_or_none(session, _CODE_OF, {"customer_id": customer_id})
    return code


async def code_for_customer_copy(
    session: AsyncSession, message: Message, customer_id: int
) -> str | None:
    """The code the customer's copy of ``message`` shows: platform-written public ones."""
    if message.is_internal or message.author_kind not in PLATFORM_AUTHORS:
        return None
    return await anti_phishing_code_of(session, customer_id)
