"""Identity verification of a platform's logged-in users (the Intercom/Chatwoot pattern).

The platform's server computes ``user_hash = hex(HMAC-SHA256(identity secret, user_id))``
and puts it in the page next to the user id. Only someone holding the secret (the
platform's server, and ours) can make a hash that matches, so a visitor cannot claim
another user's id by editing the page. Pure functions, no I/O.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_identity_secret() -> str:
    return secrets.token_hex(32)


def user_hash(secret: str, user_id: str) -> str:
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def verify_user_hash(secret: str, user_id: str, given: str) -> bool:
    """Constant-time comparison, case-insensitive on the hex digits."""
    expected = user_hash(secret, user_id)
    return hmac.compare_digest(expected.encode(), given.strip().lower().encode())


def new_widget_key() -> str:
    """The public key of a web chat inbox (in the embed snippet; not a secret)."""
    return "wk_" + secrets.token_urlsafe(18)
