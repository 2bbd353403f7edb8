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

import jieba  # type: ignore[import-untyped, unused-ignore]
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerdesk.db.engine import database_key
from ledgerdesk.knowledge.locales import DEFAULT_LOCALE, best_locale
from ledgerdesk.knowledge.models import PUBLISHED, Article

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


_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_LATIN_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def tokenize(text: str) -> list[str]:
    """Words of a text for matching: NFKC, lower-case, without stop words.

    Only the runs of Chinese characters go through jieba (its search mode, without
    the HMM guesser: faster, and new-word discovery helps little here); everything
    else is cut at non-letters, which is what jieba would do with it, only quicker.
    """
    _prepare_jieba()
    normal = unicodedata.normalize("NFKC", text).lower()
    words: list[str] = []
    position = 0
    for run in _CJK_RUN.finditer(normal):
        words += _LATIN_WORD.findall(normal[position : run.start()])
        words += jieba.lcut_for_search(run.group(), HMM=False)
        position = run.end()
    words += _LATIN_WORD.findall(normal[position:])
    return [word for word in words if word not in STOPWORDS and _WORD.search(word)]


_MARKUP = [
    (re.compile(r"^```.*$|^~~~.*$", re.MULTILINE), " "),  # code fences
    (re.compile(r"!?\[([^\]]*)\]\([^)]*\)"), r"\1"),  # links and images: their text
    (re.compile(r"^\s{0,3}(?:#{1,6}|>|[-*+]|\d+[.)])\s+", re.MULTILINE), ""),  # block marks
    (re.compile(r"^\s*\|?[\s:|-]+\|[\s:|-]*$", re.MULTILINE), " "),  # table rules
    (re.compile(r"[*_`|~]+"), " "),  # emphasis, code, table cells
    (re.compile(r"\s+"), " "),
]


def strip_markdown(markdown: str) -> str:
    """Roughly the words a reader sees; cheaper than rendering, good enough for search."""
    text = markdown
    for pattern, replacement in _MARKUP:
        text = pattern.sub(replacement, text)
    return text.strip()


@dataclass(frozen=True)
class _Doc:
    article_id: int
    slug: str
    locale: str
    title: str
    category: str
    text: str
    length: int


class LexicalIndex:
    """BM25 over a fixed set of documents, with an inverted index of their words."""

    def __init__(self, docs: Sequence[_Doc], terms: Sequence[Counter[str]]) -> None:
        self.docs = list(docs)
        self.average = sum(doc.length for doc in docs) / len(docs) if docs else 1.0
        # word -> [(document number, count in it)]
        self.postings: dict[str, list[tuple[int, int]]] = {}
        for number, counts in enumerate(terms):
            for term, count in counts.items():
                self.postings.setdefault(term, []).append((number, count))
        total = len(docs)
        self.idf = {
            term: math.log(1 + (total - len(found) + 0.5) / (len(found) + 0.5))
            for term, found in self.postings.items()
        }
        self.norms = [K1 * (1 - B + B * doc.length / self.average) for doc in docs]
        self.versions: dict[str, dict[str, int]] = {}  # slug -> locale -> document number
        for number, doc in enumerate(docs):
            self.versions.setdefault(doc.slug, {})[doc.locale] = number
        self._chosen: dict[tuple[str, str], tuple[int, bool]] = {}

    @classmethod
    def of(cls, articles: Sequence[tuple[int, str, str, str, str, list[str], str]]) -> LexicalIndex:
        docs = []
        terms = []
        for article_id, slug, locale, title, category, tags, body in articles:
            text = strip_markdown(body)
            words = tokenize(title) * 2 + tokenize(" ".join(tags)) + tokenize(text)
            docs.append(_Doc(article_id, slug, locale, title, category, text, len(words)))
            terms.append(Counter(words))
        return cls(docs, terms)

    def scores(self, query_terms: Sequence[str]) -> dict[int, float]:
        """BM25 of every document that has at least one of the words."""
        totals: dict[int, float] = {}
        for term in set(query_terms):
            idf = self.idf.get(term)
            if idf is None:
                continue
            for number, count in self.postings[term]:
                gain = idf * count * (K1 + 1) / (count + self.norms[number])
                totals[number] = totals.get(number, 0.0) + gain
        return totals

    def shown_version(self, slug: str, locale: str) -> tuple[int, bool]:
        """The document a reader of ``locale`` sees for ``slug``, and whether it is a stand-in."""
        key = (slug, locale)
        if key not in self._chosen:
            versions = self.versions[slug]
            own = best_locale([locale], versions)
            chosen = own or best_locale([DEFAULT_LOCALE], versions) or sorted(versions)[0]
            self._chosen[key] = (versions[chosen], own is None)
        return self._chosen[key]


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
    if not terms:
        return []
    # A query may be in another language than the reader's page: every version
    # counts, and the article scores as its best version.
    best: dict[str, float] = {}
    for number, score in index.scores(terms).items():
        slug = index.docs[number].slug
        best[slug] = max(best.get(slug, 0.0), score)
    top = sorted(best.items(), key=lambda item: (-item[1], item[0]))[:limit]
    hits = []
    for slug, score in top:
        number, fallback = index.shown_version(slug, locale)
        doc = index.docs[number]
        hits.append(
            Hit(
                doc.article_id,
                doc.slug,
                doc.locale,
                doc.title,
                doc.category,
                round(score, 4),
                snippet(doc.text, terms),
                fallback=fallback,
            )
        )
    return hits


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
    database = database_key(session)
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
