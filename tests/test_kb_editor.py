"""The console's knowledge-base editor: list, edit, save a version, publish, and refusals."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import select

from ledgerdesk.db.engine import Database
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.knowledge.actions import do_create_article
from ledgerdesk.knowledge.models import DRAFT, PUBLISHED, Article, ArticleVersion
from tests.conftest import World
from tests.test_auth_flow import login


async def article(db: Database, slug: str = "sui-staking", locale: str = "en") -> Article:
    async with db.writer() as session, UnitOfWork(session) as uow:
        made = await do_create_article(
            uow,
            actor=None,
            slug=slug,
            locale=locale,
            title="Staking SUI",
            body="Rewards are paid **daily**.\n\n<script>alert(1)</script>",
            category="earn",
            tags=["staking"],
        )
        await uow.commit()
    return made


async def stored(db: Database, slug: str = "sui-staking") -> Article:
    async with db.sessionmaker() as session:
        return (await session.execute(select(Article).where(Article.slug == slug))).scalar_one()


def csrf(page: httpx.Response) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


def form(token: str, **changes: str) -> dict[str, str]:
    data = {
        "csrf_token": token,
        "title": "Staking SUI on Harbor",
        "body": "Rewards are paid *daily* at 00:00 UTC.",
        "category": "earn",
        "tags": "staking, sui",
        "version": "1",
    }
    data.update(changes)
    return data


async def test_an_admin_lists_edits_saves_a_version_and_publishes_and_unpublishes(
    client: httpx.AsyncClient, db: Database, world: World
) -> None:
    await article(db)
    await article(db, slug="card-fees", locale="zh-Hans")
    await login(client, "alice@example.org")

    listed = await client.get("/kb?status=draft&locale=en&q=staking")
    assert listed.status_code == 200
    assert "/kb/sui-staking/en" in listed.text and "card-fees" not in listed.text
    assert 'href="/kb"' in listed.text  # the nav link

    page = await client.get("/kb/sui-staking/en")
    assert page.status_code == 200
    assert "<strong>daily</strong>" in page.text  # the preview, rendered
    assert "<script>alert(1)</script>" not in page.text.split('id="kb-preview"')[1]

    saved = await client.post("/kb/sui-staking/en", data=form(csrf(page)))
    assert saved.status_code == 303
    after = await stored(db)
    assert (after.title, after.version, after.tags) == (
        "Staking SUI on Harbor",
        2,
        ["staking", "sui"],
    )
    async with db.sessionmaker() as session:
        versions = (
            await session.execute(
                select(ArticleVersion.version).where(ArticleVersion.article_id == after.id)
            )
        ).scalars()
        assert sorted(versions) == [1, 2]
    shown = await client.get(saved.headers["location"])
    assert "Saved as a new version" in shown.text

    published = await client.post("/kb/sui-staking/en/publish", data={"csrf_token": csrf(shown)})
    assert published.status_code == 303 and (await stored(db)).status == PUBLISHED
    shown = await client.get(published.headers["location"])
    assert 'href="/help/en/a/sui-staking"' in shown.text
    public = await client.get("/help/en/a/sui-staking")
    assert public.status_code == 200 and "Staking SUI on Harbor" in public.text

    unpublished = await client.post(
        "/kb/sui-staking/en/unpublish", data={"csrf_token": csrf(shown)}
    )
    assert unpublished.status_code == 303 and (await stored(db)).status == DRAFT

    preview = await client.post(
        "/kb/sui-staking/en/preview", data={"body": "# Hi", "csrf_token": csrf(shown)}
    )
    assert preview.status_code == 200 and "<h1>Hi</h1>" in preview.text


async def test_a_viewer_reads_but_cannot_save_or_publish(
    client: httpx.AsyncClient, db: Database, world: World
) -> None:
    await article(db)
    await login(client, "victor@example.org")
    page = await client.get("/kb/sui-staking/en")
    assert page.status_code == 200 and "admins and supervisors edit them" in page.text
    token = csrf(page)
    refused = await client.post("/kb/sui-staking/en", data=form(token))
    assert refused.status_code == 403
    refused = await client.post("/kb/sui-staking/en/publish", data={"csrf_token": token})
    assert refused.status_code == 403
    after = await stored(db)
    assert (after.title, after.version, after.status) == ("Staking SUI", 1, DRAFT)


async def test_bad_input_is_a_clear_4xx_and_keeps_what_was_typed(
    client: httpx.AsyncClient, db: Database, world: World
) -> None:
    await article(db)
    await login(client, "alice@example.org")
    token = csrf(await client.get("/kb/sui-staking/en"))

    empty = await client.post(
        "/kb/sui-staking/en", data=form(token, title="  ", body="My long new text")
    )
    assert empty.status_code == 422
    assert "title is missing" in empty.text and "My long new text" in empty.text

    stale = await client.post("/kb/sui-staking/en", data=form(token, version="7", body="Mine"))
    assert stale.status_code == 409 and "Mine" in stale.text

    assert (await client.get("/kb/no-such-article/en")).status_code == 404
    assert (await client.post("/kb/no-such-article/en", data=form(token))).status_code == 404
    assert (await client.get("/kb/sui-staking/not_a_locale!")).status_code == 422
    assert (await client.get("/kb?locale=xx-@@")).status_code == 422
    assert (await client.get("/kb?status=archived")).status_code == 422
    after = await stored(db)
    assert (after.title, after.version) == ("Staking SUI", 1)


async def test_a_save_without_the_csrf_token_is_refused(
    client: httpx.AsyncClient, db: Database, world: World
) -> None:
    await article(db)
    await login(client, "alice@example.org")
    data = form("")
    del data["csrf_token"]
    refused = await client.post("/kb/sui-staking/en", data=data)
    assert refused.status_code == 400
    wrong = await client.post("/kb/sui-staking/en/publish", data={"csrf_token": "forged"})
    assert wrong.status_code == 400
    after = await stored(db)
    assert (after.version, after.status) == (1, DRAFT)


async def test_the_gaps_page_links_a_draft_to_its_editor_page(
    client: httpx.AsyncClient, db: Database, world: World
) -> None:
    from tests.test_gaps import collect, seed

    await seed(db, world)
    await collect(db)
    await login(client, "alice@example.org")
    page = await client.get("/analytics/gaps?days=7")
    ids = re.findall(r'name="question_ids" value="([0-9,]+)"', page.text)
    made = await client.post(
        "/analytics/gaps/drafts", data={"question_ids": ids[0], "csrf_token": csrf(page)}
    )
    shown = await client.get(made.headers["location"])
    link = re.search(r'href="(/kb/[^"]+)"', shown.text.split("Draft article created")[1])
    assert link, shown.text
    editor = await client.get(link.group(1))
    assert editor.status_code == 200 and "draft" in editor.text


async def test_the_editor_is_in_chinese_for_a_chinese_speaking_agent(
    client: httpx.AsyncClient, db: Database, world: World
) -> None:
    await article(db)
    async with db.writer() as session, UnitOfWork(session) as uow:
        from ledgerdesk.accounts.models import Agent

        alice = await session.get(Agent, world.alice.agent.id)
        assert alice is not None
        alice.language = "zh_Hans"
        await uow.commit()
    await login(client, "alice@example.org")
    page = await client.get("/kb/sui-staking/en")
    assert page.status_code == 200
    assert "版本历史" in page.text and "预览" in page.text and "帮助中心" in page.text
    listed = await client.get("/kb")
    assert "搜索标题" in listed.text
