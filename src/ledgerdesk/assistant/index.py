"""The hybrid index: BM25 and dense passage vectors, fused into one ranking of articles.

Built from plain :class:`~ledgerdesk.assistant.passages.Doc` values, so it needs no
database. Each article (one slug in one language) is scored by

* lexical: BM25 over title (boosted), tags, category and body, divided by what a
  perfect match of the question's words would score, so it reads as "the share of
  the question this article covers" in [0, 1];
* dense: the best cosine between the question's e5 vector and the article's
  passage vectors, rescaled from the band e5 cosines live in to [0, 1];

and the two are fused, by a weighted sum (the default; its absolute value is the
confidence the hand-off rules read) or by reciprocal rank fusion. Versions of one
slug in several languages compete as one subject: the best of them stands for it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ledgerdesk.assistant.dense import DIM, Embedder, FloatArray
from ledgerdesk.assistant.lexical import BM25
from ledgerdesk.assistant.passages import Doc, Passage, split_passages
from ledgerdesk.assistant.text import tokenize, unique

TITLE_BOOST = 3
TAG_BOOST = 2


@dataclass(frozen=True, slots=True)
class FusionParams:
    method: Literal["weighted", "rrf"] = "weighted"
    # Defaults chosen on eval/assistant_validation.jsonl (docs/assistant.md).
    dense_weight: float = 0.7
    # e5 cosines between a question and any text sit high; this band maps to [0, 1].
    dense_floor: float = 0.75
    dense_ceiling: float = 0.92
    rrf_k: int = 60


@dataclass(frozen=True, slots=True)
class Hit:
    doc: Doc
    doc_index: int
    score: float  # fused, in [0, 1]
    lexical: float  # share of the question covered, in [0, 1]
    dense: float  # best passage cosine (raw)


@dataclass(frozen=True, slots=True)
class Query:
    text: str
    terms: tuple[str, ...]  # as the index knows them (typos corrected)
    vector: FloatArray | None


def rrf(rankings: Sequence[Sequence[int]], k: int = 60) -> dict[int, float]:
    """Reciprocal rank fusion: each list gives item i at rank r a vote of 1 / (k + r)."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + 1.0 / (k + rank)
    return fused


def article_terms(doc: Doc) -> list[str]:
    title = tokenize(doc.title)
    tags = [term for tag in doc.tags for term in tokenize(tag)]
    return title * TITLE_BOOST + tags * TAG_BOOST + tokenize(doc.category) + tokenize(doc.body)


class HybridIndex:
    def __init__(
        self,
        docs: Sequence[Doc],
        passages: Sequence[Sequence[Passage]],
        vectors: Sequence[FloatArray] | None,
        embedder: Embedder | None,
        fusion: FusionParams | None = None,
    ) -> None:
        self.docs = list(docs)
        self.passages = [list(p) for p in passages]
        self.embedder = embedder
        self.fusion = fusion or FusionParams()
        self.lexical = BM25([article_terms(doc) for doc in self.docs])
        flat = [(i, passage) for i, group in enumerate(self.passages) for passage in group]
        self._passage_doc = np.array([i for i, _ in flat], dtype=np.int32)
        self._passage_start = np.cumsum([0] + [len(group) for group in self.passages])
        self.passage_lexical = BM25(
            [tokenize(p.heading) * 2 + tokenize(p.text) for _, p in flat], b=0.5
        )
        if vectors is not None and embedder is not None and flat:
            self._matrix: FloatArray | None = np.vstack(vectors).astype(np.float32)
        else:
            self._matrix = None
        self._by_slug: dict[str, dict[str, int]] = {}
        for i, doc in enumerate(self.docs):
            self._by_slug.setdefault(doc.slug, {})[doc.locale] = i

    @classmethod
    def build(
        cls,
        docs: Sequence[Doc],
        embedder: Embedder | None,
        stored: Mapping[tuple[str, str], FloatArray] | None = None,
        fusion: FusionParams | None = None,
        embed_missing: bool = True,
    ) -> HybridIndex:
        """Index ``docs``; passage vectors come from ``stored`` when present, else are computed.

        With ``embed_missing=False`` an article without stored vectors gets zero
        vectors: it is found by its words alone until its vectors are stored.
        """
        passages = [split_passages(doc) for doc in docs]
        vectors: list[FloatArray] | None = None
        if embedder is not None:
            vectors = []
            for doc, group in zip(docs, passages, strict=True):
                known = (stored or {}).get((doc.slug, doc.locale))
                if known is None or known.shape != (len(group), DIM):
                    if embed_missing:
                        known = embedder.passages([p.embedding_text(doc.title) for p in group])
                    else:
                        known = np.zeros((len(group), DIM), dtype=np.float32)
                vectors.append(known)
        return cls(docs, passages, vectors, embedder, fusion)

    @property
    def has_dense(self) -> bool:
        return self._matrix is not None

    def versions(self, slug: str) -> dict[str, int]:
        """locale → doc index for every language this slug is published in."""
        return self._by_slug.get(slug, {})

    def vectors_of(self, doc_index: int) -> FloatArray | None:
        if self._matrix is None:
            return None
        start, end = self._passage_start[doc_index], self._passage_start[doc_index + 1]
        return self._matrix[start:end]

    def query(self, text: str) -> Query:
        terms = tuple(unique(self.lexical.resolve(tokenize(text))))
        vector = None
        if self._matrix is not None and self.embedder is not None and text.strip():
            vector = self.embedder.query(text)
        return Query(text, terms, vector)

    def _dense_by_doc(self, query: Query) -> FloatArray:
        best = np.full(len(self.docs), -1.0, dtype=np.float32)
        if self._matrix is None or query.vector is None:
            return best
        cosines = self._matrix @ query.vector
        np.maximum.at(best, self._passage_doc, cosines)
        return best

    def search(self, query: Query, limit: int = 5) -> list[Hit]:
        """The best articles, one per slug, best first."""
        if not self.docs:
            return []
        fusion = self.fusion
        perfect = self.lexical.max_score(query.terms)
        raw = self.lexical.scores(query.terms)
        lexical = np.clip(raw / perfect, 0.0, 1.0) if perfect > 0 else np.zeros_like(raw)
        dense = self._dense_by_doc(query)
        if query.vector is not None:
            span = fusion.dense_ceiling - fusion.dense_floor
            dense_scaled = np.clip((dense - fusion.dense_floor) / span, 0.0, 1.0)
            weight = fusion.dense_weight
        else:
            dense_scaled = np.zeros_like(dense)
            weight = 0.0
        fused = weight * dense_scaled + (1 - weight) * lexical
        if fusion.method == "rrf" and query.vector is not None:
            order = self._rrf_order(lexical, dense)
        else:
            order = [int(i) for i in np.argsort(-fused, kind="stable")]
        hits: list[Hit] = []
        seen: set[str] = set()
        for i in order:
            doc = self.docs[i]
            if doc.slug in seen:
                continue
            seen.add(doc.slug)
            hits.append(Hit(doc, i, float(fused[i]), float(lexical[i]), float(dense[i])))
            if len(hits) >= limit:
                break
        return hits

    def _rrf_order(self, lexical: FloatArray, dense: FloatArray) -> list[int]:
        depth = min(len(self.docs), 50)
        by_lexical = [int(i) for i in np.argsort(-lexical, kind="stable")[:depth] if lexical[i] > 0]
        by_dense = [int(i) for i in np.argsort(-dense, kind="stable")[:depth]]
        fused = rrf([by_lexical, by_dense], self.fusion.rrf_k)
        return sorted(fused, key=lambda i: -fused[i])

    def best_passage(self, doc_index: int, query: Query) -> Passage:
        """The passage of this article that answers the question best."""
        group = self.passages[doc_index]
        if len(group) == 1:
            return group[0]
        start = int(self._passage_start[doc_index])
        lexical = self.passage_lexical.scores(query.terms)[start : start + len(group)]
        top = float(lexical.max())
        score = lexical / top if top > 0 else np.zeros(len(group), dtype=np.float32)
        vectors = self.vectors_of(doc_index)
        if vectors is not None and query.vector is not None:
            score = 0.5 * score + 0.5 * np.clip((vectors @ query.vector - 0.75) / 0.2, 0, 1)
        return group[int(np.argmax(score))]
