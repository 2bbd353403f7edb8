"""Signed survey links: pure functions, no I/O (docs/feedback.md, "The link").

A token is ``v1.<conversation id>.<nonce>.<expiry>.<signature>``: the expiry is a
Unix time in seconds, the signature is HMAC-SHA256 over
``ledgerdesk-survey:v1:<conversation id>:<nonce>:<expiry>`` with a key derived
from the app's secret key (so the secret itself signs nothing else), in URL-safe
base64 without padding. The nonce is the survey row's current one: a new round
(a reopened conversation solved again) gets a new nonce, and older links stop
working. Nothing in the token is secret; it only proves that we made it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime

VERSION = "v1"
_KEY_LABEL = b"ledgerdesk feedback survey token v1"
_SHAPE = re.compile(
    r"^v1\.([1-9][0-9]{0,18})\.([A-Za-z0-9_-]{8,40})\.([1-9][0-9]{0,11})\.([A-Za-z0-9_-]{43})$"
)
MAX_TOKEN_LENGTH = 160


class BadToken(ValueError):
    """Not a token we made: malformed, or its signature does not match."""


class ExpiredToken(ValueError):
    """A genuine token past its expiry."""


@dataclass(frozen=True)
class SurveyToken:
    conversation_id: int
    nonce: str
    expires_at: datetime


def _key(secret_key: str) -> bytes:
    return hmac.new(secret_key.encode(), _KEY_LABEL, hashlib.sha256).digest()


def _signature(secret_key: str, conversation_id: int, nonce: str, expiry: int) -> str:
    message = f"ledgerdesk-survey:{VERSION}:{conversation_id}:{nonce}:{expiry}".encode()
    digest = hmac.new(_key(secret_key), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def make_token(secret_key: str, conversation_id: int, nonce: str, expires_at: datetime) -> str:
    if expires_at.tzinfo is None:
        raise ValueError("expires_at must be timezone-aware")
    expiry = int(expires_at.timestamp())
    signature = _signature(secret_key, conversation_id, nonce, expiry)
    return f"{VERSION}.{conversation_id}.{nonce}.{expiry}.{signature}"


def read_token(secret_key: str, token: str, *, now: datetime) -> SurveyToken:
    """The token's content if we signed it and it has not expired.

    The signature is checked before the expiry, so an expired forgery is reported
    as a forgery, and in constant time.
    """
    match = _SHAPE.match(token) if len(token) <= MAX_TOKEN_LENGTH else None
    if match is None:
        raise BadToken("this survey link is not valid; it may have been cut short or changed")
    conversation_id, nonce, expiry = int(match.group(1)), match.group(2), int(match.group(3))
    expected = _signature(secret_key, conversation_id, nonce, expiry)
    if not hmac.compare_digest(expected, match.group(4)):
        raise BadToken("this survey link is not valid; it may have been cut short or changed")
    expires_at = datetime.fromtimestamp(expiry, UTC)
    if now >= expires_at:
        raise ExpiredToken("this survey link has expired")
    return SurveyToken(conversation_id, nonce, expires_at)
