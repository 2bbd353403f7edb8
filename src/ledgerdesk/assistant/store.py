"""The thin adapter between the knowledge tables and the index: published articles as Docs.

Stored passage vectors are used only when they were made by this model and
chunker from the article's current version; anything else counts as missing and
the index computes it.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerdesk.assistant.dense import MODEL_NAME, FloatArray, from_bytes
from ledgerdesk.assistant.passages import Doc, split_passages
from ledgerdesk.knowledge.models import PUBLISHED, Article

StoredVectors = dict[tuple[str, str], FloatArray]


def doc_of(article: Article) -> Doc:
    return Doc(
        slug=article.slug,
        locale=article.locale,
        title=article.title,
        body=article.body,
        category=article.category or "",
        tags=tuple(article.tags or ()),
    )


def stored_vectors(article: Article, doc: Doc) -> FloatArray | None:
    """The article's passage vectors if they are current, else None."""
    if (
        article.embedding is None
        or article.embedding_model != MODEL_NAME
        or article.embedded_version != article.version
    ):
        return None
    return from_bytes(article.embedding, len(split_passages(doc)))


async def load_published(
    session: AsyncSession, missing: list[int] | None = None
) -> tuple[list[Doc], StoredVectors]:
    """Every published article as a Doc, with the vectors stored for it.

    The ids of articles without current vectors are appended to ``missing``.
    """
    rows = await session.execute(
        select(Article).where(Article.status == PUBLISHED).order_by(Article.slug, Article.locale)
    )
    docs: list[Doc] = []
    vectors: StoredVectors = {}
    for article in rows.scalars():
        doc = doc_of(article)
        docs.append(doc)
        stored = stored_vectors(article, doc)
        if stored is not None:
            vectors[(doc.slug, doc.locale)] = stored
        elif missing is not None:
            missing.append(article.id)
    return docs, vectors
