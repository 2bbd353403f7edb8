"""Private keys and credentials: hex keys told from hashes, WIF, xprv, keystores, API secrets."""

from __future__ import annotations

import hashlib
import json

import pytest
from bip_utils import (
    Bip32KeyNetVersions,
    Bip32Secp256k1,
    Bip44Conf,
    Bip49Conf,
    Bip84Conf,
    EthAddrEncoder,
    P2PKHAddrEncoder,
    P2PKHPubKeyModes,
    P2WPKHAddrEncoder,
    Secp256k1PrivateKey,
    TrxAddrEncoder,
    WifEncoder,
    WifPubKeyModes,
)

from ledgerdesk.safety.keys import classify_hex64, find_private_keys


def key_bytes(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()


def kinds(text: str, addresses: list[str] | None = None) -> list[str]:
    return [f.kind for f in find_private_keys(text, addresses or [])]


@pytest.mark.parametrize(
    "template",
    [
        "my private key: {k}",
        "私钥：{k}",
        "这是我的私钥 0x{k}",
        "PRIVATE KEY = {k}",
        "{k} <- this is the private key of my hot wallet",
        "秘钥 {k}",
    ],
)
def test_a_hex_key_next_to_key_words_is_a_private_key(template: str) -> None:
    text = template.format(k=key_bytes(template).hex())
    found = find_private_keys(text)
    assert [(f.kind, f.reason) for f in found] == [("private_key", "context")]
    assert text[found[0].start : found[0].end].endswith(key_bytes(template).hex())


@pytest.mark.parametrize(
    "template",
    [
        "txid: {k}",
        "交易哈希 0x{k}",
        "tx hash is 0x{k}, still pending",
        "Transaction {k} has 3 confirmations",
        "提现记录里的哈希是{k}",
        "0x{k}",
    ],
)
def test_a_hex_string_next_to_hash_words_or_alone_is_not_a_key(template: str) -> None:
    assert kinds(template.format(k=key_bytes(template).hex())) == []


def test_the_nearest_context_word_decides() -> None:
    k = key_bytes("nearest").hex()
    assert kinds(f"I never shared my private key. The thief's tx: {k}") == []
    assert kinds(f"The tx was drained; my private key {k}") == ["private_key"]


def test_a_bare_hex_key_is_a_key_when_it_controls_an_address_in_the_message() -> None:
    secret = key_bytes("derive")
    public = Secp256k1PrivateKey.FromBytes(secret).PublicKey()
    eth = EthAddrEncoder.EncodeKey(public)
    owned = [
        eth,
        eth.lower(),
        TrxAddrEncoder.EncodeKey(public),
        P2PKHAddrEncoder.EncodeKey(public, net_ver=b"\x00"),
        P2PKHAddrEncoder.EncodeKey(
            public, net_ver=b"\x00", pub_key_mode=P2PKHPubKeyModes.UNCOMPRESSED
        ),
        P2WPKHAddrEncoder.EncodeKey(public, hrp="bc", wit_ver=0),
    ]
    for address in owned:
        text = f"my wallet {address} was emptied. {secret.hex()}"
        assert classify_hex64(text, text.index(secret.hex()), len(text), [address]) == (
            "derived_address"
        )
    other_public = Secp256k1PrivateKey.FromBytes(key_bytes("x")).PublicKey()
    for other in (
        EthAddrEncoder.EncodeKey(other_public),
        TrxAddrEncoder.EncodeKey(other_public),
        P2WPKHAddrEncoder.EncodeKey(other_public, hrp="bc", wit_ver=0),
    ):
        text = f"my wallet {other} was emptied. {secret.hex()}"
        assert kinds(text, [other]) == []


@pytest.mark.parametrize(
    ("net_ver", "mode"),
    [
        (b"\x80", WifPubKeyModes.COMPRESSED),
        (b"\x80", WifPubKeyModes.UNCOMPRESSED),
        (b"\xef", WifPubKeyModes.COMPRESSED),
        (b"\xef", WifPubKeyModes.UNCOMPRESSED),
    ],
)
def test_wif_keys_are_found(net_ver: bytes, mode: WifPubKeyModes) -> None:
    wif = WifEncoder.Encode(
        Secp256k1PrivateKey.FromBytes(key_bytes("wif")), net_ver=net_ver, pub_key_mode=mode
    )
    text = f"imported {wif} into electrum"
    found = find_private_keys(text)
    assert [f.kind for f in found] == ["wif_key"]
    assert text[found[0].start : found[0].end] == wif


def test_a_wif_shaped_string_with_a_bad_checksum_is_not_a_key() -> None:
    wif = WifEncoder.Encode(Secp256k1PrivateKey.FromBytes(key_bytes("wif")))
    broken = wif[:-1] + ("a" if wif[-1] != "a" else "b")
    assert kinds(f"code {broken}") == []


def _extended(versions: Bip32KeyNetVersions) -> str:
    ctx = Bip32Secp256k1.FromSeed(key_bytes("seed"), key_net_ver=versions)
    return str(ctx.PrivateKey().ToExtended())


@pytest.mark.parametrize(
    ("versions", "prefix"),
    [
        (Bip44Conf.BitcoinMainNet.KeyNetVersions(), "xprv"),
        (Bip49Conf.BitcoinMainNet.KeyNetVersions(), "yprv"),
        (Bip84Conf.BitcoinMainNet.KeyNetVersions(), "zprv"),
        (Bip44Conf.BitcoinTestNet.KeyNetVersions(), "tprv"),
        (Bip49Conf.BitcoinTestNet.KeyNetVersions(), "uprv"),
        (Bip84Conf.BitcoinTestNet.KeyNetVersions(), "vprv"),
    ],
)
def test_extended_private_keys_are_found(versions: Bip32KeyNetVersions, prefix: str) -> None:
    xprv = _extended(versions)
    assert xprv.startswith(prefix)
    text = f"account key:\n{xprv}\nthanks"
    found = find_private_keys(text)
    assert [(f.kind, f.valid) for f in found] == [("extended_private_key", True)]
    assert text[found[0].start : found[0].end] == xprv


def test_a_mistyped_xprv_is_still_removed_but_marked_invalid() -> None:
    xprv = _extended(Bip44Conf.BitcoinMainNet.KeyNetVersions())
    broken = xprv[:50] + ("A" if xprv[50] != "A" else "B") + xprv[51:]
    found = find_private_keys(broken)
    assert [(f.kind, f.valid) for f in found] == [("extended_private_key", False)]


KEYSTORE = {
    "address": "008aeeda4d805471df9b2a5b0f38a0c3bcba786b",
    "crypto": {
        "cipher": "aes-128-ctr",
        "cipherparams": {"iv": "83dbcc02d8ccb40e466191a123791e0e"},
        "ciphertext": "d172bf743a674da9cdad04534d56926ef8358534d458fffccd4e6ad2fbde479c",
        "kdf": "scrypt",
        "kdfparams": {"dklen": 32, "n": 262144, "p": 8, "r": 1, "salt": "ab0c7876052600dd70"},
        "mac": "2103ac29920d71da29f15d75b4a16dbe95cfd7ff8faea1056c33131d846e3097",
    },
    "id": "3198bc9c-6672-5ab3-d995-4942343ae5b6",
    "version": 3,
}


def test_keystore_json_is_found_whole() -> None:
    body = json.dumps(KEYSTORE, indent=2)
    text = f"here is my keystore file:\n{body}\nwhat now?"
    found = find_private_keys(text)
    assert [f.kind for f in found] == ["keystore"]
    assert text[found[0].start : found[0].end] == body


def test_a_cut_off_keystore_is_removed_to_the_end() -> None:
    body = json.dumps(KEYSTORE)[:200]
    text = f"keystore: {body}"
    found = find_private_keys(text)
    assert [(f.kind, f.end) for f in found] == [("keystore", len(text))]


@pytest.mark.parametrize(
    "template",
    [
        "API Secret: {t}",
        "apiSecret={t}",
        "secret key is {t}",
        "我的 API 密钥：{t}",
        "密钥是{t}",
        "passphrase: {t}",
    ],
)
def test_labelled_api_secrets_are_found(template: str) -> None:
    token = "Zk3v9Qx8LmT2pW7rB4nY6cH1dF0gJ5sA"
    text = template.format(t=token)
    found = find_private_keys(text)
    assert [f.kind for f in found] == ["api_secret"]
    assert text[found[0].start : found[0].end] == token


def test_the_word_secret_before_ordinary_words_is_not_an_api_secret() -> None:
    assert kinds("the secret recovery phrase is something support never asks for") == []
    assert kinds("API key: public-id-not-secret-1234567") == []
