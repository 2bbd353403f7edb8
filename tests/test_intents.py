"""The intent classifier: n-grams plus a real multilingual embedding, and threshold choice."""

from __future__ import annotations

import pytest

from ledgerdesk.intents.classifier import (
    E5Embedder,
    IntentClassifier,
    IntentPrediction,
    choose_threshold,
)

TRAINING = {
    "deposit_missing": [
        "my deposit has not arrived",
        "deposit not credited yet",
        "I sent USDT but my balance did not change",
        "where is my deposit",
        "充值没有到账",
        "充值还没到",
    ],
    "reset_2fa": [
        "I lost my google authenticator",
        "reset my 2fa please",
        "new phone and my authenticator codes are gone",
        "cannot log in without 2fa code",
        "谷歌验证器丢了",
        "怎么重置二次验证",
    ],
    "withdrawal_pending": [
        "withdrawal stuck on pending",
        "my withdrawal is still processing",
        "why is my withdrawal under review",
        "withdraw has not been sent",
        "提币一直在审核中",
        "提现还没出来",
    ],
}


def _flatten() -> tuple[list[str], list[str]]:
    texts = [text for examples in TRAINING.values() for text in examples]
    labels = [label for label, examples in TRAINING.items() for _ in examples]
    return texts, labels


@pytest.fixture(scope="module")
def embedder() -> E5Embedder:
    return E5Embedder(threads=1)


def test_it_recognises_paraphrases_in_english_and_chinese(embedder: E5Embedder) -> None:
    texts, labels = _flatten()
    model = IntentClassifier(embedder).fit(texts, labels)
    predictions = model.predict(
        ["the money I deposited is missing", "我的验证器换手机后没了", "提币审核要多久"]
    )
    assert [p.label for p in predictions] == ["deposit_missing", "reset_2fa", "withdrawal_pending"]
    assert all(p.margin > 0 for p in predictions)


def test_a_threshold_turns_weak_matches_out_of_scope(embedder: E5Embedder) -> None:
    texts, labels = _flatten()
    model = IntentClassifier(embedder).fit(texts, labels)
    strong = model.predict(["my deposit has not arrived"])[0]
    model.threshold = strong.score + 1.0
    weak = model.predict(["my deposit has not arrived"])[0]
    assert weak.out_of_scope and weak.label is None
    assert weak.best_label == "deposit_missing"


def test_it_refuses_to_train_on_mismatched_input() -> None:
    with pytest.raises(ValueError, match="3 texts but 2 labels"):
        IntentClassifier().fit(["a", "b", "c"], ["x", "y"])
    with pytest.raises(ValueError, match="at least two intents"):
        IntentClassifier().fit(["a", "b"], ["x", "x"])
    with pytest.raises(RuntimeError, match="not been trained"):
        IntentClassifier().predict(["a"])


def _prediction(label: str, score: float) -> IntentPrediction:
    return IntentPrediction(label, label, score, 1.0, out_of_scope=False)


def test_the_chosen_threshold_keeps_the_required_accuracy_and_maximises_recall() -> None:
    in_scope = [_prediction("a", 2.0), _prediction("b", 1.0), _prediction("a", 0.5)]
    expected = ["a", "b", "b"]  # the third is wrong anyway: dropping it costs nothing
    out_of_scope = [_prediction("a", 0.4), _prediction("b", 0.9), _prediction("a", 1.5)]
    choice = choose_threshold(in_scope, expected, out_of_scope, min_in_scope_accuracy=0.66)
    # At 1.0 both right answers are kept (2 of 3) and two of three out-of-scope are caught.
    assert choice.threshold == 1.0
    assert choice.in_scope_accuracy == pytest.approx(2 / 3)
    assert choice.out_of_scope_recall == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="no threshold keeps"):
        choose_threshold(in_scope, expected, out_of_scope, min_in_scope_accuracy=0.9)
