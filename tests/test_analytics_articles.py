"""Help-center article feedback in the analytics, on SQLite and PostgreSQL: the votes of
a period against hand-counted rows, the previous period, the least helpful articles,
and the same figures through the API and on the dashboard."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from ledgerdesk.analytics.articles import article_feedback
from ledgerdesk.analytics.queries import parse_range
from ledgerdesk.db.engine import Database
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.knowledge.models import Article, ArticleVote, Category
from tests.api_support import API
from tests.conftest import World
from tests.test_auth_flow import login

RANGE = {"from": "2026-11-01", "to": "2026-11-07"}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


async def seed_votes(db: Database) -> dict[str, int]:
    """Two articles; in the week of 1-7 November the memo article gets three votes, one
    helpful, the fee article two helpful ones; the week before, one helpful vote. A vote
    dated 8 November lies outside the week."""
    votes = {
        "memo": [
            (True, "2026-11-02T10:00:00"),
            (False, "2026-11-03T10:00:00"),
            (False, "2026-11-07T23:59:00"),
            (False, "2026-11-08T00:00:00"),
        ],
        "fees": [(True, "2026-11-01T00:00:00"), (True, "2026-11-05T12:00:00")],
        "memo-before": [],
    }
    async with UnitOfWork(db.write_sessionmaker()) as uow:
        uow.session.add(Category(slug="deposits", names={"en": "Deposits"}))
        await uow.session.flush()
        ids = {}
        for slug, title in (("missing-memo", "Missing memo"), ("fees", "Withdrawal fees")):
            article = Article(slug=slug, locale="en", title=title, body="text", category="deposits")
            uow.session.add(article)
            await uow.session.flush()
            ids[slug] = article.id
        for number, (helpful, when) in enumerate(votes["memo"]):
            uow.session.add(
                ArticleVote(
                    article_id=ids["missing-memo"],
                    visitor_key=f"memo-{number}",
                    helpful=helpful,
                    created_at=at(when),
                    updated_at=at(when),
                )
            )
        for number, (helpful, when) in enumerate(votes["fees"]):
            uow.session.add(
                ArticleVote(
                    article_id=ids["fees"],
                    visitor_key=f"fees-{number}",
                    helpful=helpful,
                    created_at=at(when),
                    updated_at=at(when),
                )
            )
        # The week before: a vote first cast earlier, changed on 30 October.
        uow.session.add(
            ArticleVote(
                article_id=ids["missing-memo"],
                visitor_key="early",
                helpful=True,
                created_at=at("2026-10-01T09:00:00"),
                updated_at=at("2026-10-30T09:00:00"),
            )
        )
        await uow.commit()
    return ids


async def test_the_votes_of_a_period_and_the_least_helpful_articles_are_counted(
    db: Database,
) -> None:
    ids = await seed_votes(db)
    async with db.sessionmaker() as session:
        result = await article_feedback(session, parse_range(RANGE["from"], RANGE["to"]))
    assert (result["votes"], result["helpful"]) == (5, 3)
    assert result["helpful_share"] == 3 / 5
    assert result["previous"] == {"votes": 1, "helpful": 1, "helpful_share": 1.0}
    assert result["change"] == 3 / 5 - 1.0
    # Only articles with an unhelpful vote are listed; the fee article has none.
    assert [row["article_id"] for row in result["least_helpful"]] == [ids["missing-memo"]]
    memo = result["least_helpful"][0]
    assert (memo["votes"], memo["not_helpful"], memo["helpful_share"]) == (3, 2, 1 / 3)


async def test_a_period_without_votes_has_no_share(db: Database) -> None:
    await seed_votes(db)
    async with db.sessionmaker() as session:
        result = await article_feedback(session, parse_range("2026-09-01", "2026-09-07"))
    assert result["votes"] == 0 and result["helpful_share"] is None
    assert result["change"] is None and result["least_helpful"] == []


async def test_the_api_and_the_dashboard_show_the_article_feedback(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    await seed_votes(db)
    response = await client.get(
        f"{API}/analytics/articles", params=RANGE, headers=world.alice.headers
    )
    assert response.status_code == 200, response.text
    assert (response.json()["votes"], response.json()["helpful"]) == (5, 3)
    refused = await client.get(
        f"{API}/analytics/articles", params=RANGE, headers=world.victor.headers
    )
    assert refused.status_code == 403
    bad = await client.get(
        f"{API}/analytics/articles", params={"from": "2026-13-01"}, headers=world.alice.headers
    )
    assert bad.status_code == 422
    await login(client, "alice@example.org")
    page = await client.get("/analytics", params=RANGE)
    assert page.status_code == 200, page.text
    assert "60.0%" in page.text and 'href="/kb/missing-memo/en"' in page.text
