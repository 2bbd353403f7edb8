"""Grouping questions by meaning, and describing each group. Pure: no database.

Vectors are L2-normalised e5 query vectors. Raw, they say first which language a
question is in: an English and a Chinese paraphrase are further apart than two
unrelated English questions. So each vector is first *centred*: the mean vector of
its language (measured once on hand-written support questions, stored in
``language_means.json``) is subtracted and the result normalised again, which
leaves what the question is about (on the held-out gap questions, pairwise F1
0.45 raw, 0.94 centred). Groups then come from agglomerative clustering with
average linkage over cosine distance, cut at ``DISTANCE_THRESHOLD``: two groups
merge while the average distance between their questions stays below it. Average
linkage neither chains loosely related questions into one blob (single linkage)
nor splits paraphrases that are close on average but far apart at the extremes
(complete linkage).

The threshold was chosen on hand-labelled questions, not guessed:
``python -m ledgerdesk.analytics.gaps.evaluate`` (docs/helpcenter-gaps.md).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]

# Chosen with gaps/evaluate.py on eval/assistant_validation.jsonl (docs/helpcenter-gaps.md).
DISTANCE_THRESHOLD = 0.725
MAX_EXAMPLES = 5
MAX_TITLE = 100
LANGUAGE_MEANS = Path(__file__).with_name("language_means.json")


@lru_cache(maxsize=1)
def language_means() -> dict[str, FloatArray]:
    """{"en": vector, "zh": vector, "*": their average (any other language)}."""
    stored = json.loads(LANGUAGE_MEANS.read_text(encoding="utf-8"))
    means = {key: np.asarray(value, dtype=np.float32) for key, value in stored.items()}
    means["*"] = np.mean(list(means.values()), axis=0).astype(np.float32)
    return means


def centre(vectors: FloatArray, locales: Sequence[str]) -> FloatArray:
    """Each vector minus its language's mean, normalised again (see the module's notes)."""
    means = language_means()
    shifted = np.array(vectors, dtype=np.float32, copy=True)
    for row, locale in enumerate(locales):
        shifted[row] -= means.get(language_of(locale), means["*"])
    norms = np.linalg.norm(shifted, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    result: FloatArray = (shifted / norms).astype(np.float32)
    return result


def cluster_labels(vectors: FloatArray, threshold: float = DISTANCE_THRESHOLD) -> list[int]:
    """A group number for each row of ``vectors`` (n × dim, centred)."""
    count = int(vectors.shape[0])
    if count == 0:
        return []
    if count == 1:
        return [0]
    from sklearn.cluster import AgglomerativeClustering

    model = AgglomerativeClustering(
        n_clusters=None,
        metric="cosine",
        linkage="average",
        distance_threshold=threshold,
    )
    labels = model.fit_predict(np.asarray(vectors, dtype=np.float64))
    return [int(label) for label in labels]


@dataclass(frozen=True)
class Item:
    """One collected question as the clustering sees it."""

    id: int
    text: str
    locale: str
    source: str
    occurred_at: datetime
    conversation_id: int | None = None
    article_id: int | None = None
    draft_article_id: int | None = None


@dataclass
class Group:
    items: list[Item]  # closest to the group's centre first
    title: str
    locale: str  # the group's main language
    languages: dict[str, int] = field(default_factory=dict)
    sources: dict[str, int] = field(default_factory=dict)
    draft_article_id: int | None = None

    @property
    def count(self) -> int:
        return len(self.items)

    @property
    def examples(self) -> list[Item]:
        return self.items[:MAX_EXAMPLES]

    @property
    def question_ids(self) -> list[int]:
        return sorted(item.id for item in self.items)

    @property
    def first_at(self) -> datetime:
        return min(item.occurred_at for item in self.items)

    @property
    def last_at(self) -> datetime:
        return max(item.occurred_at for item in self.items)


def language_of(locale: str) -> str:
    return locale.split("-")[0].lower()


def by_centrality(vectors: FloatArray) -> list[int]:
    """Row indexes ordered from the most central (closest to the mean direction) outwards."""
    centre = vectors.mean(axis=0)
    norm = float(np.linalg.norm(centre))
    if norm > 0:
        centre = centre / norm
    scores = vectors @ centre
    # Stable: ties keep their original (oldest first) order.
    return [int(i) for i in np.argsort(-scores, kind="stable")]


def describe_raw(items: Sequence[Item], raw: FloatArray) -> Group:
    """:func:`describe` for raw e5 vectors (centred first, as :func:`group_questions` does)."""
    return describe(items, centre(raw, [item.locale for item in items]))


def describe(items: Sequence[Item], vectors: FloatArray) -> Group:
    """The group of these questions (centred vectors): ordered by centrality, its
    language, title, counts."""
    order = by_centrality(vectors)
    ordered = [items[i] for i in order]
    languages = Counter(item.locale for item in ordered)
    # The most common language; a tie goes to the language of the more central question.
    rank = {
        locale: position
        for position, locale in reversed(list(enumerate(item.locale for item in ordered)))
    }
    main = max(languages, key=lambda locale: (languages[locale], -rank[locale]))
    central = next(item for item in ordered if item.locale == main)
    drafts = Counter(item.draft_article_id for item in ordered if item.draft_article_id)
    return Group(
        items=ordered,
        title=suggest_title(central.text),
        locale=main,
        languages=dict(languages.most_common()),
        sources=dict(Counter(item.source for item in ordered).most_common()),
        draft_article_id=drafts.most_common(1)[0][0] if drafts else None,
    )


def group_questions(
    items: Sequence[Item], vectors: FloatArray, threshold: float = DISTANCE_THRESHOLD
) -> list[Group]:
    """The groups of ``items`` (one raw e5 vector row each), largest first, then most recent."""
    if len(items) != int(vectors.shape[0]):
        raise ValueError("one vector per question is needed")
    vectors = centre(vectors, [item.locale for item in items])
    members: dict[int, list[int]] = {}
    for index, label in enumerate(cluster_labels(vectors, threshold)):
        members.setdefault(label, []).append(index)
    groups = [describe([items[i] for i in rows], vectors[rows]) for rows in members.values()]
    groups.sort(key=lambda group: (-group.count, -group.last_at.timestamp()))
    return groups


# Titles ----------------------------------------------------------------------------

_GREETING = re.compile(
    r"^(?:(?:(?:hi|hello|hey|hiya)(?:\s+(?:there|team|all|guys|everyone|support))?|"
    r"dear\s+(?:support|team|sir|madam)|good\s+(?:morning|afternoon|evening)|greetings|"
    r"excuse me|sorry|please|pls|plz)\b[\s,.!:;-]*)+",
    re.IGNORECASE,
)
_ZH_GREETING = re.compile(
    r"^(?:(?:您好|你好|在吗|在不在|客服|请问|麻烦|打扰了?)[\s，,。.!！:：~～]*)+"
)
_THANKS = re.compile(
    r"[\s,.!;-]*(?:thanks?(?:\s+you)?|thx|ty|many thanks|谢谢(?:你|您)?|多谢|感谢)[\s,.!！。~～]*$",
    re.IGNORECASE,
)
_SENTENCE = re.compile(r"(?<=[.!?。！？])\s*")


def suggest_title(question: str) -> str:
    """A starting title from a customer's question: greetings and thanks dropped, the
    sentence that asks kept, cut to a readable length, first letter capitalised.

    It is the customer's own wording, tidied, not a rewrite: the editor of the draft
    gives it its final form.
    """
    text = " ".join(question.split())
    text = _THANKS.sub("", _ZH_GREETING.sub("", _GREETING.sub("", text))).strip()
    sentences = [part.strip() for part in _SENTENCE.split(text) if part.strip()]
    if sentences:
        asking = [s for s in sentences if s.endswith(("?", "？"))]
        text = asking[0] if asking else max(sentences, key=len)
    if len(text) > MAX_TITLE:
        cut = text[:MAX_TITLE]
        space = cut.rfind(" ")
        text = (cut[:space] if space > MAX_TITLE // 2 else cut).rstrip(" ,.;:-") + "…"
    text = text.strip(" ,;:-")
    if not text:
        text = " ".join(question.split())[:MAX_TITLE] or "Untitled question"
    return text[0].upper() + text[1:]
