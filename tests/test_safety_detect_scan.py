"""scan_text: every detector at once, secrets redacted, offsets in the original text."""

from __future__ import annotations

import hashlib
import json

from bip_utils import EthAddrEncoder, Secp256k1PrivateKey, TrxAddrEncoder
from mnemonic import Mnemonic

from ledgerdesk.safety.scan import redaction_label, scan_text

SEED = Mnemonic("english").to_mnemonic(hashlib.sha256(b"scan").digest()[:16])
KEY = hashlib.sha256(b"scan key").digest()
PUBLIC = Secp256k1PrivateKey.FromBytes(KEY).PublicKey()
ETH = EthAddrEncoder.EncodeKey(PUBLIC)
TRON = TrxAddrEncoder.EncodeKey(PUBLIC)


def test_a_seed_phrase_is_replaced_by_a_label_and_reported_without_its_words() -> None:
    text = f"Help! My words: {SEED}. What do I do?"
    result = scan_text(text)
    assert result.redacted == "Help! My words: [seed phrase removed]. What do I do?"
    assert result.has_secret and result.secret_kinds == ["mnemonic"]
    (finding,) = result.of_kind("mnemonic")
    assert text[finding.start : finding.end] == SEED
    dumped = json.dumps(result.to_dict()["findings"])
    assert all(word not in dumped for word in SEED.split() if len(word) > 3)


def test_labels_come_in_chinese_for_any_chinese_locale() -> None:
    text = f"助记词 {SEED}"
    for locale in ("zh", "zh-Hans", "zh_CN"):
        assert scan_text(text, locale=locale).redacted == "助记词 [助记词已删除]"
    assert redaction_label("private_key", "zh-Hant") == "[私钥已删除]"
    assert redaction_label("private_key") == "[private key removed]"


def test_every_kind_of_secret_is_removed_and_the_rest_is_kept_in_place() -> None:
    text = (
        f"wallet {ETH} emptied\nprivate key: {KEY.hex()}\n"
        f"seed: {SEED}\ntx 0x{hashlib.sha256(b't').hexdigest()}"
    )
    result = scan_text(text)
    assert KEY.hex() not in result.redacted
    assert SEED not in result.redacted
    assert ETH in result.redacted
    assert "[private key removed]" in result.redacted
    assert "[seed phrase removed]" in result.redacted
    kinds = [f.kind for f in result.findings]
    assert kinds == ["address", "private_key", "mnemonic", "tx_hash"]
    for finding in result.findings:
        assert 0 <= finding.start < finding.end <= len(text)
    assert result.of_kind("address")[0].value == text[7 : 7 + len(ETH)]


def test_a_key_that_controls_the_address_in_the_message_is_removed_without_context() -> None:
    text = f"{ETH} got drained, {KEY.hex()}"
    result = scan_text(text)
    assert result.secret_kinds == ["private_key"]
    assert result.redacted == f"{ETH} got drained, [private key removed]"
    assert [f.kind for f in result.findings] == ["address", "private_key"]


def test_addresses_inside_a_keystore_are_not_reported_separately() -> None:
    keystore = json.dumps(
        {
            "address": ETH[2:].lower(),
            "crypto": {"ciphertext": "ab" * 32, "kdf": "scrypt", "mac": "cd" * 32},
            "version": 3,
        }
    )
    result = scan_text(f"my keystore {keystore}")
    assert [f.kind for f in result.findings] == ["keystore"]
    assert result.redacted == "my keystore [keystore file removed]"


def test_overlapping_secrets_are_removed_as_one_span() -> None:
    text = f"secret key: {KEY.hex()} end"
    result = scan_text(text)
    assert result.redacted == "secret key: [private key removed] end"


def test_a_message_gets_link_scam_network_and_denylist_flags() -> None:
    text = (
        f"Support here. Send your seed phrase at https://harb0r.exchange/verify and pay the "
        f"unfreeze fee in USDT ERC-20 to {TRON}"
    )
    result = scan_text(text, official_domains=["harbor.exchange"], denied_addresses=[TRON])
    summary = {(f.kind, f.reason) for f in result.findings}
    assert ("phishing_link", "typo") in summary
    assert ("scam_script", "asks_for_secret") in summary
    assert ("scam_script", "unfreeze_fee") in summary
    assert ("wrong_network", "tron_address_for_evm") in summary
    assert ("denied_address", "denied_address") in summary
    assert ("address", None) in summary
    assert result.redacted == text  # nothing secret: flags only


def test_an_ordinary_message_has_no_findings_and_is_returned_unchanged() -> None:
    for text in ("", "Hi, where is my withdrawal?", "您好，我的充值还没到账，麻烦看一下。"):
        result = scan_text(text, official_domains=["harbor.exchange"])
        assert result.redacted == text and result.findings == [] and not result.has_secret


def test_huge_adversarial_messages_are_scanned_in_linear_time() -> None:
    """Shapes that would make a careless detector quadratic (the test timeout catches it)."""
    texts = [
        "助记词" * 5_000,
        "secret" + " " * 50_000,
        "的 " * 5_000,
        "abandon " * 5_000,
        "{" * 50_000 + '"ciphertext": 1, "kdf"',
        "tag " * 5_000 + "r" + "1" * 30,
    ]
    for text in texts:
        result = scan_text(text)
        assert len(result.redacted) <= len(text) + 100
