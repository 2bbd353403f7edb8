"""Admins keep the official channels and the scam denylist (API and console); only admins;
every change audited; the scanner's denylist cache follows changes; customers' codes."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import select

from ledgerdesk.audit.models import AuditEntry
from ledgerdesk.customers.models import Customer
from ledgerdesk.db.engine import Database
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.safety.denylist import denylist_cache, normalise_address
from ledgerdesk.safety.models import DenylistEntry, OfficialChannel
from ledgerdesk.safety.queries import load_denylist
from ledgerdesk.settings import Settings
from tests.api_support import API, assert_error, bearer, count
from tests.conftest import World
from tests.test_auth_flow import csrf_of, login

EVM = "0x52908400098527886E0F7030069857D2E4169EE7"
TRON = "TNPeeaaFB7K9cmo4uQpcU32zGK8G1NYqeL"


async def _audit(db: Database, action: str) -> list[AuditEntry]:
    async with db.sessionmaker() as session:
        rows = await session.execute(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        )
    return list(rows.scalars())


# Official channels ---------------------------------------------------------------------


async def test_an_admin_adds_lists_and_removes_official_channels_and_each_change_is_audited(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    added = await client.post(
        f"{API}/safety/official-channels",
        json={"kind": "telegram", "value": "https://t.me/HarborSupport", "note": "Support"},
        headers=world.alice.headers,
    )
    assert added.status_code == 201, added.text
    channel = added.json()
    assert (channel["kind"], channel["value"], channel["note"]) == (
        "telegram",
        "harborsupport",
        "Support",
    )
    assert channel["created_by_id"] == world.alice.agent.id
    again = await client.post(
        f"{API}/safety/official-channels",
        json={"kind": "telegram", "value": "@HARBORSUPPORT"},
        headers=world.alice.headers,
    )
    assert_error(again, 409, "already")
    listed = await client.get(f"{API}/safety/official-channels", headers=world.alice.headers)
    assert [c["value"] for c in listed.json()] == ["harborsupport"]
    removed = await client.delete(
        f"{API}/safety/official-channels/{channel['id']}", headers=world.alice.headers
    )
    assert removed.status_code == 204
    assert await count(db, OfficialChannel) == 0
    assert_error(
        await client.delete(
            f"{API}/safety/official-channels/{channel['id']}", headers=world.alice.headers
        ),
        404,
    )
    [made] = await _audit(db, "official_channel.added")
    [gone] = await _audit(db, "official_channel.removed")
    assert made.agent_id == gone.agent_id == world.alice.agent.id
    assert made.detail["value"] == gone.detail["value"] == "harborsupport"
    answer = (await client.get(f"{API}/verify", params={"q": "@HarborSupport"})).json()
    assert answer["official"] is False, "a removed channel is no longer official"


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        ({"kind": "phone", "value": "020 7946 0000"}, "international"),
        ({"kind": "fax", "value": "+44 20 7946 0000"}, "kind"),
        ({"kind": "domain", "value": ""}, "value"),
        ({"kind": "email", "value": "support@"}, "email"),
        ({"kind": "x", "value": "@a", "extra": 1}, "extra"),
    ],
)
async def test_bad_official_channels_are_refused_with_a_reason(
    client: httpx.AsyncClient, world: World, payload: dict[str, object], words: str
) -> None:
    response = await client.post(
        f"{API}/safety/official-channels", json=payload, headers=world.alice.headers
    )
    error = assert_error(response, 422)
    assert words in (error["message"] + str(error["details"])).lower()


async def test_only_admins_manage_channels_denylist_and_keys(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    customer = await world.make_customer()
    customer_headers = bearer(await world.customer_token(customer))
    for headers in (world.bob.headers, world.victor.headers, customer_headers):
        for method, path, body in (
            ("GET", "/safety/official-channels", None),
            ("POST", "/safety/official-channels", {"kind": "domain", "value": "evil.example"}),
            ("GET", "/safety/denylist", None),
            ("POST", "/safety/denylist", {"kind": "domain", "value": "scam.example"}),
            ("POST", "/safety/signing-keys/rotate", None),
        ):
            response = await client.request(method, f"{API}{path}", json=body, headers=headers)
            assert_error(response, 403)
    assert_error(await client.get(f"{API}/safety/denylist"), 401)
    assert await count(db, OfficialChannel) == 0
    assert await count(db, DenylistEntry) == 0


# The denylist ----------------------------------------------------------------------------


def test_addresses_keep_one_spelling_where_case_means_nothing() -> None:
    assert normalise_address(EVM) == EVM.lower()
    assert normalise_address(" BC1QAR0SRRR7XFKVY5L643LYDNW9RE59GTZZWF5MDQ ") == (
        "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
    )
    assert normalise_address(TRON) == TRON, "base58 is case-sensitive"
    with pytest.raises(ValueError, match="without spaces"):
        normalise_address("0x5290 8400")


async def test_denylist_crud_is_audited_and_the_scanner_sees_changes_at_once(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    async with db.sessionmaker() as session:
        assert await load_denylist(session) == ([], [])  # cached now
    created = []
    for kind, value in (
        ("address", EVM),
        ("address", TRON),
        ("domain", "https://Claim-Harbor.example/airdrop"),
    ):
        response = await client.post(
            f"{API}/safety/denylist",
            json={"kind": kind, "value": value, "note": "reported by a customer"},
            headers=world.alice.headers,
        )
        assert response.status_code == 201, response.text
        created.append(response.json())
    assert [c["value"] for c in created] == [EVM.lower(), TRON, "claim-harbor.example"]
    duplicate = await client.post(
        f"{API}/safety/denylist",
        json={"kind": "address", "value": EVM.lower()},
        headers=world.alice.headers,
    )
    assert_error(duplicate, 409, "already")
    async with db.sessionmaker() as session:
        domains, addresses = await load_denylist(session)
    assert domains == ["claim-harbor.example"]
    assert addresses == sorted([EVM.lower(), TRON])

    only_domains = await client.get(
        f"{API}/safety/denylist", params={"kind": "domain"}, headers=world.alice.headers
    )
    assert [e["value"] for e in only_domains.json()] == ["claim-harbor.example"]
    removed = await client.delete(
        f"{API}/safety/denylist/{created[1]['id']}", headers=world.alice.headers
    )
    assert removed.status_code == 204
    async with db.sessionmaker() as session:
        assert (await load_denylist(session))[1] == [EVM.lower()]
    assert len(await _audit(db, "denylist.added")) == 3
    [gone] = await _audit(db, "denylist.removed")
    assert gone.detail == {"kind": "address", "value": TRON}
    assert gone.agent_id == world.alice.agent.id


async def test_a_process_that_missed_the_event_sees_the_change_after_the_cache_expires(
    db: Database, world: World
) -> None:
    """Without the bus (another process, no Redis) only the cache's lifetime bounds staleness."""
    from ledgerdesk.accounts.principal import Principal
    from ledgerdesk.safety.actions import do_add_denylist_entry

    denylist_cache.clear()
    async with db.sessionmaker() as session:
        assert await load_denylist(session) == ([], [])
    async with UnitOfWork(db.write_sessionmaker()) as uow:  # no bus: nobody is told
        await do_add_denylist_entry(
            uow, actor=Principal(agent=world.alice.agent), kind="domain", value="scam.example"
        )
        await uow.commit()
    async with db.sessionmaker() as session:
        assert await load_denylist(session) == ([], []), "served from the cache"
    denylist_cache.ttl, saved = 0.0, denylist_cache.ttl
    try:
        async with db.sessionmaker() as session:
            assert await load_denylist(session) == (["scam.example"], [])
    finally:
        denylist_cache.ttl = saved
        denylist_cache.clear()


async def test_bad_denylist_entries_are_refused(client: httpx.AsyncClient, world: World) -> None:
    for payload, words in (
        ({"kind": "address", "value": "0x12 34"}, "without spaces"),
        ({"kind": "domain", "value": "localhost"}, "not a domain"),
        ({"kind": "wallet", "value": EVM}, "kind"),
    ):
        response = await client.post(
            f"{API}/safety/denylist", json=payload, headers=world.alice.headers
        )
        error = assert_error(response, 422)
        assert words in (error["message"] + str(error["details"]))


# Anti-phishing codes ------------------------------------------------------------------------


async def test_a_customer_sets_reads_and_clears_their_anti_phishing_code(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    customer = await world.make_customer("Mei")
    headers = bearer(await world.customer_token(customer))
    assert (await client.get(f"{API}/me/anti-phishing-code", headers=headers)).json()[
        "code"
    ] is None
    saved = await client.put(
        f"{API}/me/anti-phishing-code", json={"code": "  Lantern42 "}, headers=headers
    )
    assert saved.status_code == 200 and saved.json()["code"] == "Lantern42"
    assert (await client.get(f"{API}/me/anti-phishing-code", headers=headers)).json()[
        "code"
    ] == "Lantern42"
    for bad, words in (("abc", "4 to 20"), ("has space", "letters and digits"), ("x" * 21, "4")):
        response = await client.put(
            f"{API}/me/anti-phishing-code", json={"code": bad}, headers=headers
        )
        assert_error(response, 422, words)
    assert_error(
        await client.put(
            f"{API}/me/anti-phishing-code", json={"code": "Lantern42"}, headers=world.bob.headers
        ),
        403,
    )
    cleared = await client.delete(f"{API}/me/anti-phishing-code", headers=headers)
    assert cleared.status_code == 204
    async with db.sessionmaker() as session:
        stored = await session.get(Customer, customer.id)
    assert stored is not None and stored.anti_phishing_code is None
    audit = await _audit(db, "customer.anti_phishing_code_set")
    assert len(audit) == 1 and "Lantern42" not in str(audit[0].detail)
    assert len(await _audit(db, "customer.anti_phishing_code_cleared")) == 1


async def test_agents_do_not_see_a_customers_code_in_the_customer_record(
    client: httpx.AsyncClient, world: World
) -> None:
    customer = await world.make_customer("Mei")
    headers = bearer(await world.customer_token(customer))
    await client.put(f"{API}/me/anti-phishing-code", json={"code": "Lantern42"}, headers=headers)
    record = await client.get(f"{API}/customers/{customer.id}", headers=world.bob.headers)
    assert record.status_code == 200
    assert "Lantern42" not in record.text


# The console page ------------------------------------------------------------------------


def _form_action_ids(html: str, what: str) -> list[str]:
    return re.findall(rf'action="/admin/safety/{what}/(\d+)/delete"', html)


async def test_an_admin_manages_channels_and_the_denylist_in_the_console(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    await login(client, "alice@example.org")
    csrf = await csrf_of(client, "/admin/safety")
    page = await client.get("/admin/safety")
    assert "Official channels" in page.text and "Scam denylist" in page.text
    added = await client.post(
        "/admin/safety/channels",
        data={"csrf_token": csrf, "kind": "x", "value": "@HarborExchange", "note": "Our X"},
    )
    assert added.status_code == 303 and added.headers["location"] == "/admin/safety"
    refused = await client.post(
        "/admin/safety/channels", data={"csrf_token": csrf, "kind": "phone", "value": "12"}
    )
    assert "error=" in refused.headers["location"]
    shown = await client.get(refused.headers["location"])
    assert "7 to 15 digits" in shown.text
    await client.post(
        "/admin/safety/denylist",
        data={"csrf_token": csrf, "kind": "address", "value": EVM, "note": "drainer"},
    )
    page = await client.get("/admin/safety")
    assert "harborexchange" in page.text and EVM.lower() in page.text
    [channel_id] = _form_action_ids(page.text, "channels")
    [entry_id] = _form_action_ids(page.text, "denylist")
    forged = await client.post(f"/admin/safety/channels/{channel_id}/delete", data={})
    assert forged.status_code == 400, "no CSRF token, no change"
    await client.post(f"/admin/safety/channels/{channel_id}/delete", data={"csrf_token": csrf})
    await client.post(f"/admin/safety/denylist/{entry_id}/delete", data={"csrf_token": csrf})
    rotate = await client.post("/admin/safety/signing-keys/rotate", data={"csrf_token": csrf})
    assert rotate.status_code == 303
    assert await count(db, OfficialChannel) == 0
    assert await count(db, DenylistEntry) == 0
    assert len(await _audit(db, "signing_key.rotated")) == 1


async def test_the_console_page_is_for_admins_only_and_translated(
    client: httpx.AsyncClient, world: World
) -> None:
    await login(client, "bob@example.org")
    assert (await client.get("/admin/safety")).status_code == 403
    inbox = await client.get("/inbox")
    assert 'href="/admin/safety"' not in inbox.text
    csrf = await csrf_of(client)
    await client.post("/settings/language", data={"csrf_token": csrf, "language": "zh_Hans"})
    refused = await client.post(
        "/admin/safety/channels",
        data={"csrf_token": csrf, "kind": "domain", "value": "evil.example"},
    )
    assert refused.status_code == 403


async def test_the_admin_page_speaks_chinese(client: httpx.AsyncClient, world: World) -> None:
    await login(client, "alice@example.org")
    csrf = await csrf_of(client)
    await client.post("/settings/language", data={"csrf_token": csrf, "language": "zh_Hans"})
    page = await client.get("/admin/safety")
    assert page.status_code == 200
    assert "官方渠道" in page.text and "诈骗黑名单" in page.text
    assert 'href="/admin/safety"' in page.text


async def test_a_denylist_change_in_another_process_empties_this_ones_cache_over_redis(
    db: Database, settings: Settings
) -> None:
    """Two Redis buses with their own connections are what two processes have."""
    import asyncio
    import uuid

    from ledgerdesk.app import create_app
    from ledgerdesk.events.redis_bus import RedisEventBus
    from ledgerdesk.safety.denylist import DENYLIST_CHANGED
    from tests.conftest import require_redis

    url = await require_redis()
    prefix = f"ledgerdesk-test:{uuid.uuid4().hex}:"
    here = RedisEventBus(url, channel_prefix=prefix)
    there = RedisEventBus(url, channel_prefix=prefix)
    saved_ttl, denylist_cache.ttl = denylist_cache.ttl, 3600.0  # only the event may clear it
    try:
        create_app(settings, db=db, bus=here)  # registers the cache's listener on `here`
        async with asyncio.timeout(10):
            await here.start()
        async with db.sessionmaker() as session:
            assert await load_denylist(session) == ([], [])
        # Another process adds an entry: its row, then its announcement.
        async with db.writer() as session:
            session.add(DenylistEntry(kind="domain", value="scam.example"))
            await session.commit()
        async with db.sessionmaker() as session:
            assert await load_denylist(session) == ([], []), "cached until told"
        await there.publish(DENYLIST_CHANGED)
        async with asyncio.timeout(10):
            while True:
                async with db.sessionmaker() as session:
                    if await load_denylist(session) == (["scam.example"], []):
                        break
                await asyncio.sleep(0.05)
    finally:
        await here.close()
        await there.close()
        denylist_cache.ttl = saved_ttl
        denylist_cache.clear()


async def test_registered_domains_and_email_domains_are_official_for_link_checks(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    from ledgerdesk.safety.guard import forget_official_domains, official_domains

    channels = (
        ("domain", "Harbor.Example"),
        ("domain", "harbor.app"),
        ("x", "@harbor"),
        ("email", "support@mail.harbor.example"),
    )
    forget_official_domains()
    async with db.sessionmaker() as session:
        assert await official_domains(session) == ()  # now cached, for 30 s
    for kind, value in channels:
        response = await client.post(
            f"{API}/safety/official-channels",
            json={"kind": kind, "value": value},
            headers=world.alice.headers,
        )
        assert response.status_code == 201, response.text
    # Each change is announced after its commit and empties the cache at once.
    async with db.sessionmaker() as session:
        domains = await official_domains(session)
    assert domains == ("harbor.app", "harbor.example", "mail.harbor.example")
