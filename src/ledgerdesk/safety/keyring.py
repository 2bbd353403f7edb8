"""The process's access to the agent signing keys.

Signing happens inside ``do_add_message``, which every channel calls without the
app's state, so the server's SecretBox is registered here once per process by
``create_app`` (``install_signing_box``). Decrypted private keys are cached by
their ciphertext: a row is immutable, so the cache needs no invalidation, and two
databases in one process (the test suite) cannot mix their keys up.
"""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledgerdesk.accounts.secrets import SecretBox
from ledgerdesk.safety.models import SigningKey
from ledgerdesk.safety.signing import private_key_bytes, private_key_from_bytes

_box: SecretBox | None = None
_private: dict[str, Ed25519PrivateKey] = {}


def install_signing_box(box: SecretBox) -> None:
    global _box
    _box = box


def signing_box() -> SecretBox | None:
    return _box


def encrypt_private_key(box: SecretBox, key: Ed25519PrivateKey) -> str:
    return box.encrypt(base64.b64encode(private_key_bytes(key)).decode("ascii"))


def private_key_of(box: SecretBox, row: SigningKey) -> Ed25519PrivateKey:
    """ValueError when this server key cannot decrypt it (LEDGERDESK_SECRET_KEY changed)."""
    cached = _private.get(row.private_key_encrypted)
    if cached is not None:
        return cached
    key = private_key_from_bytes(base64.b64decode(box.decrypt(row.private_key_encrypted)))
    if len(_private) > 64:
        _private.clear()
    _private[row.private_key_encrypted] = key
    return key
