"""EVM networks (Ethereum, BNB Chain, Polygon, Arbitrum...) over JSON-RPC with web3.py.

Each look-up opens its own AsyncWeb3 and HTTP session and closes them after: web3's
HTTP sessions do not keep connections alive anyway, and nothing is left open when
the app or a test ends. The client keeps only what is worth keeping between
look-ups: that the node's chain id was checked, and token symbols and decimals.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sys
from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import aiohttp
from eth_abi.abi import decode as abi_decode
from eth_abi.exceptions import DecodingError
from eth_utils.address import is_checksum_address, to_checksum_address
from web3 import AsyncHTTPProvider, AsyncWeb3
from web3.exceptions import (
    ContractLogicError,
    TransactionIndexingInProgress,
    TransactionNotFound,
    Web3Exception,
    Web3RPCError,
)

from ledgerdesk.chain.interface import (
    AddressSummary,
    ChainMisconfigured,
    ChainUnavailable,
    InvalidAddress,
    InvalidTxHash,
    Transfer,
    TxInfo,
    TxStatus,
    clean_symbol,
    format_amount,
)
from ledgerdesk.chain.networks import ChainNetwork

# py_ecc, imported by web3, raises the interpreter's recursion limit to 100,000. With
# that limit a deeply nested JSON request body overflows the C stack inside json.loads
# and kills the whole process instead of being refused; put the default back.
if sys.getrecursionlimit() > 10_000:
    sys.setrecursionlimit(1000)

log = logging.getLogger(__name__)

# keccak256("Transfer(address,address,uint256)"); ERC-721 uses the same topic with a
# third indexed argument, which the topic count tells apart.
TRANSFER_TOPIC = "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
SYMBOL_CALL = "0x95d89b41"  # symbol()
DECIMALS_CALL = "0x313ce567"  # decimals()
TRANSFER_SELECTOR = "a9059cbb"  # transfer(address,uint256)
TRANSFER_FROM_SELECTOR = "23b872dd"  # transferFrom(address,address,uint256)
_TX_HASH = re.compile(r"(?:0x)?([0-9a-fA-F]{64})")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
TOKEN_CACHE_SIZE = 2048
MAX_TOKENS_NAMED = 16


def normalise_evm_tx_hash(raw: str) -> str:
    text = raw.strip()
    match = _TX_HASH.fullmatch(text)
    if match is None:
        raise InvalidTxHash(
            "an EVM transaction hash is 0x followed by 64 hexadecimal characters"
            f" (got {len(text)} characters)"
        )
    return "0x" + match.group(1).lower()


def normalise_evm_address(raw: str) -> str:
    """The EIP-55 form; a mixed-case address must carry a valid checksum (a typo guard)."""
    text = raw.strip()
    if not _ADDRESS.fullmatch(text):
        raise InvalidAddress("an EVM address is 0x followed by 40 hexadecimal characters")
    body = text[2:]
    if body != body.lower() and body != body.upper() and not is_checksum_address(text):
        raise InvalidAddress("the address's upper/lower case checksum is wrong: a typo?")
    return str(to_checksum_address(text))


def _hex(value: Any) -> str:
    """HexBytes, bytes or "0x.." text -> lowercase hex without 0x."""
    if isinstance(value, bytes | bytearray):
        return bytes(value).hex()
    text = str(value).lower()
    return text[2:] if text.startswith("0x") else text


def _word_address(word_hex: str) -> str:
    return str(to_checksum_address("0x" + word_hex[-40:]))


def decode_transfer_log(log_entry: Mapping[str, Any]) -> Transfer | None:
    """An ERC-20 Transfer event from a receipt log, or None for any other log."""
    topics = [_hex(topic) for topic in log_entry.get("topics", ())]
    if len(topics) != 3 or topics[0] != TRANSFER_TOPIC or log_entry.get("removed"):
        return None
    data = _hex(log_entry.get("data", b""))
    if len(data) != 64:
        return None
    return Transfer(
        token=str(to_checksum_address(log_entry["address"])),
        from_address=_word_address(topics[1]),
        to_address=_word_address(topics[2]),
        amount=int(data, 16),
    )


def decode_transfer_call(sender: str, token: str | None, call_data: Any) -> Transfer | None:
    """What a pending ``transfer``/``transferFrom`` call will move, read from its input."""
    data = _hex(call_data)
    if token is None:
        return None
    if data.startswith(TRANSFER_SELECTOR) and len(data) == 8 + 64 * 2:
        return Transfer(
            token=token,
            from_address=sender,
            to_address=_word_address(data[8:72]),
            amount=int(data[72:136], 16),
        )
    if data.startswith(TRANSFER_FROM_SELECTOR) and len(data) == 8 + 64 * 3:
        return Transfer(
            token=token,
            from_address=_word_address(data[8:72]),
            to_address=_word_address(data[72:136]),
            amount=int(data[136:200], 16),
        )
    return None


def _decode_symbol(data: bytes) -> str | None:
    try:
        (text,) = abi_decode(["string"], data)
        return clean_symbol(str(text))
    except (DecodingError, ValueError, OverflowError):
        pass
    # Some early tokens (MKR, SAI) return bytes32.
    if len(data) == 32:
        return clean_symbol(data.rstrip(b"\x00").decode("utf-8", "replace"))
    return None


def _decode_decimals(data: bytes) -> int | None:
    if len(data) != 32:
        return None
    value = int.from_bytes(data, "big")
    return value if value <= 77 else None  # 10**77 is about the largest uint256


class EvmChainClient:
    """Looks transactions up on one EVM network through its JSON-RPC node."""

    def __init__(self, network: ChainNetwork) -> None:
        if network.kind != "evm":
            raise ValueError(f"network {network.name!r} is not an evm network")
        self._network = network
        self._chain_checked = False
        self._tokens: OrderedDict[str, tuple[str | None, int | None]] = OrderedDict()

    @property
    def network(self) -> ChainNetwork:
        return self._network

    def normalise_tx_hash(self, raw: str) -> str:
        return normalise_evm_tx_hash(raw)

    def normalise_address(self, raw: str) -> str:
        return normalise_evm_address(raw)

    # Connection -----------------------------------------------------------

    @asynccontextmanager
    async def _connect(self) -> AsyncIterator[AsyncWeb3[AsyncHTTPProvider]]:
        network = self._network
        timeout = network.timeout_seconds
        provider = AsyncHTTPProvider(
            network.rpc_url.get_secret_value(),
            request_kwargs={"timeout": aiohttp.ClientTimeout(total=timeout)},
            # One try: a support agent is waiting, and a dead node stays dead for now.
            exception_retry_configuration=None,
        )
        w3 = AsyncWeb3(provider, middleware=[])
        where = f"the {network.label} node ({network.rpc_host})"
        try:
            async with asyncio.timeout(timeout):
                yield w3
        except TimeoutError:
            raise ChainUnavailable(f"{where} did not answer within {timeout:g} s") from None
        except aiohttp.ClientResponseError as exc:
            raise ChainUnavailable(f"{where} answered HTTP {exc.status}") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise ChainUnavailable(f"{where} cannot be reached: {type(exc).__name__}") from None
        except TransactionIndexingInProgress:
            raise ChainUnavailable(f"{where} is still indexing transactions; try later") from None
        except (Web3Exception, ValueError, KeyError, TypeError) as exc:
            # A JSON-RPC error or an answer of the wrong shape.
            log.warning("unusable answer from %s: %s", where, exc)
            raise ChainUnavailable(f"{where} gave an unusable answer") from None
        finally:
            await provider.disconnect()

    async def _check_chain(self, w3: AsyncWeb3[AsyncHTTPProvider]) -> None:
        """The node must serve the configured chain, or every answer would be wrong."""
        if self._chain_checked:
            return
        actual = await w3.eth.chain_id
        if actual != self._network.chain_id:
            raise ChainMisconfigured(
                f"network {self._network.name!r} is configured with chain id"
                f" {self._network.chain_id}, but its node ({self._network.rpc_host}) serves"
                f" chain id {actual}; fix LEDGERDESK_CHAIN_NETWORKS"
            )
        self._chain_checked = True

    # Look-ups -------------------------------------------------------------

    async def lookup_transaction(self, tx_hash: str) -> TxInfo:
        tx_hash = self.normalise_tx_hash(tx_hash)
        network = self._network
        base = TxInfo(
            network=network.name,
            tx_hash=tx_hash,
            status=TxStatus.NOT_FOUND,
            required_confirmations=network.confirmations,
            native_symbol=network.native_symbol,
            native_decimals=network.native_decimals,
            explorer_url=network.explorer_url(tx_hash),
        )
        async with self._connect() as w3:
            await self._check_chain(w3)
            try:
                tx = await w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
            except TransactionNotFound:
                return base
            sender = str(to_checksum_address(tx["from"]))
            recipient = str(to_checksum_address(tx["to"])) if tx.get("to") else None
            value = int(tx.get("value", 0))
            call_data = tx.get("input", b"")
            native = (
                (Transfer(to_address=recipient, amount=value, from_address=sender),)
                if recipient is not None and value > 0
                else ()
            )
            base = replace(
                base,
                from_address=sender,
                to_address=recipient,
                value=value,
                contract_call=recipient is not None and len(_hex(call_data)) > 0,
            )
            block_number = tx.get("blockNumber")
            receipt, latest = None, 0
            if block_number is not None:
                receipt, latest = await asyncio.gather(
                    self._receipt(w3, tx_hash), w3.eth.block_number
                )
            if block_number is None or receipt is None:
                planned = decode_transfer_call(sender, recipient, call_data)
                transfers = native + (
                    tuple(await self._with_metadata(w3, [planned])) if planned else ()
                )
                return replace(base, status=TxStatus.PENDING, transfers=transfers)
            tokens = [t for log_entry in receipt["logs"] if (t := decode_transfer_log(log_entry))]
            tokens = await self._with_metadata(w3, tokens)
            succeeded = receipt["status"] == 1
            gas_price = receipt.get("effectiveGasPrice", tx.get("gasPrice", 0))
            return replace(
                base,
                status=TxStatus.SUCCEEDED if succeeded else TxStatus.REVERTED,
                block_number=int(block_number),
                # A load-balanced node may be a block behind the one that served the tx.
                confirmations=max(1, int(latest) - int(block_number) + 1),
                fee=int(receipt["gasUsed"]) * int(gas_price),
                transfers=native + tuple(tokens),
            )

    async def address_summary(self, address: str) -> AddressSummary:
        checksummed = self.normalise_address(address)
        network = self._network
        async with self._connect() as w3:
            await self._check_chain(w3)
            balance = await w3.eth.get_balance(checksummed)  # type: ignore[arg-type]
            nonce = await w3.eth.get_transaction_count(checksummed)  # type: ignore[arg-type]
        return AddressSummary(
            network=network.name,
            address=checksummed,
            balance=int(balance),
            balance_text=format_amount(
                int(balance), network.native_decimals, network.native_symbol
            ),
            tx_count=int(nonce),
        )

    # Token metadata -------------------------------------------------------

    @staticmethod
    async def _receipt(w3: AsyncWeb3[AsyncHTTPProvider], tx_hash: str) -> Any:
        try:
            return await w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
        except TransactionNotFound:
            return None  # mined a moment ago; the receipt is not indexed yet

    async def _with_metadata(
        self, w3: AsyncWeb3[AsyncHTTPProvider], transfers: list[Transfer]
    ) -> list[Transfer]:
        """The transfers with their tokens' symbols and decimals, asked for together.

        A swap or an airdrop can touch many tokens: the first few get names, the rest
        show raw units rather than making the look-up slow.
        """
        tokens = list(dict.fromkeys(t.token for t in transfers if t.token))[:MAX_TOKENS_NAMED]
        found = await asyncio.gather(*(self.token_metadata(w3, token) for token in tokens))
        metadata = dict(zip(tokens, found, strict=True))
        return [
            replace(t, symbol=metadata[t.token][0], decimals=metadata[t.token][1])
            if t.token in metadata
            else t
            for t in transfers
        ]

    async def token_metadata(
        self, w3: AsyncWeb3[AsyncHTTPProvider], token: str
    ) -> tuple[str | None, int | None]:
        """symbol() and decimals() of a token contract, remembered per client.

        A contract without them (or one that reverts) is remembered as (None, None);
        a node failure is not remembered and surfaces as ChainUnavailable.
        """
        if (cached := self._tokens.get(token)) is not None:
            self._tokens.move_to_end(token)
            return cached
        symbol, decimals = await asyncio.gather(
            self._call(w3, token, SYMBOL_CALL), self._call(w3, token, DECIMALS_CALL)
        )
        found = (
            _decode_symbol(symbol) if symbol else None,
            _decode_decimals(decimals) if decimals else None,
        )
        self._tokens[token] = found
        if len(self._tokens) > TOKEN_CACHE_SIZE:
            self._tokens.popitem(last=False)
        return found

    async def _call(self, w3: AsyncWeb3[AsyncHTTPProvider], to: str, data: str) -> bytes | None:
        try:
            result = await w3.eth.call({"to": to, "data": data})  # type: ignore[typeddict-item]
        except ContractLogicError:
            return None
        except Web3RPCError as exc:
            if "revert" in str(exc).lower():
                return None
            raise
        return bytes(result) or None
