"""Jobs of the assistant: compute and store an article's passage vectors.

Run when an article changes: the knowledge actions enqueue the job
``assistant.embed_article`` in the transaction that changes the article; it calls
:func:`embed_article`, and once the vectors are stored an "assistant.vectors_stored"
event tells the assistant to rebuild its index with them instead of embedding again.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy import update

from ledgerdesk.assistant.dense import MODEL_NAME, Embedder, default_embedder, to_bytes
from ledgerdesk.assistant.passages import split_passages
from ledgerdesk.assistant.store import doc_of
from ledgerdesk.db.engine import Database
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.events.bus import Event, EventBus
from ledgerdesk.jobs.context import JobContext
from ledgerdesk.jobs.registry import job_handler
from ledgerdesk.knowledge.models import Article

log = logging.getLogger(__name__)
VECTORS_STORED = "assistant.vectors_stored"
KNOWLEDGE_TOPIC = "knowledge"


async def embed_article(
    db: Database, article_id: int, embedder: Embedder | None = None, bus: EventBus | None = None
) -> bool:
    """Store the article's vectors if its version changed; True when it wrote new ones.

    The embedding runs in a thread (it takes a while and must not hold up the
    event loop), outside any transaction; the write is guarded by the version
    it was computed from, so an edit made meanwhile is never overwritten with
    stale vectors (that edit's own job embeds it again).
    """
    embedder = embedder or default_embedder()
    async with db.sessionmaker() as session:
        article = await session.get(Article, article_id)
        if article is None:
            log.info("article %s is gone; nothing to embed", article_id)
            return False
        if article.embedded_version == article.version and article.embedding_model == MODEL_NAME:
            return False
        version = article.version
        doc = doc_of(article)
    texts = [passage.embedding_text(doc.title) for passage in split_passages(doc)]
    vectors = await asyncio.to_thread(embedder.passages, texts)
    async with db.writer() as session, UnitOfWork(session, bus) as uow:
        result = await uow.session.execute(
            update(Article)
            .where(Article.id == article_id, Article.version == version)
            .values(
                embedding=to_bytes(vectors),
                embedding_model=MODEL_NAME,
                embedded_version=version,
            )
        )
        stored = bool(getattr(result, "rowcount", 0))
        if stored:
            data = {"article_id": article_id, "slug": doc.slug, "locale": doc.locale}
            uow.emit(Event(VECTORS_STORED, (KNOWLEDGE_TOPIC,), {**data, "version": version}))
        await uow.commit()
    return stored


EMBED_ARTICLE = "assistant.embed_article"


@job_handler(EMBED_ARTICLE, max_attempts=5, timeout=900)
async def embed_article_job(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Job ``assistant.embed_article`` with payload ``{"article_id": <id>}``; idempotent."""
    article_id = payload.get("article_id")
    if not isinstance(article_id, int) or isinstance(article_id, bool):
        raise ValueError(f"payload needs an integer article_id, got {article_id!r}")
    await embed_article(ctx.db, article_id, bus=ctx.bus)
