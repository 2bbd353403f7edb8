"""Questions that go to a person whatever the help center says: English, Chinese, typos."""

from __future__ import annotations

import pytest

from ledgerdesk.assistant.handoff import (
    ACCOUNT_COMPROMISED,
    BEREAVEMENT,
    HUMAN_REQUESTED,
    LEGAL,
    REVERSE_TRANSACTION,
    needs_human,
)


@pytest.mark.parametrize(
    ("question", "category"),
    [
        ("My account was hacked and all my BTC is gone", ACCOUNT_COMPROMISED),
        ("someone logged into my account from another country", ACCOUNT_COMPROMISED),
        ("I did not make this withdrawal of 2 ETH!!", ACCOUNT_COMPROMISED),
        ("my funds are gone", ACCOUNT_COMPROMISED),
        ("somebody withdrew my ETH without my permission", ACCOUNT_COMPROMISED),
        ("my account was hacked, if I change the password will it help", ACCOUNT_COMPROMISED),
        ("有人盗了我的号", ACCOUNT_COMPROMISED),
        ("资产全部被转走了", ACCOUNT_COMPROMISED),
        ("账户被盗了，USDT全被转走", ACCOUNT_COMPROMISED),
        ("不是我本人操作的提现", ACCOUNT_COMPROMISED),
        ("please reverse the transaction, it was already confirmed", REVERSE_TRANSACTION),
        ("can you undo the transfer I sent yesterday", REVERSE_TRANSACTION),
        ("已经确认的转账能撤回吗", REVERSE_TRANSACTION),
        ("My father passed away, how can we access his account?", BEREAVEMENT),
        ("inheritance of a deceased user's crypto", BEREAVEMENT),
        ("我父亲去世了，账户里的资产怎么继承", BEREAVEMENT),
        ("I will get my lawyer involved", LEGAL),
        ("I'm going to sue you", LEGAL),
        ("I already called the police", LEGAL),
        ("再不处理我就报警", LEGAL),
        ("我要去报案", LEGAL),
        ("我要起诉你们", LEGAL),
        ("我已经找了律师", LEGAL),
        ("talk to human", HUMAN_REQUESTED),
        ("I want a real agent", HUMAN_REQUESTED),
        ("can I speak to someone please", HUMAN_REQUESTED),
        ("talk to a humna pls", HUMAN_REQUESTED),
        ("connect me with an agnet", HUMAN_REQUESTED),
        ("speek to a represenative", HUMAN_REQUESTED),
        ("AGENT", HUMAN_REQUESTED),
        ("人工", HUMAN_REQUESTED),
        ("转人工", HUMAN_REQUESTED),
        ("客服在吗", HUMAN_REQUESTED),
        ("我要找真人客服", HUMAN_REQUESTED),
    ],
)
def test_it_hands_off_what_needs_a_person(question: str, category: str) -> None:
    found = needs_human(question)
    assert found is not None, question
    assert found.category == category


@pytest.mark.parametrize(
    "question",
    [
        "how do I cancel a pending withdrawal",
        "Someone sent me USDT on the wrong network, how do I find it",
        "that person sent me coins from another exchange",
        "how do I deposit USDT on TRC20",
        "I forgot the memo on my XRP deposit",
        "怎么撤回提现申请",
        "USDT 充值没到账",
        "what is the chat support schedule for the weekend?",
        "how long does a human review of KYC take",
        "phone stolen, had my 2fa on it, how do I regain access",
        "what should I do if my account might be compromised",
        "联系客服需要提供什么信息",
        "私钥可以发给客服吗",
        "人工智能会回答我的问题吗",
    ],
)
def test_it_leaves_ordinary_questions_to_the_help_center(question: str) -> None:
    assert needs_human(question) is None, needs_human(question)
