"""Composing answers: language, the "only in another language" notice, the hand-off rules."""

from __future__ import annotations

from pathlib import Path

from ledgerdesk.assistant.answer import Assistant, Thresholds, normalise_locale
from ledgerdesk.settings import load_settings
from tests.assistant_fixtures import dense_index


def _assistant(**thresholds: float) -> Assistant:
    chosen = Thresholds(**thresholds) if thresholds else Thresholds(0.3, 0.0, 0.2)
    return Assistant(dense_index(), chosen)


def test_it_answers_with_the_relevant_part_and_a_link_in_the_customers_language() -> None:
    result = _assistant().answer("forgot the memo for my XRP deposit")
    assert not result.handoff
    assert result.reason is None
    assert result.locale == "en"
    assert result.sources[0].slug == "missing-memo-tag"
    assert result.sources[0].locale == "en"
    assert "/help/en/a/missing-memo-tag" in result.answer
    assert 0 < result.confidence <= 1


def test_the_answer_quotes_the_section_that_answers_the_question() -> None:
    result = _assistant().answer("how long does recovery of a deposit without memo take")
    assert result.answer.startswith("Recover a deposit without memo\n")
    assert "Recovery takes 3-5 business days" in result.answer


def test_a_chinese_question_gets_the_chinese_version() -> None:
    result = _assistant().answer("谷歌验证器丢了怎么办")
    assert result.locale == "zh-Hans"
    assert result.sources[0].slug == "reset-2fa"
    assert result.sources[0].locale == "zh-Hans"
    assert "/help/zh-Hans/a/reset-2fa" in result.answer


def test_the_given_locale_wins_over_the_text() -> None:
    result = _assistant().answer("USDT TRC20 fee", locale="zh-CN")
    assert result.locale == "zh-Hans"
    assert result.sources[0].locale == "zh-Hans"
    assert normalise_locale("zh", "x") == "zh-Hans"
    assert normalise_locale(None, "充值") == "zh-Hans"


def test_an_article_only_in_english_answers_a_chinese_customer_and_says_so() -> None:
    result = _assistant().answer("staking 收益什么时候发放？")
    assert not result.handoff
    assert result.sources[0].slug == "staking-rewards"
    assert result.sources[0].locale == "en"
    assert result.answer.startswith("这篇文章目前只有英文版本。")
    assert "/help/en/a/staking-rewards" in result.answer


def test_an_article_only_in_chinese_answers_an_english_customer_and_says_so() -> None:
    result = _assistant().answer("how do I open a P2P appeal", locale="en")
    assert result.sources[0].slug == "p2p-appeal"
    assert result.answer.startswith("This article is only available in Chinese.")


def test_a_human_needed_question_is_handed_off_even_with_a_good_match() -> None:
    result = _assistant().answer("I lost my Google Authenticator and I want to talk to a human")
    assert result.handoff
    assert result.reason == "needs_human:human_requested"
    # The agent who takes over still sees what the help center had.
    assert result.sources[0].slug == "reset-2fa"


def test_a_hacked_account_gets_the_safety_line() -> None:
    result = _assistant().answer("my account was hacked")
    assert result.reason == "needs_human:account_compromised"
    assert "seed phrase" in result.answer


def test_out_of_scope_low_confidence_and_ambiguous_follow_the_thresholds() -> None:
    question = "what is the weather in Paris tomorrow"
    assert _assistant(min_confidence=0.3, out_of_scope_below=0.99).answer(question).reason == (
        "out_of_scope"
    )
    assert _assistant(min_confidence=0.99, out_of_scope_below=0.0).answer(question).reason == (
        "low_confidence"
    )
    result = _assistant(min_confidence=0.0, min_margin=1.0, out_of_scope_below=0.0).answer(
        "deposit"
    )
    assert result.reason == "ambiguous"
    assert result.handoff
    assert "/help/" in result.answer  # the candidates are offered while waiting


def test_thresholds_come_from_settings(tmp_path: Path) -> None:
    settings = load_settings(
        environ={
            "LEDGERDESK_ASSISTANT_MIN_CONFIDENCE": "0.61",
            "LEDGERDESK_ASSISTANT_MIN_MARGIN": "0.07",
            "LEDGERDESK_ASSISTANT_OUT_OF_SCOPE_BELOW": "0.2",
        },
        data_dir=tmp_path,
    )
    assert Thresholds.from_settings(settings) == Thresholds(0.61, 0.07, 0.2)
    strict = Assistant(dense_index(), Thresholds.from_settings(settings.model_copy(
        update={"assistant_min_confidence": 1.0, "assistant_out_of_scope_below": 0.0}
    )))  # fmt: skip
    assert strict.answer("deposit").reason == "low_confidence"
