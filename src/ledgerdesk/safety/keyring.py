"""The process's access to the agent signing keys.

Signing happens inside ``do_add_message``, which every channel calls without the
app's state, so the server's SecretBox is registered here once per process by
``create_app`` (``install_signing_box``). Decrypted private keys are cached by
their ciphertext: a row is immutable, so the cache needs no invalidation, and two
databases in one process (the test suite) cannot mix their keys up.

Which key signs is cached too, per database and server key, and asked again after
``ACTIVE_RECHECK_SECONDS``; a rotation in this process forgets it at once. A reply
signed with a cached key is stored only while that key is still unretired (the
signature's UPDATE checks it, see ``safety.actions.do_sign_reply``), so a rotation in
another process never leaves replies signed with a retired key: the first reply after
it finds the key retired and signs again with the new one.
"""

from __future__ import annotations

import base64
import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.engine import Engine

from ledgerdesk.accounts.secrets import SecretBox
from ledgerdesk.safety.models import SigningKey
from ledgerdesk.safety.signing import private_key_bytes, private_key_from_bytes

_box: SecretBox | None = None
_private: dict[str, Ed25519PrivateKey] = {}

# How long the choice of the signing key is trusted (tests set it).
ACTIVE_RECHECK_SECONDS = 3.0
# (database, server key) -> (checked at, key id, private key)
_active: dict[tuple[Engine, SecretBox], tuple[float, str, Ed25519PrivateKey]] = {}
_generation = 0  # bumped by every forget: a reading begun before it is not kept


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


def active_key(database: Engine, box: SecretBox) -> tuple[str, Ed25519PrivateKey] | None:
    """The key id and private key that sign replies, if chosen less than a recheck ago."""
    cached = _active.get((database, box))
    if cached is None or time.monotonic() - cached[0] >= ACTIVE_RECHECK_SECONDS:
        return None
    return cached[1], cached[2]


def active_generation() -> int:
    return _generation


def remember_active_key(
    database: Engine, box: SecretBox, key_id: str, key: Ed25519PrivateKey, generation: int
) -> None:
    """Keep the choice, unless the keys were forgotten since ``generation`` was taken."""
    if generation != _generation:
        return
    if len(_active) > 100:  # one entry per database; more means a test run
        _active.clear()
    _active[(database, box)] = (time.monotonic(), key_id, key)


def forget_active_keys() -> None:
    """A rotation here, or a cached key found retired: choose again on the next reply."""
    global _generation
    _generation += 1
    _active.clear()
