"""Ed25519 signatures on agent replies. Pure: no database, no settings.

A signature covers a canonical form of what the customer sees: the conversation
number, the message id, the agent's display name, the time and the body. The
stored and shown form is a self-contained token,

    ldsig1.<base64url(JSON: key id, conversation, message, agent, time)>.<base64url(signature)>

so anyone holding a copy of the message and the token can check it against the
published public keys (``GET /api/v1/verify/keys``) without asking us anything
else. Bodies are compared after light normalisation (Unicode NFC, line endings,
trailing spaces, surrounding blank lines), because copy and paste changes those;
any change of a word still fails.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

TOKEN_PREFIX = "ldsig1"  # noqa: S105 (a format marker, not a secret)
CONTEXT = "ledgerdesk-agent-reply-v1"
TOKEN_PATTERN = re.compile(r"ldsig1\.([A-Za-z0-9_-]{8,4000})\.([A-Za-z0-9_-]{80,90})")
MAX_AGENT_NAME = 200


class SignatureFormatError(ValueError):
    """The text holds no well-formed signature token."""


@dataclass(frozen=True, slots=True)
class SignedFields:
    """What a signature vouches for, besides the body."""

    key_id: str
    conversation: int
    message_id: int
    agent_name: str
    created_at: str  # ISO 8601, UTC, microseconds (see iso_time)


@dataclass(frozen=True, slots=True)
class Signature:
    key_id: str
    value: str  # base64 (standard alphabet) of the 64-byte Ed25519 signature
    token: str  # the self-contained ldsig1 token stored on the message


def iso_time(moment: datetime) -> str:
    """One spelling of a time, whatever the database hands back."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime given; use an aware UTC time")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def normalise_body(body: str) -> str:
    text = unicodedata.normalize("NFC", body).replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(line.rstrip() for line in text.split("\n")).strip()


def canonical_form(fields: SignedFields, body: str) -> bytes:
    """A JSON array, so no field can bleed into another whatever characters it holds."""
    return json.dumps(
        [
            CONTEXT,
            fields.key_id,
            fields.conversation,
            fields.message_id,
            fields.agent_name,
            fields.created_at,
            normalise_body(body),
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode("utf-8")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_key_id(now: datetime | None = None) -> str:
    """``ed25519-20261128-9f3a1c2b``: sortable by date, unique by its random tail."""
    day = (now or datetime.now(UTC)).strftime("%Y%m%d")
    return f"ed25519-{day}-{secrets.token_hex(4)}"


def generate_private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def private_key_bytes(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())


def private_key_from_bytes(raw: bytes) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(raw)


def public_key_text(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return base64.b64encode(public.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode("ascii")


def public_key_from_text(text: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))


def sign_message(
    key: Ed25519PrivateKey,
    *,
    key_id: str,
    conversation: int,
    message_id: int,
    agent_name: str,
    created_at: datetime | str,
    body: str,
) -> Signature:
    """Sign one reply; the result's ``token`` is what the message carries."""
    when = created_at if isinstance(created_at, str) else iso_time(created_at)
    fields = SignedFields(key_id, conversation, message_id, agent_name[:MAX_AGENT_NAME], when)
    raw = key.sign(canonical_form(fields, body))
    header = json.dumps(
        {
            "k": fields.key_id,
            "c": fields.conversation,
            "m": fields.message_id,
            "a": fields.agent_name,
            "t": fields.created_at,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode("utf-8")
    token = f"{TOKEN_PREFIX}.{_b64url(header)}.{_b64url(raw)}"
    return Signature(key_id=key_id, value=base64.b64encode(raw).decode("ascii"), token=token)


def parse_token(token: str) -> tuple[SignedFields, bytes]:
    """The fields a token claims and its raw signature; SignatureFormatError if malformed."""
    match = TOKEN_PATTERN.fullmatch(token.strip())
    if match is None:
        raise SignatureFormatError("not a ledgerdesk signature (it starts with ldsig1.)")
    try:
        header = json.loads(_unb64url(match.group(1)).decode("utf-8"))
        raw = _unb64url(match.group(2))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise SignatureFormatError("the signature is damaged: part of it is missing") from None
    if not isinstance(header, dict) or len(raw) != 64:
        raise SignatureFormatError("the signature is damaged: part of it is missing")
    key_id, conversation = header.get("k"), header.get("c")
    message_id, agent, created = header.get("m"), header.get("a"), header.get("t")
    if not (
        isinstance(key_id, str)
        and isinstance(agent, str)
        and isinstance(created, str)
        and type(conversation) is int
        and type(message_id) is int
    ):
        raise SignatureFormatError("the signature is damaged: its details are unreadable")
    return SignedFields(key_id, conversation, message_id, agent, created), raw


def verify_signed(public_key: Ed25519PublicKey, token: str, body: str) -> SignedFields | None:
    """The signed fields when ``token`` is a valid signature of ``body`` by this key, else None.

    The key must be the one the token names (look it up by ``parse_token(token)[0].key_id``).
    """
    fields, raw = parse_token(token)
    try:
        public_key.verify(raw, canonical_form(fields, body))
    except InvalidSignature:
        return None
    return fields


@dataclass(frozen=True, slots=True)
class PastedMessage:
    body: str
    token: str


def split_pasted(text: str) -> PastedMessage:
    """A pasted block: the message text, then a line holding the ldsig1 token.

    The token's line may carry a label ("Signature: ldsig1...."); everything before
    that line is the body. SignatureFormatError when no token is found.
    """
    matches = list(TOKEN_PATTERN.finditer(text))
    if not matches:
        raise SignatureFormatError(
            "no signature found: paste the whole message including its signature line"
        )
    last = matches[-1]
    line_start = text.rfind("\n", 0, last.start()) + 1
    body = text[:line_start]
    # What the widget puts between body and signature, if the copy kept it.
    body = re.sub(r"\n\s*(--|—)?\s*$", "", body.rstrip())
    return PastedMessage(body=body, token=last.group(0))


def signed_block(body: str, token: str) -> str:
    """The text a customer copies to have a message checked (the widget builds the same)."""
    return f"{body}\n\nSignature: {token}"
