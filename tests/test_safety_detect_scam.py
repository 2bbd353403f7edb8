"""Scam scripts in English and Chinese, and addresses on the denylist."""

from __future__ import annotations

import pytest

from ledgerdesk.safety.scam import denied_address_set, find_denied_addresses, find_scam_scripts


def reasons(text: str) -> set[str | None]:
    return {f.reason for f in find_scam_scripts(text)}


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            "Hi, this is Harbor support. Please send us your 12 word recovery phrase to verify "
            "ownership.",
            "asks_for_secret",
        ),
        ("To restore access, enter your seed phrase on the form below.", "asks_for_secret"),
        ("您好，我是官方客服，请提供您的助记词以便核实身份。", "asks_for_secret"),
        ("需要您发一下私钥给我们验证钱包", "asks_for_secret"),
        ("Install AnyDesk and give me the code so I can fix your account.", "remote_desktop"),
        ("Please download TeamViewer for the audit", "remote_desktop"),
        ("请下载向日葵远程控制软件，我帮您操作", "remote_desktop"),
        ("You need to make a verification deposit of 500 USDT first.", "verification_deposit"),
        ("Send 0.1 ETH to activate your withdrawal.", "verification_deposit"),
        ("请先充值1000 USDT进行验证，验证后全额退还", "verification_deposit"),
        ("Your account is frozen. Pay the unfreeze fee of 300 USDT.", "unfreeze_fee"),
        ("账户异常，需要缴纳解冻费才能提现", "unfreeze_fee"),
        ("需要支付20%的税费才能提现", "unfreeze_fee"),
        ("Guaranteed returns of 5% daily, risk-free profit!", "guaranteed_returns"),
        ("保本高收益，稳赚不赔，日收益3%", "guaranteed_returns"),
        ("Contact our support on Telegram @harbor_help_desk", "off_platform_contact"),
        ("请加客服微信处理", "off_platform_contact"),
        ("Connect your wallet to claim the compensation airdrop", "wallet_validation"),
        ("请验证您的钱包并领取空投", "wallet_validation"),
    ],
)
def test_scam_scripts_are_flagged_with_their_reason(text: str, reason: str) -> None:
    assert reason in reasons(text)
    for finding in find_scam_scripts(text):
        assert 0 <= finding.start < finding.end <= len(text)


@pytest.mark.parametrize(
    "text",
    [
        "Never share your seed phrase or private key with anyone, including us.",
        "Do not send your recovery phrase to anybody.",
        "请不要向任何人提供您的助记词或私钥。",
        "I lost access to my wallet and need help with a deposit that did not arrive.",
        "我的提现一直在处理中，请帮我看看，谢谢。",
        "What are the withdrawal fees for USDT on TRC-20?",
        "How long does identity verification take?",
    ],
)
def test_ordinary_messages_and_our_own_warnings_are_not_flagged(text: str) -> None:
    assert find_scam_scripts(text) == []


def test_denied_addresses_are_found_on_any_chain_and_evm_ignores_case() -> None:
    evm = "0x52908400098527886E0F7030069857D2E4169EE7"
    tron = "TNPeeaaFB7K9cmo4uQpcU32zGK8G1NYqeL"
    denied = denied_address_set([evm.lower(), tron])
    text = f"they told me to pay {evm} or {tron.lower()} and then {tron}"
    found = find_denied_addresses(text, denied)
    assert [f.value for f in found] == [evm, tron]
    assert find_denied_addresses(text, [evm.upper().replace("0X", "0x")])[0].value == evm
    assert find_denied_addresses(text, []) == []
