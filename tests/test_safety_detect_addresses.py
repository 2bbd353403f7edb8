"""Addresses and transaction hashes: validation, networks, explorers, wrong-network hints.

Valid addresses are built from fixed keys by bip-utils' encoders, the reference the
detector is checked against.
"""

from __future__ import annotations

import hashlib

import pytest
from bip_utils import (
    Base58Alphabets,
    Base58Encoder,
    Ed25519PrivateKey,
    EthAddrEncoder,
    P2PKHAddrEncoder,
    P2SHAddrEncoder,
    P2TRAddrEncoder,
    P2WPKHAddrEncoder,
    Secp256k1PrivateKey,
    SegwitBech32Encoder,
    SolAddrEncoder,
    TrxAddrEncoder,
    XrpAddrEncoder,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from ledgerdesk.safety import Finding
from ledgerdesk.safety.addresses import (
    BITCOIN_ALPHABET,
    XRP_ALPHABET,
    b58check_decode,
    b58decode,
    find_addresses,
    segwit_decode,
    wrong_network_hints,
)

SECRET = hashlib.sha256(b"addresses").digest()
PUBLIC = Secp256k1PrivateKey.FromBytes(SECRET).PublicKey()
ETH = EthAddrEncoder.EncodeKey(PUBLIC)
TRON = TrxAddrEncoder.EncodeKey(PUBLIC)
P2PKH = P2PKHAddrEncoder.EncodeKey(PUBLIC, net_ver=b"\x00")
P2SH = P2SHAddrEncoder.EncodeKey(PUBLIC, net_ver=b"\x05")
P2WPKH = P2WPKHAddrEncoder.EncodeKey(PUBLIC, hrp="bc", wit_ver=0)
P2WSH = SegwitBech32Encoder.Encode("bc", 0, hashlib.sha256(b"script").digest())
TAPROOT = P2TRAddrEncoder.EncodeKey(PUBLIC, hrp="bc")
XRP = XrpAddrEncoder.EncodeKey(PUBLIC)
SOLANA = SolAddrEncoder.EncodeKey(Ed25519PrivateKey.FromBytes(SECRET).PublicKey())
TX = hashlib.sha256(b"tx").hexdigest()


def one(text: str, kind: str = "address") -> Finding:
    found = [f for f in find_addresses(text) if f.kind == kind]
    assert len(found) == 1, found
    assert text[found[0].start : found[0].end] == found[0].value
    return found[0]


def flip(char: str) -> str:
    return char.lower() if char.isupper() else char.upper()


def test_an_eip55_address_is_valid_in_checksummed_lower_and_upper_case() -> None:
    for value in (ETH, ETH.lower(), "0x" + ETH[2:].upper()):
        f = one(f"deposit to {value} please")
        assert f.valid is True and f.network[0] == "ethereum"
        assert f.explorer == f"https://etherscan.io/address/{value}"


def test_a_mixed_case_address_with_a_bad_checksum_is_flagged_invalid() -> None:
    position = next(i for i, c in enumerate(ETH) if i > 1 and c.isalpha())
    broken = ETH[:position] + flip(ETH[position]) + ETH[position + 1 :]
    f = one(f"sent to {broken}")
    assert f.valid is False and f.reason == "bad_checksum" and f.explorer is None


def test_the_evm_network_named_in_the_message_comes_first() -> None:
    assert one(f"BEP-20 withdrawal to {ETH}").network[0] == "bsc"
    assert one(f"on Polygon: {ETH}").network[0] == "polygon"
    assert one(f"withdrawal to {ETH}").network[0] == "ethereum"


@pytest.mark.parametrize(
    ("value", "kind"),
    [(P2PKH, "p2pkh"), (P2SH, "p2sh"), (P2WPKH, "p2wpkh"), (P2WSH, "p2wsh"), (TAPROOT, "p2tr")],
)
def test_bitcoin_addresses_of_every_type_are_valid(value: str, kind: str) -> None:
    f = one(f"my BTC address {value}, thanks")
    assert (f.valid, f.network, f.detail.get("type")) == (True, ("bitcoin",), kind)
    assert f.explorer == f"https://mempool.space/address/{value}"


def test_a_taproot_address_is_bech32m_and_its_bech32_twin_is_refused() -> None:
    # BIP-350's test vectors: one program, encoded with bech32m (valid for witness
    # version 1) and with the old bech32 constant (invalid).
    valid = "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0"
    bech32_twin = "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd"
    assert one(f"to {valid}").detail.get("type") == "p2tr"
    assert one(f"to {valid}").valid is True
    assert one(f"to {bech32_twin}").valid is False
    broken = TAPROOT[:-1] + ("q" if TAPROOT[-1] != "q" else "p")
    assert one(f"send to {broken}").valid is False


def test_a_base58_bitcoin_address_with_a_typo_is_invalid() -> None:
    broken = P2PKH[:10] + ("2" if P2PKH[10] != "2" else "3") + P2PKH[11:]
    f = one(f"BTC to {broken}")
    assert f.valid is False and f.reason == "checksum_failed"


def test_tron_addresses_are_validated() -> None:
    f = one(f"TRC-20 address {TRON}")
    assert (f.valid, f.network) == (True, ("tron",))
    assert f.explorer == f"https://tronscan.org/#/address/{TRON}"
    broken = TRON[:-1] + ("a" if TRON[-1] != "a" else "b")
    assert one(f"TRC-20 address {broken}").valid is False


def test_solana_addresses_are_found_but_short_base58_words_are_not() -> None:
    f = one(f"my Phantom wallet {SOLANA}")
    assert (f.valid, f.network) == (True, ("solana",))
    assert find_addresses("reference code 7fHq2ZmW9xKcR4vT ok") == []


def test_xrp_addresses_carry_the_destination_tag_when_given() -> None:
    f = one(f"XRP to {XRP} tag 123456")
    assert (f.valid, f.network, f.detail.get("destination_tag")) == (True, ("xrp",), "123456")
    assert one(f"XRP 到 {XRP}，标签：987").detail.get("destination_tag") == "987"
    f = one(f"XRP to {XRP}")
    assert f.reason == "no_destination_tag" and "destination_tag" not in f.detail


def test_transaction_hashes_get_networks_and_explorer_links() -> None:
    evm = one(f"tx 0x{TX}", "tx_hash")
    assert evm.network[0] == "ethereum" and evm.explorer == f"https://etherscan.io/tx/0x{TX}"
    bare = one(f"txid {TX}", "tx_hash")
    assert bare.network == ("bitcoin", "tron")
    assert bare.explorer == f"https://mempool.space/tx/{TX}"


def test_text_without_addresses_finds_nothing() -> None:
    assert find_addresses("Hello, my withdrawal of 120.5 USDT is still pending since 10:30.") == []
    assert find_addresses("您好，我的提现还没有到账，订单号 202611280001。") == []


def hints(text: str) -> list[str | None]:
    return [h.reason for h in wrong_network_hints(text, find_addresses(text))]


def test_a_tron_address_in_an_erc20_question_gets_a_hint() -> None:
    assert hints(f"I withdrew USDT via ERC-20 to {TRON} and it never arrived") == [
        "tron_address_for_evm"
    ]
    assert hints(f"我选择了以太坊网络提币到 {TRON}") == ["tron_address_for_evm"]


def test_an_evm_address_in_a_trc20_question_gets_a_hint() -> None:
    assert hints(f"deposited USDT TRC20 to {ETH}") == ["evm_address_for_tron"]


def test_no_hint_when_the_message_names_the_right_network_or_both() -> None:
    assert hints(f"USDT TRC-20 to {TRON}") == []
    assert hints(f"I picked TRC20 but the address {TRON} was for ERC20, sorry") == []
    assert hints(f"please check {TRON}") == []


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from([(0, 20), (0, 32), (1, 32), (2, 16)]).flatmap(
        lambda vl: st.tuples(st.just(vl[0]), st.binary(min_size=vl[1], max_size=vl[1]))
    ),
    st.sampled_from(["bc", "tb"]),
)
def test_our_segwit_decoder_agrees_with_bip_utils(
    version_program: tuple[int, bytes], hrp: str
) -> None:
    version, program = version_program
    address = SegwitBech32Encoder.Encode(hrp, version, program)
    assert segwit_decode(hrp, address) == (version, program)
    corrupt = address[:-1] + ("q" if address[-1] != "q" else "p")
    assert segwit_decode(hrp, corrupt) is None


@settings(max_examples=150, deadline=None)
@given(st.binary(min_size=1, max_size=40))
def test_our_base58check_decoder_agrees_with_bip_utils(payload: bytes) -> None:
    for alphabet, bip_alphabet in (
        (BITCOIN_ALPHABET, Base58Alphabets.BITCOIN),
        (XRP_ALPHABET, Base58Alphabets.RIPPLE),
    ):
        encoded = Base58Encoder.CheckEncode(payload, bip_alphabet)
        assert b58check_decode(encoded, alphabet) == payload
        assert b58decode(Base58Encoder.Encode(payload, bip_alphabet), alphabet) == payload
