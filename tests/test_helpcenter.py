"""The public help center: languages, published articles only, search, fallback, safety."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from ledgerdesk.db.engine import Database
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.knowledge.actions import do_create_article
from ledgerdesk.knowledge.models import ArticleVote
from ledgerdesk.knowledge.transfer import import_directory
from tests.api_support import count

FIXTURES = Path(__file__).parent / "fixtures" / "kb"


@pytest.fixture
async def kb(db: Database) -> Database:
    await import_directory(db, FIXTURES)
    return db


async def add(db: Database, **fields: object) -> None:
    async with UnitOfWork(db.write_sessionmaker()) as uow:
        await do_create_article(uow, actor=None, **fields)  # type: ignore[arg-type]
        await uow.commit()


async def test_help_picks_the_language_from_the_browser(
    client: httpx.AsyncClient, kb: Database
) -> None:
    chinese = await client.get("/help", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
    assert chinese.status_code == 303 and chinese.headers["location"] == "/help/zh-Hans/"
    french = await client.get("/help", headers={"Accept-Language": "fr-FR"})
    assert french.headers["location"] == "/help/en/"


async def test_lang_in_the_address_wins_over_the_cookie_and_the_cookie_over_the_browser(
    client: httpx.AsyncClient, kb: Database
) -> None:
    client.cookies.set("ld_help_lang", "zh-Hans")
    remembered = await client.get("/help", headers={"Accept-Language": "en"})
    assert remembered.headers["location"] == "/help/zh-Hans/"
    asked = await client.get("/help?lang=en", headers={"Accept-Language": "zh-CN"})
    assert asked.headers["location"] == "/help/en/"


async def test_reading_a_page_remembers_its_language(
    client: httpx.AsyncClient, kb: Database
) -> None:
    page = await client.get("/help/zh-Hans/")
    assert page.status_code == 200
    assert client.cookies.get("ld_help_lang") == "zh-Hans"


async def test_the_home_page_lists_categories_with_their_names_in_the_language(
    client: httpx.AsyncClient, kb: Database
) -> None:
    english = await client.get("/help/en/")
    assert "Withdrawals" in english.text and "My withdrawal is pending" in english.text
    assert 'href="/help/en/a/withdrawal-pending"' in english.text
    chinese = await client.get("/help/zh-Hans/")
    assert '<html lang="zh-Hans">' in chinese.text
    assert "提币" in chinese.text and "提币一直处于待处理状态" in chinese.text
    assert "充值" in chinese.text  # the deposits category, with its English-only article
    assert "搜索" in chinese.text  # the page's own words are Chinese too
    assert 'hreflang="en"' in chinese.text  # the language switch


async def test_an_unusual_spelling_of_a_locale_is_redirected_to_the_canonical_one(
    client: httpx.AsyncClient, kb: Database
) -> None:
    response = await client.get("/help/zh-hans/a/withdrawal-pending?x=1")
    assert response.status_code == 308
    assert response.headers["location"] == "/help/zh-Hans/a/withdrawal-pending?x=1"
    assert (await client.get("/help/zh-Hans")).headers["location"] == "/help/zh-Hans/"


async def test_an_unknown_language_is_a_404_page(client: httpx.AsyncClient, kb: Database) -> None:
    response = await client.get("/help/klingon/")
    assert response.status_code == 404
    assert "text/html" in response.headers["content-type"]
    assert "/help/en/" in response.text


async def test_an_article_page_renders_the_markdown(
    client: httpx.AsyncClient, kb: Database
) -> None:
    page = await client.get("/help/en/a/withdrawal-pending")
    assert page.status_code == 200
    assert "<h1>My withdrawal is pending</h1>" in page.text
    assert "<strong>status</strong>" in page.text
    assert 'hreflang="zh-Hans"' in page.text
    assert "Was this article helpful?" in page.text


async def test_drafts_are_not_in_the_help_center(client: httpx.AsyncClient, kb: Database) -> None:
    page = await client.get("/help/en/a/seed-phrase-safety")
    assert page.status_code == 404
    assert "Never share your seed phrase" not in page.text
    home = await client.get("/help/en/")
    assert "Never share your seed phrase" not in home.text
    results = await client.get("/help/en/search", params={"q": "recovery phrase"})
    assert "seed-phrase-safety" not in results.text
    assert (await client.get("/help/en/a/no-such-article")).status_code == 404


async def test_a_missing_translation_falls_back_to_english_and_says_so(
    client: httpx.AsyncClient, kb: Database
) -> None:
    page = await client.get("/help/zh-Hans/a/wrong-network")
    assert page.status_code == 200
    assert "I sent USDT on the wrong network" in page.text
    assert "这篇文章还没有" in page.text and "English" in page.text
    own = await client.get("/help/zh-Hans/a/withdrawal-pending")
    assert "这篇文章还没有" not in own.text


async def test_any_bcp47_locale_works(client: httpx.AsyncClient, kb: Database) -> None:
    await add(
        kb, slug="wrong-network", locale="pt-BR", title="Enviei USDT na rede errada",
        body="A rede precisa ser a mesma.", category="deposits", status="published",
    )  # fmt: skip
    page = await client.get("/help/pt-BR/a/wrong-network")
    assert "Enviei USDT na rede errada" in page.text
    assert "not available" not in page.text
    redirect = await client.get("/help", headers={"Accept-Language": "pt-BR"})
    assert redirect.headers["location"] == "/help/pt-BR/"


async def test_chinese_search_finds_the_chinese_article(
    client: httpx.AsyncClient, kb: Database
) -> None:
    page = await client.get("/help/zh-Hans/search", params={"q": "我的提币怎么一直待处理"})
    assert page.status_code == 200
    assert "提币一直处于待处理状态" in page.text
    assert 'href="/help/zh-Hans/a/withdrawal-pending"' in page.text


async def test_english_search_finds_the_english_article(
    client: httpx.AsyncClient, kb: Database
) -> None:
    page = await client.get("/help/en/search", params={"q": "USDT wrong NETWORK trc20"})
    assert 'href="/help/en/a/wrong-network"' in page.text
    nothing = await client.get("/help/en/search", params={"q": "lasagne recipe"})
    assert "No articles match" in nothing.text


async def test_a_chinese_reader_searching_in_english_gets_the_chinese_version(
    client: httpx.AsyncClient, kb: Database
) -> None:
    page = await client.get("/help/zh-Hans/search", params={"q": "withdrawal pending"})
    assert "提币一直处于待处理状态" in page.text


async def test_script_in_an_article_never_reaches_the_page(
    client: httpx.AsyncClient, kb: Database
) -> None:
    await add(
        kb, slug="xss", locale="en", title="<script>alert('t')</script>", category="security",
        body="<script>alert('x')</script>\n\n[click](javascript:alert(1))\n\n"
        '<a href="https://evil.example" onclick="steal()">x</a>',
        status="published",
    )  # fmt: skip
    page = await client.get("/help/en/a/xss")
    assert page.status_code == 200
    assert "<script>alert" not in page.text
    assert re.search(r"<[^>]*onclick", page.text) is None  # shown as text, never a tag
    assert 'href="javascript' not in page.text
    assert "&lt;script&gt;alert(&#39;t&#39;)&lt;/script&gt;" in page.text


async def test_outside_links_go_through_the_public_warning_page(
    client: httpx.AsyncClient, kb: Database
) -> None:
    page = await client.get("/help/en/a/wrong-network")
    assert 'href="/help/en/out?u=https%3A%2F%2Ftronscan.org%2F"' in page.text
    warning = await client.get("/help/en/out", params={"u": "https://tronscan.org/"})
    assert warning.status_code == 200
    assert "tronscan.org" in warning.text and "You are leaving the help center" in warning.text
    assert warning.headers["referrer-policy"] == "no-referrer"
    refused = await client.get("/help/en/out", params={"u": "javascript:alert(1)"})
    assert refused.status_code == 422


async def test_one_visitor_has_one_vote_and_may_change_it(
    client: httpx.AsyncClient, kb: Database
) -> None:
    url = "/help/en/a/withdrawal-pending/vote"
    first = await client.post(url, data={"helpful": "yes"})
    assert first.status_code == 303
    assert first.headers["location"] == "/help/en/a/withdrawal-pending?voted=yes#feedback"
    await client.post(url, data={"helpful": "no", "comment": "Say how long the review takes"})
    assert await count(kb, ArticleVote) == 1
    async with kb.sessionmaker() as session:
        vote = await session.scalar(select(ArticleVote))
    assert vote is not None and vote.helpful is False
    assert vote.comment == "Say how long the review takes"
    assert len(vote.visitor_key) == 64 and vote.visitor_key != client.cookies.get("ld_visitor")
    thanks = await client.get(first.headers["location"])
    assert "Thank you for your feedback." in thanks.text


async def test_votes_from_other_sites_and_bad_votes_are_refused(
    client: httpx.AsyncClient, kb: Database
) -> None:
    url = "/help/en/a/withdrawal-pending/vote"
    foreign = await client.post(url, data={"helpful": "yes"}, headers={"Origin": "https://evil.io"})
    assert foreign.status_code == 403
    assert (await client.post(url, data={"helpful": "maybe"})).status_code == 422
    draft = await client.post("/help/en/a/seed-phrase-safety/vote", data={"helpful": "yes"})
    assert draft.status_code == 404
    assert await count(kb, ArticleVote) == 0


async def test_votes_are_rate_limited_per_address(client: httpx.AsyncClient, kb: Database) -> None:
    url = "/help/en/a/withdrawal-pending/vote"
    statuses = []
    for _ in range(25):
        client.cookies.clear()
        statuses.append((await client.post(url, data={"helpful": "yes"})).status_code)
    assert statuses.count(303) == 20
    assert statuses[-1] == 429
    assert await count(kb, ArticleVote) == 20


async def test_a_category_page_lists_its_articles(client: httpx.AsyncClient, kb: Database) -> None:
    page = await client.get("/help/zh-Hans/c/deposits")
    assert page.status_code == 200
    assert "充值" in page.text and "I sent USDT on the wrong network" in page.text
    assert (await client.get("/help/en/c/no-such-category")).status_code == 404
