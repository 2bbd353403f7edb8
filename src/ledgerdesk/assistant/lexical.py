"""BM25 over token lists, with an inverted index in numpy and typo-tolerant lookup.

Small on purpose: a help center has hundreds or thousands of articles, so one
pass over the postings of the question's few words is far below a millisecond.
A question word the index has never seen ("withdrawl", "authentcator") is looked
up by its one-letter deletions (the SymSpell trick), which finds index words at
edit distance one or two without scanning the vocabulary.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


class BM25:
    """Okapi BM25 (k1, b) over pre-tokenised documents."""

    def __init__(self, documents: Sequence[Sequence[str]], k1: float = 1.2, b: float = 0.75):
        self.k1 = k1
        self.b = b
        self.size = len(documents)
        lengths = np.array([len(doc) for doc in documents], dtype=np.float32)
        average = float(lengths.mean()) if self.size and lengths.sum() else 1.0
        norms = k1 * (1 - b + b * lengths / average)
        postings: dict[str, tuple[list[int], list[int]]] = defaultdict(lambda: ([], []))
        for doc_id, doc in enumerate(documents):
            for term, count in Counter(doc).items():
                ids, counts = postings[term]
                ids.append(doc_id)
                counts.append(count)
        self._postings: dict[str, tuple[npt.NDArray[np.int32], FloatArray]] = {}
        self.idf: dict[str, float] = {}
        for term, (ids, counts) in postings.items():
            ids_array = np.array(ids, dtype=np.int32)
            tf = np.array(counts, dtype=np.float32)
            # Term-frequency saturation precomputed: scoring a query is then one add per posting.
            weights = tf * (k1 + 1) / (tf + norms[ids_array])
            idf = math.log(1 + (self.size - len(ids) + 0.5) / (len(ids) + 0.5))
            self.idf[term] = idf
            self._postings[term] = (ids_array, (weights * idf).astype(np.float32))
        self._by_deletion: dict[str, list[str]] = defaultdict(list)
        for term in self._postings:
            if len(term) >= 5 and term.isascii() and term.isalpha():
                for deleted in _deletions(term):
                    self._by_deletion[deleted].append(term)

    def __contains__(self, term: str) -> bool:
        return term in self._postings

    def correct(self, term: str) -> str | None:
        """The index word closest to an unknown ``term`` (edit distance about 1-2), if any."""
        if term in self._postings:
            return term
        if len(term) < 5 or not term.isascii() or not term.isalpha():
            return None
        candidates: set[str] = set(self._by_deletion.get(term, ()))  # a letter missing
        for deleted in _deletions(term):
            if deleted in self._postings:  # a letter too many
                candidates.add(deleted)
            candidates.update(self._by_deletion.get(deleted, ()))  # substituted or swapped
        if not candidates:
            return None
        # Prefer the common word: typos are usually of words the articles use a lot.
        return max(candidates, key=lambda word: (len(self._postings[word][0]), word))

    def resolve(self, query: Sequence[str]) -> list[str]:
        """The query's terms as the index knows them: typos corrected, unknown ones dropped."""
        resolved: list[str] = []
        for term in query:
            known = self.correct(term)
            if known is not None:
                resolved.append(known)
        return resolved

    def scores(self, query: Sequence[str]) -> FloatArray:
        """BM25 score of every document for the (resolved) query terms."""
        scores = np.zeros(self.size, dtype=np.float32)
        for term in query:
            posting = self._postings.get(term)
            if posting is not None:
                ids, weights = posting
                scores[ids] += weights
        return scores

    def max_score(self, query: Sequence[str]) -> float:
        """The score no document can exceed: every query term at full saturation.

        Dividing by it turns raw BM25 into a share in [0, 1] that is comparable
        across questions (raw BM25 grows with the question's length).
        """
        return sum(self.idf.get(term, 0.0) * (self.k1 + 1) for term in query)
