"""Knowledge base actions on both databases: constraints, versions, votes, import, events."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from ledgerdesk.accounts.principal import Principal
from ledgerdesk.audit.models import AuditEntry
from ledgerdesk.db.engine import Database
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.errors import Conflict, InvalidInput, PermissionDenied
from ledgerdesk.events.bus import MemoryEventBus
from ledgerdesk.knowledge.actions import (
    ARTICLE_CHANGED,
    do_create_article,
    do_delete_article,
    do_import_bundle,
    do_publish,
    do_unpublish,
    do_update_article,
    do_vote,
)
from ledgerdesk.knowledge.files import read_directory
from ledgerdesk.knowledge.models import Article, ArticleVersion, ArticleVote, Category
from ledgerdesk.knowledge.queries import list_versions, vote_stats
from ledgerdesk.knowledge.transfer import export_directory, import_directory
from ledgerdesk.settings import Settings
from tests.api_support import count
from tests.conftest import World

FIXTURES = Path(__file__).parent / "fixtures" / "kb"


def admin(world: World) -> Principal:
    return Principal(agent=world.alice.agent)


async def create(db: Database, actor: Principal | None, **fields: object) -> Article:
    values: dict[str, object] = {
        "slug": "fees",
        "locale": "en",
        "title": "Trading fees",
        "body": "Maker 0.1%, taker 0.2%.",
        "category": "trading",
        "tags": ["fees"],
        **fields,
    }
    async with UnitOfWork(db.write_sessionmaker()) as uow:
        article = await do_create_article(uow, actor=actor, **values)  # type: ignore[arg-type]
        await uow.commit()
    return article


async def test_an_article_is_unique_per_slug_and_locale(db: Database, world: World) -> None:
    await create(db, admin(world))
    with pytest.raises(Conflict, match="already exists in en"):
        await create(db, admin(world), title="Again")
    chinese = await create(db, admin(world), locale="zh_hans", title="交易手续费")
    assert chinese.locale == "zh-Hans"
    assert await count(db, Article) == 2
    assert await count(db, Category, Category.slug == "trading") == 1


async def test_it_refuses_an_unknown_language_and_a_bad_slug(db: Database, world: World) -> None:
    with pytest.raises(InvalidInput, match="not a language"):
        await create(db, admin(world), locale="xx")
    with pytest.raises(InvalidInput, match="lower-case letters"):
        await create(db, admin(world), slug="Trading Fees")
    assert await count(db, Article) == 0


async def test_every_content_change_makes_a_version_and_keeps_the_old_one(
    db: Database, world: World
) -> None:
    article = await create(db, admin(world))
    async with UnitOfWork(db.write_sessionmaker()) as uow:
        article = await uow.session.get_one(Article, article.id)
        changed = await do_update_article(
            uow, actor=admin(world), article=article, title="Fees", tags=["fees", "VIP"]
        )
        same = await do_update_article(uow, actor=admin(world), article=article, title="Fees")
        await uow.commit()
    assert changed == ["title", "tags"]
    assert same == []
    assert article.version == 2
    async with db.sessionmaker() as session:
        versions = await list_versions(session, article.id)
    assert [(v.version, v.title, v.tags) for v in versions] == [
        (2, "Fees", ["fees", "VIP"]),
        (1, "Trading fees", ["fees"]),
    ]
    assert all(v.agent_id == world.alice.agent.id for v in versions)


async def test_an_edit_based_on_an_old_version_is_refused(db: Database, world: World) -> None:
    article = await create(db, admin(world))
    async with UnitOfWork(db.write_sessionmaker()) as uow:
        article = await uow.session.get_one(Article, article.id)
        await do_update_article(uow, actor=admin(world), article=article, body="New body")
        with pytest.raises(Conflict, match="version 2, not 1"):
            await do_update_article(
                uow, actor=admin(world), article=article, body="Old edit", expected_version=1
            )


async def test_agents_and_viewers_cannot_edit_but_supervisors_and_admins_can(
    db: Database, world: World
) -> None:
    for person in (world.bob, world.victor):
        with pytest.raises(PermissionDenied, match="admins and supervisors"):
            await create(db, Principal(agent=person.agent))
    async with UnitOfWork(db.write_sessionmaker()) as uow:
        from ledgerdesk.accounts.actions import do_create_agent

        sam = await do_create_agent(
            uow, actor=None, email="sam@example.org", name="Sam", password="x" * 12,
            role="supervisor",
        )  # fmt: skip
        await uow.commit()
    article = await create(db, Principal(agent=sam))
    async with UnitOfWork(db.write_sessionmaker()) as uow:
        article = await uow.session.get_one(Article, article.id)
        with pytest.raises(PermissionDenied):
            await do_publish(uow, actor=Principal(agent=world.bob.agent), article=article)
        with pytest.raises(PermissionDenied):
            await do_delete_article(uow, actor=Principal(agent=world.victor.agent), article=article)


async def test_changes_are_audited_and_announced_only_after_the_commit(
    db: Database, world: World
) -> None:
    bus = MemoryEventBus()
    heard: list[dict[str, object]] = []
    bus.add_listener({"knowledge"}, lambda event: heard.append({"kind": event.kind, **event.data}))
    async with UnitOfWork(db.write_sessionmaker(), bus) as uow:
        article = await do_create_article(
            uow, actor=admin(world), slug="kyc", locale="en", title="KYC", body="Documents.",
            category="verification",
        )  # fmt: skip
        assert heard == []
        await uow.commit()
    article_id = article.id
    async with UnitOfWork(db.write_sessionmaker(), bus) as uow:
        article = await uow.session.get_one(Article, article_id)
        await do_update_article(uow, actor=admin(world), article=article, body="Passport.")
        await do_publish(uow, actor=admin(world), article=article)
        await uow.rollback()  # a rolled-back change is never announced
    async with UnitOfWork(db.write_sessionmaker(), bus) as uow:
        article = await uow.session.get_one(Article, article_id)
        await do_update_article(uow, actor=admin(world), article=article, body="Passport.")
        assert await do_publish(uow, actor=admin(world), article=article) is True
        assert await do_publish(uow, actor=admin(world), article=article) is False
        await do_unpublish(uow, actor=admin(world), article=article)
        await do_delete_article(uow, actor=admin(world), article=article)
        await uow.commit()
    assert [(e["kind"], e["change"], e["version"]) for e in heard] == [
        (ARTICLE_CHANGED, "created", 1),
        (ARTICLE_CHANGED, "updated", 2),
        (ARTICLE_CHANGED, "published", 2),
        (ARTICLE_CHANGED, "unpublished", 2),
        (ARTICLE_CHANGED, "deleted", 2),
    ]
    assert {e["slug"] for e in heard} == {"kyc"} and {e["locale"] for e in heard} == {"en"}
    async with db.sessionmaker() as session:
        actions = (
            await session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.object_type == "kb_article")
                .order_by(AuditEntry.id)
            )
        ).all()
    assert actions == [
        "kb.article_created",
        "kb.article_updated",
        "kb.article_published",
        "kb.article_unpublished",
        "kb.article_deleted",
    ]
    assert await count(db, ArticleVersion) == 0  # the history goes with the article


async def test_a_visitor_has_one_vote_per_article_and_may_change_it(
    db: Database, world: World
) -> None:
    article = await create(db, admin(world), status="published")
    async with UnitOfWork(db.write_sessionmaker()) as uow:
        article = await uow.session.get_one(Article, article.id)
        _, created = await do_vote(uow, article=article, visitor_key="v1", helpful=True)
        assert created
        _, created = await do_vote(
            uow, article=article, visitor_key="v1", helpful=False, comment=" Missing BEP20 "
        )
        assert not created
        await do_vote(uow, article=article, visitor_key="v2", helpful=True)
        await uow.commit()
    assert await count(db, ArticleVote) == 2
    async with db.sessionmaker() as session:
        stats = await vote_stats(session, article.id)
    assert (stats.helpful, stats.not_helpful) == (1, 1)
    assert [vote.comment for vote in stats.comments] == ["Missing BEP20"]


async def test_drafts_take_no_votes(db: Database, world: World) -> None:
    article = await create(db, admin(world))
    async with UnitOfWork(db.write_sessionmaker()) as uow:
        article = await uow.session.get_one(Article, article.id)
        with pytest.raises(InvalidInput, match="only published"):
            await do_vote(uow, article=article, visitor_key="v1", helpful=True)


async def test_importing_reports_created_then_updated_fields_then_unchanged(
    db: Database, tmp_path: Path
) -> None:
    shutil.copytree(FIXTURES, tmp_path / "kb")
    first = await import_directory(db, tmp_path / "kb")
    assert sorted(first.created) == sorted(p.name for p in FIXTURES.glob("*.md"))
    assert first.categories_named == ["withdrawals", "deposits", "security"]
    again = await import_directory(db, tmp_path / "kb")
    assert (again.created, again.updated, again.categories_named) == ([], {}, [])
    assert sorted(again.unchanged) == sorted(first.created)

    path = tmp_path / "kb" / "wrong-network.en.md"
    path.write_text(
        path.read_text("utf-8")
        .replace("several blockchains", "many chains")
        .replace("tags: [deposit, network, TRC20, ERC20]", "tags: [deposit, network]"),
        "utf-8",
    )
    draft = tmp_path / "kb" / "seed-phrase-safety.en.md"
    draft.write_text(draft.read_text("utf-8").replace("status: draft\n", ""), "utf-8")
    third = await import_directory(db, tmp_path / "kb")
    assert third.updated == {
        "wrong-network.en.md": ["body", "tags"],
        "seed-phrase-safety.en.md": ["status"],
    }
    async with db.sessionmaker() as session:
        article = await session.scalar(select(Article).where(Article.slug == "wrong-network"))
        assert article is not None and article.version == 2
        safety = await session.scalar(select(Article).where(Article.slug == "seed-phrase-safety"))
        assert safety is not None and safety.status == "published" and safety.version == 1


async def test_a_bad_file_stops_the_whole_import(db: Database, tmp_path: Path) -> None:
    shutil.copytree(FIXTURES, tmp_path / "kb")
    (tmp_path / "kb" / "fees.en.md").write_text(
        "---\ntitle: Fees\nslug: fee\nlocale: en\ncategory: trading\n---\n\nBody\n", "utf-8"
    )
    with pytest.raises(InvalidInput, match="nothing was imported") as caught:
        await import_directory(db, tmp_path / "kb")
    assert caught.value.details == [
        {
            "field": "fees.en.md",
            "message": "the file name says slug 'fees' but the front matter says 'fee'",
        }
    ]
    assert await count(db, Article) == 0


async def test_a_dry_run_reports_without_writing(db: Database) -> None:
    report = await import_directory(db, FIXTURES, dry_run=True)
    assert len(report.created) == 4
    assert await count(db, Article) == 0


async def test_import_then_export_gives_back_identical_files(db: Database, tmp_path: Path) -> None:
    await import_directory(db, FIXTURES)
    written = await export_directory(db, tmp_path / "out")
    assert sorted(written) == sorted(p.name for p in FIXTURES.iterdir())
    for name in written:
        assert (tmp_path / "out" / name).read_bytes() == (FIXTURES / name).read_bytes(), name


async def test_importing_needs_an_editor(db: Database, world: World) -> None:
    async with UnitOfWork(db.write_sessionmaker()) as uow:
        with pytest.raises(PermissionDenied):
            await do_import_bundle(
                uow, actor=Principal(agent=world.bob.agent), bundle=read_directory(FIXTURES)
            )


async def test_the_database_itself_refuses_a_second_row_per_slug_and_locale_or_visitor(
    db: Database, world: World
) -> None:
    from sqlalchemy.exc import IntegrityError

    article = await create(db, admin(world), status="published")
    async with db.write_sessionmaker() as session:
        session.add(
            Article(
                slug="fees", locale="en", title="Copy", body="Copy", category="trading",
                tags=[], status="draft", version=1,
            )
        )  # fmt: skip
        with pytest.raises(IntegrityError):
            await session.flush()
        await session.rollback()
        session.add(ArticleVote(article_id=article.id, visitor_key="v", helpful=True))
        session.add(ArticleVote(article_id=article.id, visitor_key="v", helpful=False))
        with pytest.raises(IntegrityError):
            await session.flush()
        await session.rollback()


# The embedding job -------------------------------------------------------------------


async def _embedding_jobs(db: Database) -> list[tuple[int, str | None, str]]:
    from ledgerdesk.assistant.tasks import EMBED_ARTICLE
    from ledgerdesk.jobs.models import Job

    async with db.sessionmaker() as session:
        jobs = (await session.scalars(select(Job).where(Job.kind == EMBED_ARTICLE))).all()
    return sorted((job.payload["article_id"], job.dedup_key, job.status) for job in jobs)


async def test_every_change_of_content_and_every_publication_queues_one_embedding_job(
    db: Database, world: World
) -> None:
    async with UnitOfWork(db.write_sessionmaker()) as uow:
        article = await do_create_article(
            uow, actor=admin(world), slug="kyc", locale="en", title="KYC", body="Documents.",
            category="verification",
        )  # fmt: skip
        await uow.rollback()  # a rolled-back change leaves no job
    assert await _embedding_jobs(db) == []
    article = await create(db, admin(world), slug="kyc")
    key = f"assistant.embed_article:{article.id}"
    assert await _embedding_jobs(db) == [(article.id, f"{key}:v1", "queued")]
    async with UnitOfWork(db.write_sessionmaker()) as uow:
        article = await uow.session.get_one(Article, article.id)
        await do_update_article(uow, actor=admin(world), article=article, body="Passport.")
        # Publishing the same version in the same transaction finds the queued job.
        await do_publish(uow, actor=admin(world), article=article)
        await uow.commit()
    async with UnitOfWork(db.write_sessionmaker()) as uow:
        article = await uow.session.get_one(Article, article.id)
        await do_unpublish(uow, actor=admin(world), article=article)  # nothing to embed
        await do_update_article(uow, actor=admin(world), article=article, tags=["kyc"])
        await uow.commit()
    assert await _embedding_jobs(db) == [
        (article.id, f"{key}:v1", "queued"),
        (article.id, f"{key}:v2", "queued"),
        (article.id, f"{key}:v3", "queued"),
    ]


async def test_an_import_queues_the_embedding_of_new_and_changed_articles_only(
    db: Database, tmp_path: Path
) -> None:
    directory = tmp_path / "kb"
    shutil.copytree(FIXTURES, directory)
    await import_directory(db, directory)
    async with db.sessionmaker() as session:
        ids = sorted((await session.scalars(select(Article.id))).all())
    assert [job[0] for job in await _embedding_jobs(db)] == ids
    await import_directory(db, directory)  # nothing changed: no new job
    assert len(await _embedding_jobs(db)) == len(ids)
    first = sorted(directory.glob("*.md"))[0]
    first.write_text(first.read_text(encoding="utf-8") + "\nOne more line.\n", encoding="utf-8")
    await import_directory(db, directory)
    assert len(await _embedding_jobs(db)) == len(ids) + 1


async def test_after_an_edit_the_job_stores_vectors_of_the_new_text_and_the_assistant_uses_them(
    db: Database, world: World, settings: Settings
) -> None:
    import numpy as np

    from ledgerdesk.assistant.dense import default_embedder
    from ledgerdesk.assistant.passages import split_passages
    from ledgerdesk.assistant.runtime import KNOWLEDGE_TOPIC, AssistantRuntime
    from ledgerdesk.assistant.store import doc_of, stored_vectors
    from ledgerdesk.assistant.tasks import VECTORS_STORED
    from ledgerdesk.events.bus import Event
    from ledgerdesk.jobs.models import DONE
    from tests.jobs_support import harness, wait_for_job

    bus = MemoryEventBus()
    runtime = AssistantRuntime(settings)
    bus.add_listener({KNOWLEDGE_TOPIC}, runtime.on_event)

    async def vectors_now(article_id: int) -> tuple[Article, np.ndarray]:
        async with db.sessionmaker() as session:
            article = await session.get_one(Article, article_id)
        vectors = stored_vectors(article, doc_of(article))
        assert vectors is not None, "no current vectors are stored"
        return article, vectors

    def expected(article: Article) -> np.ndarray:
        doc = doc_of(article)
        texts = [passage.embedding_text(doc.title) for passage in split_passages(doc)]
        return default_embedder().passages(texts)

    async with harness(db, settings, bus, "sql", None) as jobs:
        await jobs.start()
        async with UnitOfWork(db.write_sessionmaker(), bus) as uow:
            article = await do_create_article(
                uow, actor=admin(world), slug="staking", locale="en", status="published",
                title="Staking rewards", category="earn",
                body="Rewards are paid every day at 00:00 UTC into your Earn wallet.",
            )  # fmt: skip
            await uow.commit()
        article_id = article.id
        [(job_id, _status)] = await _embedding_jobs_with_ids(db)
        assert (await wait_for_job(db, job_id, (DONE,))).status == DONE
        before, first_vectors = await vectors_now(article_id)
        assert np.allclose(first_vectors, expected(before), atol=1e-5)
        assistant = await runtime.assistant(db)
        assert np.allclose(assistant.index.vectors_of(0), first_vectors)

        async with UnitOfWork(db.write_sessionmaker(), bus) as uow:
            article = await uow.session.get_one(Article, article_id)
            await do_update_article(
                uow, actor=admin(world), article=article, title="Savings interest",
                body="Interest on flexible savings is credited every Monday.",
            )  # fmt: skip
            await uow.commit()
        jobs_now = await _embedding_jobs_with_ids(db)
        assert len(jobs_now) == 2
        assert (await wait_for_job(db, jobs_now[-1][0], (DONE,))).status == DONE
        after, new_vectors = await vectors_now(article_id)
        assert after.embedded_version == after.version == 2
        assert np.allclose(new_vectors, expected(after), atol=1e-5)
        assert not np.allclose(new_vectors[0], first_vectors[0], atol=1e-3)
    # The stored-vectors event made the index stale: the next question sees the new vectors.
    assistant = await runtime.assistant(db)
    assert assistant.index.docs[0].title == "Savings interest"
    assert np.allclose(assistant.index.vectors_of(0), new_vectors)
    question = "when is interest on flexible savings credited"
    query = assistant.index.query(question)
    assert query.vector is not None
    (hit,) = assistant.index.search(query)
    assert hit.dense == pytest.approx(float((new_vectors @ query.vector).max()), abs=1e-5)
    assert hit.dense > float((first_vectors @ query.vector).max()) + 0.02
    # Stored vectors alone (no edit) also make the index stale.
    runtime.on_event(Event(VECTORS_STORED, (KNOWLEDGE_TOPIC,), {"article_id": article_id}))
    assert await runtime.assistant(db) is not assistant
    await runtime.close()


async def _embedding_jobs_with_ids(db: Database) -> list[tuple[int, str]]:
    from ledgerdesk.assistant.tasks import EMBED_ARTICLE
    from ledgerdesk.jobs.models import Job

    async with db.sessionmaker() as session:
        rows = await session.execute(
            select(Job.id, Job.status).where(Job.kind == EMBED_ARTICLE).order_by(Job.id)
        )
    return [(job_id, status) for job_id, status in rows]
