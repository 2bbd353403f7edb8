"""The cached choice of the reply-signing key (safety/keyring.py): replies do not read
the key, a rotation here or elsewhere never leaves a reply signed with a retired key,
and a newer key made elsewhere takes over after the recheck."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, update

from ledgerdesk.accounts.secrets import SecretBox
from ledgerdesk.db.engine import Database
from ledgerdesk.safety import keyring
from ledgerdesk.safety.models import SigningKey
from ledgerdesk.safety.signing import (
    generate_private_key,
    new_key_id,
    public_key_text,
    signed_block,
)
from ledgerdesk.settings import Settings
from tests.api_support import API, bearer, statements
from tests.conftest import World

BODY = "Your deposit is credited. We never ask for your seed phrase."


@pytest.fixture
def trusted() -> Iterator[None]:
    """The key choice trusted for an hour: nothing but a forget or the retired-key check
    can change it, so no test depends on the clock."""
    keyring.forget_active_keys()
    saved = keyring.ACTIVE_RECHECK_SECONDS
    keyring.ACTIVE_RECHECK_SECONDS = 3600.0
    yield
    keyring.ACTIVE_RECHECK_SECONDS = saved
    keyring.forget_active_keys()


async def _conversation(client: httpx.AsyncClient, world: World) -> int:
    customer = await world.make_customer("Mei")
    token = await world.customer_token(customer)
    opened = await client.post(
        f"{API}/conversations", json={"body": "Where is my deposit?"}, headers=bearer(token)
    )
    assert opened.status_code == 201, opened.text
    number: int = opened.json()["id"]
    return number


async def _reply(client: httpx.AsyncClient, world: World, number: int) -> dict[str, Any]:
    response = await client.post(
        f"{API}/conversations/{number}/messages", json={"body": BODY}, headers=world.bob.headers
    )
    assert response.status_code == 201, response.text
    reply: dict[str, Any] = response.json()
    return reply


async def _check(client: httpx.AsyncClient, reply: dict[str, Any]) -> tuple[bool, str]:
    block = signed_block(reply["body"], reply["signature"])
    answer = (await client.post(f"{API}/verify/message", json={"text": block})).json()
    return answer["valid"], answer["reason"]


async def _new_key_elsewhere(
    elsewhere: Database, settings: Settings, *, retire_others: bool
) -> str:
    """What another process's rotation (or first key) writes; this one is not told."""
    box = SecretBox(settings.secret_key_value())
    private = generate_private_key()
    key_id = new_key_id()
    now = datetime.now(UTC)
    async with elsewhere.writer() as session:
        if retire_others:
            await session.execute(
                update(SigningKey).where(SigningKey.retired_at.is_(None)).values(retired_at=now)
            )
        await session.execute(
            insert(SigningKey).values(
                key_id=key_id,
                public_key=public_key_text(private),
                private_key_encrypted=keyring.encrypt_private_key(box, private),
                created_at=now + timedelta(microseconds=1),
            )
        )
        await session.commit()
    return key_id


async def test_replies_do_not_read_the_signing_key(
    client: httpx.AsyncClient, world: World, db: Database, trusted: None
) -> None:
    number = await _conversation(client, world)
    first = await _reply(client, world, number)  # makes the key, then it is cached
    await _reply(client, world, number)
    with statements(db) as seen:
        replies = [await _reply(client, world, number) for _ in range(3)]
    assert seen, "the listener saw nothing: the test would prove nothing"
    reads = [s for s in seen if s.startswith("SELECT") and "signing_keys" in s]
    assert reads == []
    guarded = [s for s in seen if s.startswith("UPDATE messages SET signature")]
    assert len(guarded) == 3 and all("retired_at IS NULL" in s for s in guarded)
    for reply in replies:
        assert reply["signing_key_id"] == first["signing_key_id"]
        assert await _check(client, reply) == (True, "valid")


async def test_a_rotation_here_signs_the_next_reply_with_the_new_key(
    client: httpx.AsyncClient, world: World, db: Database, trusted: None
) -> None:
    number = await _conversation(client, world)
    await _reply(client, world, number)
    before = await _reply(client, world, number)  # signed with the cached key
    rotated = await client.post(f"{API}/safety/signing-keys/rotate", headers=world.alice.headers)
    assert rotated.status_code == 201, rotated.text
    with statements(db) as seen:
        after = await _reply(client, world, number)
    # The rotation forgot the cached key: no UPDATE tried with the retired one first.
    signing = [s for s in seen if "signing_keys" in s or s.startswith("UPDATE messages SET sig")]
    assert [s.split()[0] for s in signing] == ["SELECT", "UPDATE"], signing
    assert after["signing_key_id"] == rotated.json()["key_id"] != before["signing_key_id"]
    assert await _check(client, before) == (True, "valid")
    assert await _check(client, after) == (True, "valid")


async def test_a_rotation_elsewhere_never_leaves_a_reply_signed_with_the_retired_key(
    client: httpx.AsyncClient,
    world: World,
    db: Database,
    elsewhere: Database,
    settings: Settings,
    trusted: None,
) -> None:
    number = await _conversation(client, world)
    await _reply(client, world, number)  # makes the key (not cached: it might roll back)
    before = await _reply(client, world, number)  # reads it, and caches it
    new_key = await _new_key_elsewhere(elsewhere, settings, retire_others=True)
    with statements(db) as seen:
        after = await _reply(client, world, number)
    # The cached key failed the check in the UPDATE: the key in use was read, and signed.
    assert after["signing_key_id"] == new_key
    assert await _check(client, after) == (True, "valid")
    assert await _check(client, before) == (True, "valid")  # dated before its retirement
    signing = [s for s in seen if "signing_keys" in s or s.startswith("UPDATE messages SET sig")]
    kinds = [(s.split()[0], "retired_at IS NULL" in s) for s in signing]
    # The guarded UPDATE that found the key retired, the SELECT of the key in use, its UPDATE.
    assert kinds == [("UPDATE", True), ("SELECT", True), ("UPDATE", False)], signing
    again = await _reply(client, world, number)
    assert again["signing_key_id"] == new_key
    assert await _check(client, again) == (True, "valid")


async def test_a_newer_key_made_elsewhere_signs_after_the_recheck(
    client: httpx.AsyncClient,
    world: World,
    elsewhere: Database,
    settings: Settings,
    trusted: None,
) -> None:
    number = await _conversation(client, world)
    await _reply(client, world, number)  # makes the key (not cached: it might roll back)
    before = await _reply(client, world, number)  # reads it, and caches it
    # Two unretired keys (two processes made the first key at once): the newest signs.
    newer = await _new_key_elsewhere(elsewhere, settings, retire_others=False)
    still = await _reply(client, world, number)
    assert still["signing_key_id"] == before["signing_key_id"]  # trusted for now
    assert await _check(client, still) == (True, "valid")

    keyring.ACTIVE_RECHECK_SECONDS = 0.0
    after = await _reply(client, world, number)
    assert after["signing_key_id"] == newer
    assert await _check(client, after) == (True, "valid")
