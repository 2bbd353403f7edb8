"""Questions about another platform's product are handed off as out of scope."""

from __future__ import annotations

import pytest

from ledgerdesk.assistant.answer import OUT_OF_SCOPE, Assistant, Thresholds, decide
from ledgerdesk.assistant.scope import other_platform
from tests.assistant_fixtures import lexical_index


@pytest.mark.parametrize(
    ("question", "name"),
    [
        ("how do I turn on 2FA for my KuCoin account", "kucoin"),
        ("what does Bybit charge for maker orders", "bybit"),
        ("Coinbase keeps rejecting my ID photo", "coinbase"),
        ("is the meta mask extension safe", "meta mask"),
        ("欧易怎么开合约", "欧易"),
        ("币安的提现限额是多少", "币安"),
        ("支付宝怎么提高转账额度", "支付宝"),
        ("how do I create an API key on gate.io", "gate.io"),
    ],
)
def test_a_question_about_another_platforms_product_names_it(question: str, name: str) -> None:
    found = other_platform(question)
    assert found is not None and found.name == name


@pytest.mark.parametrize(
    "question",
    [
        "I sent USDT from Binance two hours ago and it is not in my balance",
        "withdrew to my metamask on the wrong network",
        "my withdrawal to Kraken shows completed but Kraken has nothing",
        "从OKX提币过来还没到账",
        "提现到我的 Trust Wallet 一直在审核",
        "币安转过来的USDT没到",
        "is Harbor's 2FA the same as the one I use on Coinbase",
        "my deposit has not arrived",
        "the gate of my house is broken",  # an ordinary word, not gate.io
    ],
)
def test_a_transfer_with_another_platform_or_no_platform_is_not_out_of_scope(
    question: str,
) -> None:
    assert other_platform(question) is None


def test_the_assistant_hands_off_a_question_about_another_platform_even_when_confident() -> None:
    assistant = Assistant(lexical_index(), Thresholds(0.0, 0.0, 0.0))
    own = assistant.answer("how do I reset my 2fa", "en")
    assert not own.handoff
    other = assistant.answer("how do I reset my 2fa on Binance", "en")
    assert other.handoff and other.reason == OUT_OF_SCOPE
    assert other.sources  # the agent still sees what retrieval found
    # The human-needed rules still come first.
    hacked = decide([], "my Binance account was hacked", Thresholds())
    assert hacked.reason == "needs_human:account_compromised"
