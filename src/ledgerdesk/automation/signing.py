"""Webhook signatures, in the shape Stripe uses: ``t=<unix seconds>,v1=<hex>``.

``v1`` is HMAC-SHA256 with the subscription's secret over ``"<t>." + body``. The
receiver recomputes it over the raw body and rejects an old ``t`` (replays).
"""

from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "Ledgerdesk-Signature"
DEFAULT_TOLERANCE = 300


def sign(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(
    secret: str,
    body: bytes,
    header: str,
    *,
    now: float | None = None,
    tolerance: int = DEFAULT_TOLERANCE,
) -> bool:
    """True if one ``v1`` in the header is right for this body and ``t`` is recent."""
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        parts.setdefault(key, []).append(value)
    try:
        timestamp = int(parts.get("t", [""])[0])
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        return False
    expected = sign(secret, body, timestamp).split("v1=", 1)[1]
    return any(hmac.compare_digest(expected, given) for given in parts.get("v1", []))
