"""The knowledge base API for agents: CRUD, versions, votes, export, permissions."""

from __future__ import annotations

from typing import Any

import httpx

from ledgerdesk.db.engine import Database
from ledgerdesk.knowledge.models import Article
from tests.api_support import API, assert_error, count
from tests.conftest import World

KB = f"{API}/kb"
ARTICLE = {
    "slug": "withdrawal-limits",
    "locale": "en",
    "title": "Withdrawal limits",
    "body": "Verified accounts withdraw up to 100 BTC a day.",
    "category": "withdrawals",
    "tags": ["limits", "KYC"],
}


async def create(client: httpx.AsyncClient, world: World, **fields: Any) -> dict[str, Any]:
    response = await client.post(
        f"{KB}/articles", json={**ARTICLE, **fields}, headers=world.alice.headers
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_an_admin_creates_reads_and_lists_articles(
    client: httpx.AsyncClient, world: World
) -> None:
    created = await create(client, world, locale="zh-hans", title="提币限额")
    assert created["locale"] == "zh-Hans"
    assert created["status"] == "draft" and created["version"] == 1
    assert created["url"] == "/help/zh-Hans/a/withdrawal-limits"
    await create(client, world, status="published")
    got = await client.get(f"{KB}/articles/{created['id']}", headers=world.bob.headers)
    assert got.json()["title"] == "提币限额"
    listed = await client.get(
        f"{KB}/articles", params={"locale": "zh_Hans"}, headers=world.victor.headers
    )
    assert [a["title"] for a in listed.json()["items"]] == ["提币限额"]
    published = await client.get(
        f"{KB}/articles", params={"status": "published", "tag": "kyc"}, headers=world.bob.headers
    )
    assert [a["locale"] for a in published.json()["items"]] == ["en"]


async def test_agents_and_viewers_read_drafts_but_cannot_change_anything(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    article = await create(client, world)
    for person in (world.bob, world.victor):
        headers = person.headers
        response = await client.get(f"{KB}/articles/{article['id']}", headers=headers)
        assert response.status_code == 200
        refused = [
            await client.post(f"{KB}/articles", json={**ARTICLE, "slug": "x"}, headers=headers),
            await client.patch(
                f"{KB}/articles/{article['id']}", json={"title": "Hacked"}, headers=headers
            ),
            await client.post(f"{KB}/articles/{article['id']}/publish", headers=headers),
            await client.delete(f"{KB}/articles/{article['id']}", headers=headers),
            await client.put(f"{KB}/categories/withdrawals", json={"names": {}}, headers=headers),
        ]
        for response in refused:
            assert_error(response, 403, "admins and supervisors")
    assert await count(db, Article) == 1


async def test_a_customer_token_is_refused(client: httpx.AsyncClient, world: World) -> None:
    customer = await world.make_customer()
    token = await world.customer_token(customer)
    response = await client.get(f"{KB}/articles", headers={"Authorization": f"Bearer {token}"})
    assert_error(response, 403, "help center")


async def test_without_credentials_the_api_is_closed(client: httpx.AsyncClient) -> None:
    assert_error(await client.get(f"{KB}/articles"), 401)


async def test_an_update_reports_what_changed_and_keeps_the_history(
    client: httpx.AsyncClient, world: World
) -> None:
    article = await create(client, world)
    url = f"{KB}/articles/{article['id']}"
    response = await client.patch(
        url, json={"body": "Up to 50 BTC.", "status": "published", "version": 1},
        headers=world.alice.headers,
    )  # fmt: skip
    assert response.status_code == 200, response.text
    assert response.json()["changed"] == ["body", "status"]
    assert response.json()["article"]["version"] == 2
    stale = await client.patch(
        url, json={"title": "Old", "version": 1}, headers=world.alice.headers
    )
    assert_error(stale, 409, "version 2, not 1")
    versions = await client.get(f"{url}/versions", headers=world.bob.headers)
    assert [(v["version"], v["body"]) for v in versions.json()] == [
        (2, "Up to 50 BTC."),
        (1, ARTICLE["body"]),
    ]


async def test_bad_input_gets_a_clear_error(client: httpx.AsyncClient, world: World) -> None:
    headers = world.alice.headers
    cases = [
        ({**ARTICLE, "locale": "klingon"}, "locale"),
        ({**ARTICLE, "locale": "xx"}, "not a language"),
        ({**ARTICLE, "slug": "Not A Slug"}, "lower-case letters"),
        ({**ARTICLE, "title": ""}, "title"),
        ({**ARTICLE, "status": "live"}, "status"),
        ({**ARTICLE, "surprise": 1}, "surprise"),
        ({**ARTICLE, "body": "a\x00b"}, "NUL"),
    ]
    for payload, word in cases:
        assert_error(await client.post(f"{KB}/articles", json=payload, headers=headers), 422, word)
    article = await create(client, world)
    null_title = await client.patch(
        f"{KB}/articles/{article['id']}", json={"title": None}, headers=headers
    )
    assert_error(null_title, 422, "title cannot be null")
    assert_error(await client.get(f"{KB}/articles/999999", headers=headers), 404, "not found")
    assert_error(await client.get(f"{KB}/articles?locale=qq", headers=headers), 422, "qq")
    duplicate = await client.post(f"{KB}/articles", json=ARTICLE, headers=headers)
    assert_error(duplicate, 409, "already exists")


async def test_deleting_an_article_removes_it(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    article = await create(client, world)
    response = await client.delete(f"{KB}/articles/{article['id']}", headers=world.alice.headers)
    assert response.status_code == 204
    assert await count(db, Article) == 0
    gone = await client.get(f"{KB}/articles/{article['id']}", headers=world.alice.headers)
    assert_error(gone, 404)


async def test_categories_get_names_per_locale(client: httpx.AsyncClient, world: World) -> None:
    await create(client, world)
    response = await client.put(
        f"{KB}/categories/withdrawals",
        json={"names": {"en": "Withdrawals", "zh-hans": "提币"}, "position": 2},
        headers=world.alice.headers,
    )
    assert response.status_code == 200, response.text
    listed = await client.get(f"{KB}/categories", headers=world.bob.headers)
    assert listed.json() == [
        {"slug": "withdrawals", "names": {"en": "Withdrawals", "zh-Hans": "提币"}, "position": 2}
    ]


async def test_vote_stats_count_the_help_center_votes(
    client: httpx.AsyncClient, world: World
) -> None:
    article = await create(client, world, status="published")
    page = f"/help/en/a/{ARTICLE['slug']}/vote"
    for helpful, comment in (("yes", ""), ("no", "Say which networks"), ("no", "")):
        client.cookies.clear()  # three different visitors
        response = await client.post(page, data={"helpful": helpful, "comment": comment})
        assert response.status_code == 303, response.text
    stats = await client.get(f"{KB}/articles/{article['id']}/votes", headers=world.bob.headers)
    body = stats.json()
    assert (body["helpful"], body["not_helpful"], body["total"]) == (1, 2, 3)
    assert body["helpful_ratio"] == round(1 / 3, 4)
    assert [c["comment"] for c in body["comments"]] == ["Say which networks"]


async def test_the_export_holds_every_article_and_category(
    client: httpx.AsyncClient, world: World
) -> None:
    await create(client, world)
    await create(client, world, locale="zh-Hans", title="提币限额", status="published")
    response = await client.get(f"{KB}/export", headers=world.victor.headers)
    assert response.status_code == 200
    body = response.json()
    assert [(a["slug"], a["locale"], a["status"]) for a in body["articles"]] == [
        ("withdrawal-limits", "en", "draft"),
        ("withdrawal-limits", "zh-Hans", "published"),
    ]
    assert [c["slug"] for c in body["categories"]] == ["withdrawals"]
