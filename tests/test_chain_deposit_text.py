"""The words of a "where is my deposit" verdict, with no I/O: the verdict from a
transaction alone, the customer's sentence and the agent's line in English and
Chinese, and the keyword test that decides whether a chat message asks about one."""

from __future__ import annotations

from typing import Any

import pytest

from ledgerdesk.chain.deposit import DepositStatus, deposit_verdict
from ledgerdesk.chain.deposit_text import (
    agent_line,
    customer_sentence,
    deposit_question,
    text_language,
    tx_verdict,
)
from ledgerdesk.chain.interface import Transfer, TxInfo, TxStatus
from ledgerdesk.chain.networks import ChainNetwork
from ledgerdesk.channels.webchat.assistant import chain_handoff, deposit_hash_and_address

ETH = ChainNetwork.model_validate(
    {
        "name": "ethereum",
        "label": "Ethereum",
        "chain_id": 1,
        "rpc_url": "https://node.invalid",
        "confirmations": 12,
    }
)
BSC = ChainNetwork.model_validate(
    {
        "name": "bsc",
        "label": "BNB Smart Chain",
        "chain_id": 56,
        "rpc_url": "https://bsc.invalid",
        "confirmations": 15,
        "native_symbol": "BNB",
    }
)
HASH = "0x" + "5e" * 32
DEPOSIT = "0x" + "11" * 20
OTHER = "0x" + "22" * 20


def _tx(status: TxStatus, confirmations: int = 0, **changes: Any) -> TxInfo:
    values: dict[str, Any] = {
        "network": "ethereum",
        "tx_hash": HASH,
        "status": status,
        "required_confirmations": 12,
        "native_symbol": "ETH",
        "native_decimals": 18,
        "confirmations": confirmations,
        "block_number": 100 if status in (TxStatus.SUCCEEDED, TxStatus.REVERTED) else None,
        "transfers": (Transfer(to_address=DEPOSIT, amount=5 * 10**17),),
    }
    values.update(changes)
    return TxInfo(**values)


def test_a_deep_transaction_is_credited_with_its_count_not_n_of_m() -> None:
    verdict = tx_verdict(_tx(TxStatus.SUCCEEDED, 22), ETH)
    assert verdict.status is DepositStatus.CREDITED
    assert agent_line(verdict, "en") == "Credited: 22 confirmations on Ethereum (12 needed)"
    assert agent_line(verdict, "zh_Hans") == "已入账：Ethereum 上 22 个确认（需要 12 个）"
    sentence = customer_sentence(verdict, "en")
    assert sentence.startswith("Your transaction 0x5e5e5e…5e5e5e (0.5 ETH) on Ethereum")
    assert "is confirmed (22 confirmations; 12 are needed)" in sentence
    assert "22 of 12" not in sentence


def test_a_shallow_transaction_waits_for_the_missing_confirmations() -> None:
    verdict = tx_verdict(_tx(TxStatus.SUCCEEDED, 5), ETH)
    assert verdict.status is DepositStatus.CONFIRMING
    assert agent_line(verdict, "en") == "Waiting for 7 more confirmations on Ethereum (5 of 12)"
    assert "waiting for 7 more" in customer_sentence(verdict, "en")
    assert "还需等待 7 个（共需 12 个）" in customer_sentence(verdict, "zh-Hans")


def test_a_pending_transaction_is_in_no_block_yet() -> None:
    verdict = tx_verdict(_tx(TxStatus.PENDING), ETH)
    assert verdict.status is DepositStatus.PENDING
    assert "not in a block yet" in customer_sentence(verdict, "en")
    assert "尚未被打包进区块" in customer_sentence(verdict, "zh")


def test_a_reverted_transaction_failed_and_the_funds_stayed() -> None:
    verdict = tx_verdict(_tx(TxStatus.REVERTED, 3, transfers=()), ETH)
    assert verdict.status is DepositStatus.FAILED
    assert agent_line(verdict, "en").startswith("Failed (reverted) on Ethereum")
    assert "did not leave your wallet" in customer_sentence(verdict, "en")
    assert "执行失败" in customer_sentence(verdict, "zh-CN")


def test_not_found_says_so_and_names_the_network_where_it_is() -> None:
    missing = _tx(TxStatus.NOT_FOUND, transfers=())
    alone = tx_verdict(missing, ETH)
    assert agent_line(alone, "en") == "Not found on Ethereum"
    assert customer_sentence(alone, "en").startswith("We cannot find the transaction")

    elsewhere = tx_verdict(missing, ETH, found_on=[BSC])
    assert elsewhere.status is DepositStatus.NOT_FOUND and elsewhere.found_on == ("bsc",)
    assert agent_line(elsewhere, "en") == (
        "Not found on Ethereum (found on BNB Smart Chain: wrong network)"
    )
    assert (
        agent_line(elsewhere, "zh_Hans")
        == "在 Ethereum 上未找到（在 BNB Smart Chain 上找到：网络错误）"
    )
    assert "on BNB Smart Chain, not on Ethereum" in customer_sentence(elsewhere, "en")
    assert "我们在 BNB Smart Chain 上找到了交易" in customer_sentence(elsewhere, "zh-Hans")
    assert chain_handoff(elsewhere) and not chain_handoff(alone)


def test_a_verdict_with_the_deposit_address_reads_the_same_way() -> None:
    credited = deposit_verdict(_tx(TxStatus.SUCCEEDED, 12), ETH, DEPOSIT)
    assert customer_sentence(credited, "en") == customer_sentence(
        tx_verdict(_tx(TxStatus.SUCCEEDED, 12), ETH), "en"
    )
    wrong = deposit_verdict(_tx(TxStatus.SUCCEEDED, 12), ETH, OTHER)
    assert wrong.status is DepositStatus.WRONG_ADDRESS and chain_handoff(wrong)
    assert customer_sentence(wrong, "en") == wrong.customer_texts["en"]
    assert agent_line(wrong, "zh_Hans").startswith("地址不符")
    wrong_network = deposit_verdict(_tx(TxStatus.NOT_FOUND), ETH, DEPOSIT, found_on=[BSC])
    assert "on BNB Smart Chain, not on Ethereum" in customer_sentence(wrong_network, "en")


def test_every_status_has_an_agent_line_in_both_languages() -> None:
    for status in DepositStatus:
        verdict = tx_verdict(_tx(TxStatus.SUCCEEDED, 12), ETH)
        verdict = type(verdict)(**{**_fields(verdict), "status": status})
        for language in ("en", "zh_Hans"):
            assert agent_line(verdict, language)
        assert customer_sentence(verdict, "en") != customer_sentence(verdict, "zh-Hans")


def _fields(verdict: Any) -> dict[str, Any]:
    return {name: getattr(verdict, name) for name in verdict.__dataclass_fields__}


@pytest.mark.parametrize(
    ("tag", "language"),
    [("zh", "zh-Hans"), ("zh_Hans", "zh-Hans"), ("zh-TW", "zh-Hans"), ("en", "en"), (None, "en")],
)
def test_any_chinese_tag_gives_chinese(tag: str | None, language: str) -> None:
    assert text_language(tag) == language


@pytest.mark.parametrize(
    "text",
    [
        "My deposit has not arrived",
        "where is my withdrawal?",
        "I sent ETH an hour ago and it still isn't in my balance",
        "充值还没到账",
        "提现一直没收到",
        "我的转账失败了吗",
    ],
)
def test_deposit_questions_are_recognised_in_both_languages(text: str) -> None:
    assert deposit_question(text)


@pytest.mark.parametrize(
    "text",
    ["How do I enable 2FA?", "I forgot the memo for my XRP", "如何修改密码", "what are your fees"],
)
def test_other_questions_are_not_deposit_questions(text: str) -> None:
    assert not deposit_question(text)


def test_the_chat_question_gives_the_hash_and_the_one_deposit_address() -> None:
    assert deposit_hash_and_address(f"deposit to {OTHER} not arrived, tx {HASH}") == (
        HASH,
        OTHER,
    )
    # Two addresses: which one is the deposit address is not known.
    both = deposit_hash_and_address(f"sent from {DEPOSIT} to {OTHER}, not arrived: {HASH}")
    assert both == (HASH, None)
    assert deposit_hash_and_address("my deposit has not arrived") is None
    assert deposit_hash_and_address(f"what is {HASH}") is None
