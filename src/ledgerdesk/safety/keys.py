"""Private keys and other credentials: raw hex keys, WIF, xprv, keystore JSON, API secrets.

A raw private key and a transaction hash look the same: 64 hex characters. We tell
them apart by the nearest context word (``private key``/私钥 against ``tx``/哈希/交易),
and, when there is none, by deriving the addresses the key would control and looking
for one of them in the same message ("my wallet 0xab… was emptied, key: …"). A bare
64-hex string with no context and no matching address is taken for a hash: customers
paste hashes every day and keys rarely, and a hash is useless if redacted.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection
from typing import Final

from bip_utils import Base58ChecksumError, Base58Decoder, Secp256k1PrivateKey
from Crypto.Hash import RIPEMD160, keccak

from ledgerdesk.safety import Finding
from ledgerdesk.safety.addresses import b58check_decode, segwit_decode

_B58 = "1-9A-HJ-NP-Za-km-z"
# The order of the secp256k1 group: a private key is 1 <= k < n.
_SECP256K1_N: Final = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

HEX64_RE: Final = re.compile(r"(?<![0-9A-Za-z])(?:0[xX])?[0-9a-fA-F]{64}(?![0-9A-Za-z])")
_WIF_RE: Final = re.compile(rf"(?<![0-9A-Za-z])[5KL9c][{_B58}]{{50,51}}(?![0-9A-Za-z])")
_XPRV_RE: Final = re.compile(
    rf"(?<![0-9A-Za-z])(?:[xyztuvYZUV]prv|Ltpv)[{_B58}]{{100,112}}(?![0-9A-Za-z])"
)
# Before a hex string any of these marks a key; after it only the unambiguous ones
# ("… stopped working, my API key" must not turn a hash into a key).
_KEY_CONTEXT_RE: Final = re.compile(
    r"priv(?:ate)?[\s_-]*key|privkey|secret[\s_-]*key|私钥|私鑰|密钥|密鑰|秘钥|"
    r"(?<!api )(?<!api)\bkey\b|\bpk\b|\bwif\b",
    re.IGNORECASE,
)
_KEY_AFTER_RE: Final = re.compile(
    r"priv(?:ate)?[\s_-]*key|privkey|secret[\s_-]*key|私钥|私鑰|密钥|密鑰|秘钥",
    re.IGNORECASE,
)
_TX_CONTEXT_RE: Final = re.compile(
    r"\btx(?:id|n|hash|s)?\b|transactions?|\bhash(?:es)?\b|交易|哈希|转账|轉帳|提现|提币|"
    r"充值|充币|区块|區塊|\bblock\b|explorer|scan\.|浏览器",
    re.IGNORECASE,
)
_BEFORE: Final = 60  # context characters looked at before a hex string
_AFTER: Final = 30  # and after it

_KEYSTORE_RE: Final = re.compile(r"[\"']?ciphertext[\"']?\s*:", re.IGNORECASE)
_KEYSTORE_SHAPE_RE: Final = re.compile(r"\bkdf\b|cipherparams|\bmac\b", re.IGNORECASE)
_API_SECRET_RE: Final = re.compile(
    r"(?:api[\s_-]*secret(?:[\s_-]*key)?|secret[\s_-]*key|secretkey|client[\s_-]*secret|"
    r"\bsecret|passphrase|API\s*密钥|API\s*私钥|密钥|秘钥|密鑰)"
    r"[\s\"'`]{0,4}(?:is|=|:|：|是|为|為)?[\s\"'`]{0,4}"
    r"([A-Za-z0-9+/_\-]{16,128}={0,2})",
    re.IGNORECASE,
)


_SECRET_TRIGGERS: Final = ("secret", "passphrase", "密钥", "秘钥", "密鑰")
_LONG_TOKEN_RE: Final = re.compile(r"(?<![0-9A-Za-z])[0-9A-Za-z]{25}")


def _nearest(
    before: re.Pattern[str], after: re.Pattern[str], text: str, start: int, end: int
) -> int | None:
    """Distance from the hex string to the nearest context word around it."""
    best: int | None = None
    window_start = max(0, start - _BEFORE)
    for match in before.finditer(text, window_start, start):
        distance = start - match.end()
        best = distance if best is None else min(best, distance)
    for match in after.finditer(text, end, min(len(text), end + _AFTER)):
        distance = match.start() - end
        best = distance if best is None else min(best, distance)
        break
    return best


def controls_address(secret: bytes, addresses: Collection[str]) -> bool:
    """True if the secp256k1 key ``secret`` controls one of ``addresses``.

    EVM, Tron, Bitcoin P2PKH (compressed or not) and P2WPKH. The key's hashes are
    compared with each address's decoded payload, which is much cheaper than
    encoding the key's addresses.
    """
    public = Secp256k1PrivateKey.FromBytes(secret).PublicKey()
    compressed = bytes(public.RawCompressed().ToBytes())
    uncompressed = bytes(public.RawUncompressed().ToBytes())
    evm = keccak.new(digest_bits=256, data=uncompressed[-64:]).digest()[-20:]
    hash160 = {
        RIPEMD160.new(hashlib.sha256(key).digest()).digest() for key in (compressed, uncompressed)
    }
    for address in addresses:
        if address[:2].lower() == "0x":
            if address[2:].lower() == evm.hex():
                return True
        elif address[:4].lower() == "bc1q":
            decoded = segwit_decode("bc", address.lower())
            if decoded is not None and decoded[1] in hash160:
                return True
        else:
            payload = b58check_decode(address)
            if payload is not None and (
                payload == b"\x41" + evm or (payload[:1] == b"\x00" and payload[1:] in hash160)
            ):
                return True
    return False


def classify_hex64(text: str, start: int, end: int, addresses: Collection[str] = ()) -> str | None:
    """Say why ``text[start:end]`` (64 hex) is a private key, or None for a hash.

    Returns ``"context"`` or ``"derived_address"``.
    """
    key_distance = _nearest(_KEY_CONTEXT_RE, _KEY_AFTER_RE, text, start, end)
    tx_distance = _nearest(_TX_CONTEXT_RE, _TX_CONTEXT_RE, text, start, end)
    if key_distance is not None and (tx_distance is None or key_distance <= tx_distance):
        return "context"
    if tx_distance is not None or not addresses:
        return None
    value = int(text[start:end].removeprefix("0x").removeprefix("0X"), 16)
    if not 0 < value < _SECP256K1_N:
        return None
    if controls_address(value.to_bytes(32, "big"), addresses):
        return "derived_address"
    return None


def _keystore_spans(text: str) -> list[tuple[int, int]]:
    """Spans of the top-level JSON objects that hold a keystore's ciphertext."""
    hits = [m.start() for m in _KEYSTORE_RE.finditer(text)]
    if not hits or not _KEYSTORE_SHAPE_RE.search(text):
        return []
    objects: list[tuple[int, int]] = []
    depth = 0
    opened = -1
    in_string = False
    escaped = False
    for i, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"' and depth:
            in_string = True
        elif char == "{":
            if depth == 0:
                opened = i
            depth += 1
        elif char == "}" and depth:
            depth -= 1
            if depth == 0:
                objects.append((opened, i + 1))
    if depth:  # cut off mid-object: everything from its opening brace
        objects.append((opened, len(text)))
    spans: list[tuple[int, int]] = []
    for hit in hits:
        span = next(((a, b) for a, b in objects if a <= hit < b), None)
        # No braces around it: a fragment; take the rest of the message.
        span = span or (hit, len(text))
        if span not in spans:
            spans.append(span)
    return spans


def _mixed(token: str) -> bool:
    """A credential mixes letters and digits; an English word after "secret" does not."""
    return any(c.isdigit() for c in token) and any(c.isalpha() for c in token)


def find_private_keys(text: str, addresses: Collection[str] = ()) -> list[Finding]:
    """Every private key and credential in ``text``.

    ``addresses`` are the addresses found in the same message; a 64-hex string without
    context words is a key only if it controls one of them.
    """
    found: list[Finding] = []
    lower = text.lower()
    if "ciphertext" in lower:
        for start, end in _keystore_spans(text):
            found.append(Finding("keystore", start, end, valid=True))
    # Every key below is a long run of letters and digits.
    if _LONG_TOKEN_RE.search(text) is not None:
        found.extend(_keys(text, addresses))
    if any(trigger in lower for trigger in _SECRET_TRIGGERS):
        for match in _API_SECRET_RE.finditer(text):
            start, end = match.span(1)
            # "secret key: <hex>" is a private key, found above under that name.
            if _mixed(match.group(1)) and not any(f.overlaps(start, end) for f in found):
                found.append(Finding("api_secret", start, end, valid=True))
    return found


def _keys(text: str, addresses: Collection[str]) -> list[Finding]:
    found: list[Finding] = []
    for match in HEX64_RE.finditer(text):
        reason = classify_hex64(text, match.start(), match.end(), addresses)
        if reason is not None:
            found.append(
                Finding("private_key", match.start(), match.end(), valid=True, reason=reason)
            )
    if len(text) < 51:  # the shortest of WIF and xprv
        return found
    for match in _WIF_RE.finditer(text):
        if _wif_ok(match.group()):
            found.append(Finding("wif_key", match.start(), match.end(), valid=True))
    for match in _XPRV_RE.finditer(text):
        ok = _checked_length(match.group()) == 78
        found.append(
            Finding(
                "extended_private_key",
                match.start(),
                match.end(),
                valid=ok,
                reason=None if ok else "checksum_failed",
                detail={"prefix": match.group()[:4]},
            )
        )
    return found


def _checked_length(candidate: str) -> int | None:
    try:
        return len(Base58Decoder.CheckDecode(candidate))
    except (ValueError, Base58ChecksumError):
        return None


def _wif_ok(candidate: str) -> bool:
    try:
        payload = Base58Decoder.CheckDecode(candidate)
    except (ValueError, Base58ChecksumError):
        return False
    if payload[:1] not in (b"\x80", b"\xef"):
        return False
    return len(payload) == 33 or (len(payload) == 34 and payload[-1] == 1)
