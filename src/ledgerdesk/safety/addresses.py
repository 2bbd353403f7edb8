"""Addresses and transaction hashes: recognised, validated, given a network and an explorer.

Validation follows base58check, BIP-173/BIP-350 (bech32, bech32m) and EIP-55. The
decoders at the end of this module are those specifications' reference algorithms:
bip-utils' cost 100-350 µs an address, too slow to run on every message; the tests
check ours against bip-utils' encoders. An all-lower or all-upper EVM address carries
no checksum and is valid; a mixed-case one must match EIP-55, or it is reported
``valid=False`` (a mistyped character). Solana addresses are any base58 string of 32
bytes, so only those of the usual length (43-44 characters) count without the word
Solana nearby.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Final

from Crypto.Hash import keccak

from ledgerdesk.safety import Finding

EVM_NETWORKS: Final = ("ethereum", "bsc", "polygon", "arbitrum", "optimism", "base", "avalanche")

# Explorer URL templates per network: (address page, transaction page).
EXPLORERS: Final[dict[str, tuple[str, str]]] = {
    "ethereum": ("https://etherscan.io/address/{value}", "https://etherscan.io/tx/{value}"),
    "bsc": ("https://bscscan.com/address/{value}", "https://bscscan.com/tx/{value}"),
    "polygon": ("https://polygonscan.com/address/{value}", "https://polygonscan.com/tx/{value}"),
    "arbitrum": ("https://arbiscan.io/address/{value}", "https://arbiscan.io/tx/{value}"),
    "optimism": (
        "https://optimistic.etherscan.io/address/{value}",
        "https://optimistic.etherscan.io/tx/{value}",
    ),
    "base": ("https://basescan.org/address/{value}", "https://basescan.org/tx/{value}"),
    "avalanche": ("https://snowtrace.io/address/{value}", "https://snowtrace.io/tx/{value}"),
    "bitcoin": ("https://mempool.space/address/{value}", "https://mempool.space/tx/{value}"),
    "bitcoin-testnet": (
        "https://mempool.space/testnet/address/{value}",
        "https://mempool.space/testnet/tx/{value}",
    ),
    "tron": (
        "https://tronscan.org/#/address/{value}",
        "https://tronscan.org/#/transaction/{value}",
    ),
    "solana": ("https://solscan.io/account/{value}", "https://solscan.io/tx/{value}"),
    "xrp": ("https://xrpscan.com/account/{value}", "https://xrpscan.com/tx/{value}"),
}

# The family each network belongs to, for wrong-network hints.
FAMILY: Final = {
    **{n: "evm" for n in EVM_NETWORKS},
    "bitcoin": "bitcoin",
    "bitcoin-testnet": "bitcoin",
    "tron": "tron",
    "solana": "solana",
    "xrp": "xrp",
}

_B58 = "1-9A-HJ-NP-Za-km-z"
_EVM_ADDRESS_RE: Final = re.compile(r"(?<![0-9A-Za-z])0[xX][0-9a-fA-F]{40}(?![0-9A-Za-z])")
_EVM_TX_RE: Final = re.compile(r"(?<![0-9A-Za-z])0[xX][0-9a-fA-F]{64}(?![0-9A-Za-z])")
_BARE_HEX64_RE: Final = re.compile(r"(?<![0-9A-Za-z])[0-9a-fA-F]{64}(?![0-9A-Za-z])")
_BASE58_RE: Final = re.compile(rf"(?<![0-9A-Za-z])[{_B58}]{{25,88}}(?![0-9A-Za-z])")
_BECH32_RE: Final = re.compile(
    r"(?<![0-9A-Za-z])(?:bc|tb|BC|TB)1[02-9ac-hj-np-zAC-HJ-NP-Z]{6,87}(?![0-9A-Za-z])"
)
_XRP_TAG_RE: Final = re.compile(
    r"(?:destination[\s_-]*tag|dest[\s_.-]*tag|\btag\b|\bmemo\b|\bdt\b|标签|標籤|备注|備註|目标标签)"
    r"\s{0,3}(?:is|:|：|=|#|是|为|為)?\s{0,3}#?(\d{1,10})\b",
    re.IGNORECASE,
)
_SOLANA_CONTEXT_RE: Final = re.compile(r"solana|\bsol\b|\bspl\b|phantom|索拉纳", re.IGNORECASE)

_EVM_CONTEXT: Final = (
    ("bsc", re.compile(r"bep[\s-]?20|\bbsc\b|bnb\s*smart\s*chain|币安智能链|bnb\s*chain", re.I)),
    ("polygon", re.compile(r"polygon|\bmatic\b|\bpol\b", re.I)),
    ("arbitrum", re.compile(r"arbitrum|\barb\b", re.I)),
    ("optimism", re.compile(r"optimism|\bop\s*mainnet", re.I)),
    ("base", re.compile(r"base\s*(?:chain|network|mainnet)|on\s+base\b", re.I)),
    ("avalanche", re.compile(r"avalanche|avax|c-chain", re.I)),
)
# Words that name a network family in a customer's message.
_MENTIONS: Final = (
    (
        "evm",
        re.compile(
            r"erc[\s-]?20|bep[\s-]?20|\beth\b|ethereum|以太坊|\bbsc\b|bnb\s*smart\s*chain|"
            r"币安智能链|polygon|arbitrum|optimism",
            re.I,
        ),
    ),
    ("tron", re.compile(r"trc[\s-]?20|\btron\b|\btrx\b|波场|波場", re.I)),
    ("bitcoin", re.compile(r"\bbtc\b|bitcoin|比特币|比特幣", re.I)),
    ("solana", re.compile(r"solana|\bsol\b|\bspl\b|索拉纳", re.I)),
    ("xrp", re.compile(r"\bxrp\b|ripple|瑞波", re.I)),
)


_LONG_TOKEN_RE: Final = re.compile(r"(?<![0-9A-Za-z])[0-9A-Za-z]{25}")
# Cheap substring tests before the network-naming regexes (lower-cased text).
# (The text is lower-cased with a space in front, so " pol" also matches at the start.)
_EVM_TRIGGERS: Final = (
    "bep",
    "bsc",
    "bnb",
    "币安",
    "polygon",
    "matic",
    " pol",
    "arbitrum",
    " arb",
    "optimism",
    "op mainnet",
    "base",
    "avalanche",
    "avax",
    "c-chain",
)
_MENTION_TRIGGERS: Final = {
    "evm": ("erc", "bep", "eth", "以太坊", "bsc", "bnb", "币安", "polygon", "arbitrum", "optimism"),
    "tron": ("trc", "tron", "trx", "波场", "波場"),
    "bitcoin": ("btc", "bitcoin", "比特币", "比特幣"),
    "solana": ("sol", "spl", "索拉纳"),
    "xrp": ("xrp", "ripple", "瑞波"),
}


@lru_cache(maxsize=4096)
def is_eip55(address: str) -> bool:
    """True if a mixed-case ``0x`` address matches its EIP-55 checksum."""
    body = address[2:]
    digest = keccak.new(digest_bits=256, data=body.lower().encode("ascii")).digest()
    for i, char in enumerate(body):
        if char.isalpha():
            nibble = digest[i // 2] >> (0 if i % 2 else 4) & 0xF
            if char.isupper() != (nibble >= 8):
                return False
    return True


def explorer_url(network: str, value: str, *, tx: bool = False) -> str | None:
    """The explorer page of an address (or a transaction) on ``network``."""
    templates = EXPLORERS.get(network)
    if templates is None:
        return None
    return templates[1 if tx else 0].format(value=value)


def _evm_networks(text: str) -> tuple[str, ...]:
    """Every EVM network, the one the message names first (Ethereum by default)."""
    lower = " " + text.lower()
    if not any(map(lower.__contains__, _EVM_TRIGGERS)):
        return EVM_NETWORKS
    named = [network for network, pattern in _EVM_CONTEXT if pattern.search(text)]
    primary = named[0] if named else "ethereum"
    return (primary, *(n for n in EVM_NETWORKS if n != primary))


def _address(
    start: int,
    end: int,
    value: str,
    network: tuple[str, ...],
    *,
    valid: bool = True,
    reason: str | None = None,
    detail: dict[str, str] | None = None,
) -> Finding:
    return Finding(
        "address",
        start,
        end,
        value=value,
        network=network,
        valid=valid,
        reason=reason,
        explorer=explorer_url(network[0], value) if valid else None,
        detail=detail or {},
    )


def _b58check(value: str) -> bytes | None:
    return b58check_decode(value, BITCOIN_ALPHABET)


def _b58(value: str) -> bytes | None:
    return b58decode(value, BITCOIN_ALPHABET)


def _base58_finding(text: str, match: re.Match[str]) -> Finding | None:
    value = match.group()
    start, end = match.span()
    length = len(value)
    first = value[0]
    if first in "13" and 26 <= length <= 35:
        payload = _b58check(value)
        if payload is not None and len(payload) == 21 and payload[0] in (0x00, 0x05):
            kind = "p2pkh" if payload[0] == 0 else "p2sh"
            return _address(start, end, value, ("bitcoin",), detail={"type": kind})
        if payload is None and length >= 33:
            return _address(start, end, value, ("bitcoin",), valid=False, reason="checksum_failed")
    if first == "T" and length == 34:
        payload = _b58check(value)
        if payload is None or len(payload) != 21 or payload[0] != 0x41:
            return _address(start, end, value, ("tron",), valid=False, reason="checksum_failed")
        return _address(start, end, value, ("tron",))
    if first == "r" and 25 <= length <= 35:
        payload = b58check_decode(value, XRP_ALPHABET)
        if payload is not None and len(payload) == 21 and payload[0] == 0:
            tag = _XRP_TAG_RE.search(text)
            detail = {"destination_tag": tag.group(1)} if tag else {}
            return _address(
                start,
                end,
                value,
                ("xrp",),
                detail=detail,
                reason=None if tag else "no_destination_tag",
            )
    if 32 <= length <= 44:
        raw = _b58(value)
        if raw is not None and len(raw) == 32 and (length >= 43 or _SOLANA_CONTEXT_RE.search(text)):
            return _address(start, end, value, ("solana",))
    if length in (87, 88):
        raw = _b58(value)
        if raw is not None and len(raw) == 64:
            return Finding(
                "tx_hash",
                start,
                end,
                value=value,
                network=("solana",),
                valid=True,
                explorer=explorer_url("solana", value, tx=True),
            )
    return None


def _bech32_finding(match: re.Match[str]) -> Finding:
    value = match.group()
    start, end = match.span()
    if value != value.lower() and value != value.upper():
        return _address(start, end, value, ("bitcoin",), valid=False, reason="mixed_case")
    hrp = value[:2].lower()
    network = "bitcoin" if hrp == "bc" else "bitcoin-testnet"
    decoded = segwit_decode(hrp, value.lower())
    if decoded is None:
        return _address(start, end, value, (network,), valid=False, reason="checksum_failed")
    version, program = decoded
    types = {(0, 20): "p2wpkh", (0, 32): "p2wsh", (1, 32): "p2tr"}
    kind = types.get((version, len(program)), f"witness_v{version}")
    return _address(start, end, value, (network,), detail={"type": kind})


def find_addresses(text: str) -> list[Finding]:
    """Every address and transaction hash in ``text`` (``address`` and ``tx_hash`` findings).

    A bare 64-hex string is reported as a hash here; the caller drops it when
    :func:`ledgerdesk.safety.keys.find_private_keys` says it is a key.
    """
    found: list[Finding] = []
    if _LONG_TOKEN_RE.search(text) is None:
        return found  # every address and hash has 25 letters and digits in a row
    if "0x" in text or "0X" in text:
        evm: tuple[str, ...] | None = None
        for match in _EVM_ADDRESS_RE.finditer(text):
            evm = evm or _evm_networks(text)
            value = match.group()
            body = value[2:]
            has_checksum = body != body.lower() and body != body.upper()
            ok = not has_checksum or is_eip55(value)
            found.append(
                _address(
                    match.start(),
                    match.end(),
                    value,
                    evm,
                    valid=ok,
                    reason=None if ok else "bad_checksum",
                    detail={"checksum": "eip55" if has_checksum else "none"},
                )
            )
        for match in _EVM_TX_RE.finditer(text):
            evm = evm or _evm_networks(text)
            found.append(
                Finding(
                    "tx_hash",
                    match.start(),
                    match.end(),
                    value=match.group(),
                    network=evm,
                    valid=True,
                    explorer=explorer_url(evm[0], match.group(), tx=True),
                )
            )
    for match in _BARE_HEX64_RE.finditer(text):
        network = ("bitcoin", "tron")
        found.append(
            Finding(
                "tx_hash",
                match.start(),
                match.end(),
                value=match.group(),
                network=network,
                valid=True,
                explorer=explorer_url("bitcoin", match.group(), tx=True),
            )
        )
    for match in _BECH32_RE.finditer(text):
        found.append(_bech32_finding(match))
    for match in _BASE58_RE.finditer(text):
        if match.group()[:2].lower() in ("bc", "tb") and match.group()[2:3] == "1":
            continue  # a bech32 address; its characters are base58 too
        finding = _base58_finding(text, match)
        if finding is not None:
            found.append(finding)
    found.sort(key=lambda f: f.start)
    return found


def mentioned_families(text: str) -> set[str]:
    """The network families a message names (ERC-20 -> evm, TRC-20 -> tron...)."""
    lower = text.lower()
    return {
        family
        for family, pattern in _MENTIONS
        if any(map(lower.__contains__, _MENTION_TRIGGERS[family])) and pattern.search(text)
    }


def wrong_network_hints(text: str, findings: Sequence[Finding]) -> list[Finding]:
    """``wrong_network`` findings: an address of a family the message does not talk about.

    "I withdrew USDT via ERC-20 to TXyz…" gets a hint on the Tron address. A message that
    names both families ("sent on TRC-20 instead of ERC-20") gets none: the customer
    already knows.
    """
    addresses = [f for f in findings if f.kind == "address" and f.network]
    if not addresses:
        return []
    mentioned = mentioned_families(text)
    if not mentioned:
        return []
    hints: list[Finding] = []
    for finding in addresses:
        family = FAMILY.get(finding.network[0])
        if family is None or family in mentioned:
            continue
        named = sorted(mentioned)
        hints.append(
            Finding(
                "wrong_network",
                finding.start,
                finding.end,
                value=finding.value,
                network=finding.network,
                reason=f"{family}_address_for_{'_'.join(named)}",
                detail={"address_family": family, "mentioned": ",".join(named)},
            )
        )
    return hints


# --------------------------------------------------------------------------- decoders

BITCOIN_ALPHABET: Final = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
XRP_ALPHABET: Final = "rpshnaf39wBUDNEGHJKLM4PQRST7VWXYZ2bcdeCg65jkm8oFqi1tuvAxyz"
_B58_INDEX: Final = {
    alphabet: {c: i for i, c in enumerate(alphabet)}
    for alphabet in (BITCOIN_ALPHABET, XRP_ALPHABET)
}


@lru_cache(maxsize=4096)
def b58decode(value: str, alphabet: str = BITCOIN_ALPHABET) -> bytes | None:
    """Base58 to bytes (leading zero bytes kept), or None for a foreign character."""
    index = _B58_INDEX[alphabet]
    number = 0
    for char in value:
        digit = index.get(char)
        if digit is None:
            return None
        number = number * 58 + digit
    zeros = len(value) - len(value.lstrip(alphabet[0]))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\0" * zeros + body


def b58check_decode(value: str, alphabet: str = BITCOIN_ALPHABET) -> bytes | None:
    """The payload of a base58check string, or None if its checksum is wrong."""
    raw = b58decode(value, alphabet)
    if raw is None or len(raw) < 5:
        return None
    payload, checksum = raw[:-4], raw[-4:]
    if hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4] != checksum:
        return None
    return payload


_BECH32_CHARSET: Final = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32_INDEX: Final = {c: i for i, c in enumerate(_BECH32_CHARSET)}
_BECH32_CONST: Final = 1
_BECH32M_CONST: Final = 0x2BC830A3
_GENERATOR: Final = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)


def _polymod(values: list[int]) -> int:
    checksum = 1
    for value in values:
        top = checksum >> 25
        checksum = (checksum & 0x1FFFFFF) << 5 ^ value
        for i in range(5):
            if (top >> i) & 1:
                checksum ^= _GENERATOR[i]
    return checksum


@lru_cache(maxsize=4096)
def segwit_decode(hrp: str, address: str) -> tuple[int, bytes] | None:
    """(witness version, program) of a lower-case segwit address, or None (BIP-173/350).

    Version 0 must use bech32 and versions 1-16 bech32m: taproot written with the old
    checksum is refused, as BIP-350 requires.
    """
    separator = address.rfind("1")
    if address[:separator] != hrp or len(address) > 90 or len(address) - separator < 7:
        return None
    data = [_BECH32_INDEX.get(c, -1) for c in address[separator + 1 :]]
    if -1 in data:
        return None
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    constant = _polymod(expanded + data)
    version = data[0]
    if constant != (_BECH32_CONST if version == 0 else _BECH32M_CONST) or version > 16:
        return None
    # Regroup the 5-bit words after the version into bytes.
    accumulator = bits = 0
    program = bytearray()
    for word in data[1:-6]:
        accumulator = (accumulator << 5) | word
        bits += 5
        if bits >= 8:
            bits -= 8
            program.append((accumulator >> bits) & 0xFF)
    if bits >= 5 or (accumulator << (8 - bits)) & 0xFF:
        return None  # padding must be short and zero
    if not 2 <= len(program) <= 40 or (version == 0 and len(program) not in (20, 32)):
        return None
    return version, bytes(program)
