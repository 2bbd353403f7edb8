"""The "where is my deposit" verdict, and amount formatting: pure logic, no node."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledgerdesk.chain.deposit import (
    NATIVE,
    DepositStatus,
    deposit_verdict,
    same_address,
    unavailable_verdict,
)
from ledgerdesk.chain.interface import Transfer, TxInfo, TxStatus, format_amount
from ledgerdesk.chain.networks import ChainNetwork

DEPOSIT = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
STRANGER = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"
CUSTOMER = "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB"
USDT = "0xdAC17F958D2ee523a2206206994597C13D831ec7"
FAKE_USDT = "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb"
TX = "0x" + "3c" * 32

ETHEREUM = ChainNetwork.model_validate(
    {"name": "ethereum", "label": "Ethereum", "chain_id": 1, "rpc_url": "https://rpc.invalid",
     "confirmations": 12, "explorer_tx_url": "https://etherscan.io/tx/{tx}"}
)  # fmt: skip
ARBITRUM = ChainNetwork.model_validate(
    {"name": "arbitrum", "label": "Arbitrum One", "chain_id": 42161,
     "rpc_url": "https://arb.invalid", "confirmations": 20}
)  # fmt: skip
BITCOIN = ChainNetwork.model_validate(
    {"name": "bitcoin", "label": "Bitcoin", "kind": "esplora", "rpc_url": "https://btc.invalid",
     "confirmations": 3}
)  # fmt: skip


def eth_tx(
    status: TxStatus = TxStatus.SUCCEEDED, confirmations: int = 15, **changes: Any
) -> TxInfo:
    values: dict[str, Any] = {
        "network": "ethereum",
        "tx_hash": TX,
        "status": status,
        "required_confirmations": 12,
        "native_symbol": "ETH",
        "native_decimals": 18,
        "block_number": None if status is TxStatus.PENDING else 21_000_000,
        "confirmations": 0 if status is TxStatus.PENDING else confirmations,
        "from_address": CUSTOMER,
        "to_address": DEPOSIT,
        "value": 2 * 10**18,
        "transfers": (Transfer(to_address=DEPOSIT, amount=2 * 10**18, from_address=CUSTOMER),),
        "explorer_url": f"https://etherscan.io/tx/{TX}",
    }
    values.update(changes)
    return TxInfo(**values)


def usdt_transfer(to: str = DEPOSIT, token: str = USDT, amount: int = 250_500_000) -> Transfer:
    return Transfer(
        to_address=to, amount=amount, from_address=CUSTOMER, token=token, symbol="USDT", decimals=6
    )


def token_tx(*transfers: Transfer, **changes: Any) -> TxInfo:
    return eth_tx(to_address=USDT, value=0, transfers=transfers, contract_call=True, **changes)


def test_a_deep_enough_deposit_is_credited_in_both_languages() -> None:
    verdict = deposit_verdict(eth_tx(confirmations=15), ETHEREUM, DEPOSIT)

    assert verdict.status is DepositStatus.CREDITED
    assert verdict.amount_text == "2 ETH"
    assert (verdict.confirmations, verdict.required_confirmations) == (15, 12)
    assert verdict.remaining_confirmations == 0
    assert "2 ETH" in verdict.customer_text("en") and "Ethereum" in verdict.customer_text("en")
    assert "15 of 12" in verdict.customer_text("en")
    assert "已确认" in verdict.customer_text("zh-Hans") and "2 ETH" in verdict.customer_text("zh")
    assert "15/12" in verdict.agent_text
    assert verdict.explorer_url == f"https://etherscan.io/tx/{TX}"


@pytest.mark.parametrize(
    ("language", "chinese"),
    [("zh-Hans", True), ("zh-CN", True), ("zh_Hans", True), ("ZH", True), ("en", False),
     ("fr", False), (None, False), ("", False)],
)  # fmt: skip
def test_the_customer_text_follows_the_language_and_falls_back_to_english(
    language: str | None, chinese: bool
) -> None:
    verdict = deposit_verdict(eth_tx(), ETHEREUM, DEPOSIT)

    expected = verdict.customer_texts["zh-Hans" if chinese else "en"]
    assert verdict.customer_text(language) == expected


def test_a_shallow_deposit_waits_for_the_missing_confirmations() -> None:
    verdict = deposit_verdict(eth_tx(confirmations=5), ETHEREUM, DEPOSIT)

    assert verdict.status is DepositStatus.CONFIRMING
    assert verdict.remaining_confirmations == 7
    assert "7 more" in verdict.customer_text("en")
    assert "还需 7 个" in verdict.customer_text("zh-Hans")
    assert "7 to go" in verdict.agent_text


def test_a_transaction_in_no_block_is_pending() -> None:
    verdict = deposit_verdict(eth_tx(TxStatus.PENDING), ETHEREUM, DEPOSIT)

    assert verdict.status is DepositStatus.PENDING
    assert verdict.confirmations == 0
    assert "12 confirmations" in verdict.customer_text("en")
    assert "尚未被打包" in verdict.customer_text("zh-Hans")


def test_a_reverted_transaction_failed_and_nothing_arrived() -> None:
    verdict = deposit_verdict(token_tx(status=TxStatus.REVERTED), ETHEREUM, DEPOSIT, USDT)

    assert verdict.status is DepositStatus.FAILED
    assert "did not leave your wallet" in verdict.customer_text("en")
    assert "执行失败" in verdict.customer_text("zh-Hans")
    assert "21000000" in verdict.agent_text


def test_a_missing_transaction_is_not_found_with_a_hint_about_other_networks() -> None:
    missing = eth_tx(TxStatus.NOT_FOUND, transfers=(), block_number=None, confirmations=0)

    alone = deposit_verdict(missing, ETHEREUM, DEPOSIT)
    elsewhere = deposit_verdict(missing, ETHEREUM, DEPOSIT, found_on=[ARBITRUM])

    assert alone.status is elsewhere.status is DepositStatus.NOT_FOUND
    assert alone.found_on == () and "Arbitrum" not in alone.customer_text("en")
    assert "whole transaction ID" in alone.customer_text("en")
    assert elsewhere.found_on == ("arbitrum",)
    assert "We did find it on Arbitrum One" in elsewhere.customer_text("en")
    assert "我们在 Arbitrum One 上找到了这笔交易" in elsewhere.customer_text("zh-Hans")
    assert "wrong-network" in elsewhere.agent_text


def test_a_payment_to_another_address_is_reported_with_where_it_went() -> None:
    verdict = deposit_verdict(token_tx(usdt_transfer(to=STRANGER)), ETHEREUM, DEPOSIT, USDT)

    assert verdict.status is DepositStatus.WRONG_ADDRESS
    assert verdict.sent_to == (STRANGER,)
    assert DEPOSIT in verdict.customer_text("en") and DEPOSIT in verdict.customer_text("zh-Hans")
    assert STRANGER in verdict.agent_text and "250.5 USDT" in verdict.agent_text


def test_a_transaction_that_moved_nothing_is_a_wrong_address_too() -> None:
    verdict = deposit_verdict(eth_tx(value=0, transfers=()), ETHEREUM, DEPOSIT)

    assert verdict.status is DepositStatus.WRONG_ADDRESS
    assert verdict.sent_to == ()
    assert "no funds" in verdict.agent_text


def test_a_contract_call_with_nothing_visible_for_the_address_goes_to_a_person() -> None:
    # A smart-contract wallet paying out: the ether moves inside the call, in no log.
    wallet = "0x" + "4b" * 20
    call = eth_tx(to_address=wallet, value=0, transfers=(), contract_call=True)

    for expected in (None, NATIVE):
        verdict = deposit_verdict(call, ETHEREUM, DEPOSIT, expected)
        assert verdict.status is DepositStatus.NEEDS_REVIEW
        assert "smart contract" in verdict.customer_text("en")
        assert "智能合约" in verdict.customer_text("zh-Hans")
        assert wallet in verdict.agent_text and "internal transactions" in verdict.agent_text
    # Token transfers are always in the logs: for a token the answer is certain.
    token = deposit_verdict(call, ETHEREUM, DEPOSIT, USDT)
    assert token.status is DepositStatus.WRONG_ADDRESS


def test_evm_addresses_match_whatever_their_case() -> None:
    verdict = deposit_verdict(eth_tx(), ETHEREUM, DEPOSIT.lower())
    assert verdict.status is DepositStatus.CREDITED
    assert same_address(DEPOSIT.upper().replace("0X", "0x"), DEPOSIT)


def test_the_expected_token_is_credited_and_other_assets_are_the_wrong_asset() -> None:
    right = deposit_verdict(token_tx(usdt_transfer()), ETHEREUM, DEPOSIT, USDT.lower())
    assert right.status is DepositStatus.CREDITED
    assert right.amount_text == "250.5 USDT"
    assert "Token contract" not in right.agent_text, "the caller checked the contract"

    eth_for_usdt = deposit_verdict(eth_tx(), ETHEREUM, DEPOSIT, USDT)
    assert eth_for_usdt.status is DepositStatus.WRONG_ASSET
    assert "2 ETH" in eth_for_usdt.customer_text("en")

    usdt_for_eth = deposit_verdict(token_tx(usdt_transfer()), ETHEREUM, DEPOSIT, NATIVE)
    assert usdt_for_eth.status is DepositStatus.WRONG_ASSET
    assert "for ETH deposits" in usdt_for_eth.customer_text("en")
    assert "仅用于 ETH 充值" in usdt_for_eth.customer_text("zh-Hans")


def test_a_lookalike_token_is_not_the_expected_one_and_the_agent_sees_its_contract() -> None:
    fake = token_tx(usdt_transfer(token=FAKE_USDT))

    checked = deposit_verdict(fake, ETHEREUM, DEPOSIT, USDT)
    unchecked = deposit_verdict(fake, ETHEREUM, DEPOSIT)

    assert checked.status is DepositStatus.WRONG_ASSET
    assert unchecked.status is DepositStatus.CREDITED
    assert FAKE_USDT in unchecked.agent_text


def test_a_transaction_paying_both_a_token_and_ether_sums_each() -> None:
    both = token_tx(
        Transfer(to_address=DEPOSIT, amount=10**16, from_address=CUSTOMER),
        usdt_transfer(amount=1_000_000),
        usdt_transfer(amount=2_000_000),
    )

    verdict = deposit_verdict(both, ETHEREUM, DEPOSIT)

    assert verdict.amount_text == "0.01 ETH + 3 USDT"


def test_a_bitcoin_deposit_counts_only_the_output_to_the_deposit_address() -> None:
    deposit, change = (
        "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
        "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy",
    )
    tx = TxInfo(
        network="bitcoin",
        tx_hash="ab" * 32,
        status=TxStatus.SUCCEEDED,
        required_confirmations=3,
        native_symbol="BTC",
        native_decimals=8,
        block_number=870_000,
        confirmations=2,
        value=15_000_000 + 40_000_000,
        transfers=(
            Transfer(to_address=deposit, amount=15_000_000, symbol="BTC", decimals=8),
            Transfer(to_address=change, amount=40_000_000, symbol="BTC", decimals=8),
        ),
    )

    verdict = deposit_verdict(tx, BITCOIN, deposit.upper())
    assert verdict.status is DepositStatus.CONFIRMING
    assert verdict.amount_text == "0.15 BTC"
    # Base58 addresses are case-sensitive: another case is another address.
    assert deposit_verdict(tx, BITCOIN, change.lower()).status is DepositStatus.WRONG_ADDRESS
    assert deposit_verdict(tx, BITCOIN, change).status is DepositStatus.CONFIRMING


def test_an_unreachable_network_gives_a_verdict_that_hands_over_to_a_person() -> None:
    verdict = unavailable_verdict(ETHEREUM, TX, "the Ethereum node did not answer within 10 s")

    assert verdict.status is DepositStatus.UNAVAILABLE
    assert "member of our team" in verdict.customer_text("en")
    assert "did not answer within 10 s" in verdict.agent_text


@pytest.mark.parametrize(
    "tx",
    [eth_tx(), eth_tx(confirmations=1), eth_tx(TxStatus.PENDING), eth_tx(TxStatus.REVERTED),
     eth_tx(TxStatus.NOT_FOUND), eth_tx(transfers=()), token_tx(usdt_transfer()),
     eth_tx(transfers=(), contract_call=True)],
)  # fmt: skip
def test_every_verdict_has_complete_texts_in_both_languages(tx: TxInfo) -> None:
    verdicts = [deposit_verdict(tx, ETHEREUM, DEPOSIT, NATIVE)]
    verdicts.append(deposit_verdict(tx, ETHEREUM, DEPOSIT, found_on=[ARBITRUM]))
    verdicts.append(unavailable_verdict(ETHEREUM, TX, "down"))
    for verdict in verdicts:
        assert set(verdict.customer_texts) == {"en", "zh-Hans"}
        for text in [*verdict.customer_texts.values(), verdict.agent_text]:
            assert text and "{" not in text and "}" not in text, text
            assert "seed" not in text.lower() and "private key" not in text.lower()


@given(st.integers(min_value=0, max_value=2**256 - 1), st.integers(min_value=0, max_value=36))
def test_a_formatted_amount_reads_back_as_the_exact_base_units(amount: int, decimals: int) -> None:
    text = format_amount(amount, decimals, "TOK")

    number, symbol = text.split(" ")
    assert symbol == "TOK"
    assert "e" not in number.lower()
    whole, _, fraction = number.partition(".")
    assert len(fraction) <= decimals
    assert int(whole + fraction.ljust(decimals, "0")) == amount
    assert not number.endswith(".") and (not number.endswith("0") or "." not in number)


def test_an_amount_without_decimals_is_shown_in_base_units() -> None:
    assert format_amount(123, None, None) == "123 base units"
    assert format_amount(123, None, "XYZ") == "123 base units XYZ"
    assert format_amount(0, 18, "ETH") == "0 ETH"
    assert format_amount(1, 18, "ETH") == "0.000000000000000001 ETH"
