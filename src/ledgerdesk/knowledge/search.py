"""A lexical help center search that reads Chinese and English.

Chinese has no spaces, so text is cut into words by jieba (its search mode also
yields the shorter words inside long ones); English is lower-cased, without
stemming. Articles are ranked by BM25 over title (counted twice), tags and body.

``search_articles`` is the one entry point the help center calls; the assistant's
hybrid retrieval may replace it. The index of published articles is built once
per database and rebuilt when an article is added, changed, published or removed
(a cheap fingerprint query decides).
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import jieba  # type: ignore[import-untyped]
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerdesk.knowledge.locales import DEFAULT_LOCALE, best_locale
from ledgerdesk.knowledge.models import PUBLISHED, Article
from ledgerdesk.knowledge.rendering import plain_text

jieba.setLogLevel(logging.WARNING)
# Support words jieba's general dictionary cuts in two ("到账" -> "到" "账").
CRYPTO_WORDS = (
    "到账", "未到账", "提币", "充币", "提现", "充值", "助记词", "私钥", "公钥", "链上", "主网",
    "冷钱包", "热钱包", "实名认证", "身份认证", "谷歌验证", "谷歌验证器", "地址簿", "手续费",
    "矿工费", "燃料费", "交易哈希", "区块确认", "冻结", "解冻", "标签", "备注", "白名单",
    "合约地址", "跨链", "充错", "转错", "退款", "盗号", "被盗",
)  # fmt: skip
_dictionary_ready = False


def _prepare_jieba() -> None:
    # Loading jieba's dictionary takes about a second: done on first use, not on import.
    global _dictionary_ready
    if not _dictionary_ready:
        for word in CRYPTO_WORDS:
            jieba.add_word(word, freq=50_000)
        _dictionary_ready = True


_WORD = re.compile(r"[\w\u3400-\u9fff]", re.UNICODE)
ENGLISH_STOPWORDS = (
    "a", "an", "and", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from",
    "how", "i", "in", "is", "it", "my", "of", "on", "or", "the", "to", "what", "when",
    "where", "which", "why", "will", "with", "you", "your", "me", "we", "our", "this", "that",
)  # fmt: skip
CHINESE_STOPWORDS = (
    *"的了吗呢吧啊我你他她它是在有和与或就都也还要会能",
    "怎么", "怎么办", "什么", "为什么", "如何", "可以", "一个", "我们", "你们", "请问",
)  # fmt: skip
STOPWORDS = frozenset(ENGLISH_STOPWORDS + CHINESE_STOPWORDS)
K1 = 1.2
B = 0.75
MAX_QUERY_CHARS = 500


@dataclass(frozen=True)
class Hit:
    article_id: int
    slug: str
    locale: str
    title: str
    category: str
    score: float
    snippet: str
    # True when the reader's language has no version and this is another language's.
    fallback: bool


def tokenize(text: str) -> list[str]:
    """Words of a text for matching: NFKC, lower-case, jieba-cut, without stop words."""
    _prepare_jieba()
    normal = unicodedata.normalize("NFKC", text).lower()
    return [
        word
        for word in (piece.strip() for piece in jieba.lcut_for_search(normal))
        if word and _WORD.search(word) and word not in STOPWORDS
    ]


@dataclass(frozen=True)
class _Doc:
    article_id: int
    slug: str
    locale: str
    title: str
    category: str
    text: str
    terms: Counter[str]
    length: int


class LexicalIndex:
    """BM25 over a fixed set of documents."""

    def __init__(self, docs: Sequence[_Doc]) -> None:
        self.docs = list(docs)
        self.average = sum(doc.length for doc in docs) / len(docs) if docs else 1.0
        frequency: Counter[str] = Counter()
        for doc in docs:
            frequency.update(doc.terms.keys())
        total = len(docs)
        self.idf = {
            term: math.log(1 + (total - count + 0.5) / (count + 0.5))
            for term, count in frequency.items()
        }

    @classmethod
    def of(cls, articles: Sequence[tuple[int, str, str, str, str, list[str], str]]) -> LexicalIndex:
        docs = []
        for article_id, slug, locale, title, category, tags, body in articles:
            text = plain_text(body)
            words = tokenize(title) * 2 + tokenize(" ".join(tags)) + tokenize(text)
            docs.append(
                _Doc(article_id, slug, locale, title, category, text, Counter(words), len(words))
            )
        return cls(docs)

    def score(self, query_terms: Sequence[str], doc: _Doc) -> float:
        total = 0.0
        for term in set(query_terms):
            count = doc.terms.get(term, 0)
            if count:
                norm = K1 * (1 - B + B * doc.length / self.average)
                total += self.idf.get(term, 0.0) * count * (K1 + 1) / (count + norm)
        return total


def snippet(text: str, terms: Sequence[str], width: int = 180) -> str:
    """A window of ``text`` around the first query word it contains."""
    lowered = unicodedata.normalize("NFKC", text).lower()
    positions = [lowered.find(term) for term in terms if lowered.find(term) >= 0]
    start = max(0, min(positions) - width // 3) if positions else 0
    piece = text[start : start + width].strip()
    return ("…" if start > 0 else "") + piece + ("…" if start + width < len(text) else "")


def rank(index: LexicalIndex, query: str, locale: str, limit: int) -> list[Hit]:
    """The best articles for ``query`` in ``locale``; another language's version of an
    article stands in only where ``locale`` has none (English first)."""
    terms = tokenize(query[:MAX_QUERY_CHARS])
    if not terms or not index.docs:
        return []
    by_slug: dict[str, dict[str, _Doc]] = {}
    for doc in index.docs:
        by_slug.setdefault(doc.slug, {})[doc.locale] = doc
    hits = []
    for versions in by_slug.values():
        chosen = best_locale([locale, DEFAULT_LOCALE], versions) or sorted(versions)[0]
        doc = versions[chosen]
        # A query may be in another language than the reader's page: score every version.
        score = max(index.score(terms, version) for version in versions.values())
        if score > 0:
            hit = Hit(
                doc.article_id,
                doc.slug,
                doc.locale,
                doc.title,
                doc.category,
                round(score, 4),
                snippet(doc.text, terms),
                fallback=best_locale([locale], [doc.locale]) is None,
            )
            hits.append(hit)
    hits.sort(key=lambda hit: (-hit.score, hit.slug))
    return hits[:limit]


_indexes: dict[str, tuple[tuple[object, ...], LexicalIndex]] = {}


async def published_index(session: AsyncSession) -> LexicalIndex:
    """The index of published articles, rebuilt only when they changed."""
    fingerprint_row = (
        await session.execute(
            select(
                func.count(Article.id), func.max(Article.updated_at), func.max(Article.id)
            ).where(Article.status == PUBLISHED)
        )
    ).one()
    fingerprint = tuple(fingerprint_row)
    bind = session.get_bind()
    database = str(bind.engine.url)
    cached = _indexes.get(database)
    if cached is not None and cached[0] == fingerprint:
        return cached[1]
    rows = (
        await session.execute(
            select(
                Article.id,
                Article.slug,
                Article.locale,
                Article.title,
                Article.category,
                Article.tags,
                Article.body,
            ).where(Article.status == PUBLISHED)
        )
    ).all()
    # Cutting a thousand articles into words takes a while: off the event loop.
    articles = [
        (row.id, row.slug, row.locale, row.title, row.category, list(row.tags), row.body)
        for row in rows
    ]
    index = await asyncio.to_thread(LexicalIndex.of, articles)
    _indexes[database] = (fingerprint, index)
    return index


async def search_articles(
    session: AsyncSession, query: str, locale: str, limit: int = 10
) -> list[Hit]:
    """Published articles matching ``query``, best first, in ``locale`` where it exists."""
    index = await published_index(session)
    return rank(index, query, locale, limit)
