"""Bitcoin (and its test networks) over the Esplora REST API, with httpx.

Esplora is the API of blockstream.info and mempool.space, and of a self-hosted
electrs: ``GET /tx/:txid`` (the transaction with its status), ``/blocks/tip/height``
and ``/address/:address``. ``rpc_url`` is the API root, e.g. https://mempool.space/api.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx

from ledgerdesk.chain.interface import (
    AddressSummary,
    ChainUnavailable,
    InvalidAddress,
    InvalidTxHash,
    Transfer,
    TxInfo,
    TxStatus,
    format_amount,
)
from ledgerdesk.chain.networks import ChainNetwork

_TXID = re.compile(r"[0-9a-fA-F]{64}")
# Base58 (1..., 3..., m/n/2... on testnet) or bech32/bech32m (bc1..., tb1..., bcrt1...).
# The server validates for real; this keeps path-breaking junk out of the URL.
_ADDRESS = re.compile(r"[13mn2][1-9A-HJ-NP-Za-km-z]{25,39}|(?:bc|tb|bcrt)1[02-9ac-hj-np-z]{6,87}")


def normalise_txid(raw: str) -> str:
    text = raw.strip()
    if text.lower().startswith("0x"):
        raise InvalidTxHash(
            "a Bitcoin transaction id has no 0x prefix; a 0x... hash belongs to an EVM network"
        )
    if not _TXID.fullmatch(text):
        raise InvalidTxHash(
            f"a Bitcoin transaction id is 64 hexadecimal characters (got {len(text)})"
        )
    return text.lower()


def normalise_bitcoin_address(raw: str) -> str:
    """Shape only (the server checks the checksum): bech32 lowercased, base58 as given."""
    text = raw.strip()
    if text.lower().startswith(("bc1", "tb1", "bcrt1")) and text in (text.lower(), text.upper()):
        text = text.lower()  # bech32 is written in one case; lowercase is canonical
    if not _ADDRESS.fullmatch(text):
        raise InvalidAddress("that is not a Bitcoin address (1..., 3... or bc1...)")
    return text


class EsploraClient:
    """Looks transactions up on one Bitcoin network through an Esplora server."""

    def __init__(self, network: ChainNetwork) -> None:
        if network.kind != "esplora":
            raise ValueError(f"network {network.name!r} is not an esplora network")
        self._network = network
        # Building an SSL context costs milliseconds; one per client, not per look-up.
        self._ssl: ssl.SSLContext | None = None

    @property
    def network(self) -> ChainNetwork:
        return self._network

    def normalise_tx_hash(self, raw: str) -> str:
        return normalise_txid(raw)

    def normalise_address(self, raw: str) -> str:
        return normalise_bitcoin_address(raw)

    @asynccontextmanager
    async def _connect(self) -> AsyncIterator[httpx.AsyncClient]:
        network = self._network
        if self._ssl is None:
            self._ssl = ssl.create_default_context()
        where = f"the {network.label} Esplora server ({network.rpc_host})"
        base = network.rpc_url.get_secret_value().rstrip("/")
        try:
            async with httpx.AsyncClient(
                base_url=base + "/",
                timeout=network.timeout_seconds,
                verify=self._ssl,
                headers={"Accept": "application/json"},
            ) as http:
                yield http
        except httpx.TimeoutException:
            raise ChainUnavailable(
                f"{where} did not answer within {network.timeout_seconds:g} s"
            ) from None
        except httpx.HTTPStatusError as exc:
            raise ChainUnavailable(f"{where} answered HTTP {exc.response.status_code}") from None
        except httpx.TransportError as exc:
            raise ChainUnavailable(f"{where} cannot be reached: {type(exc).__name__}") from None
        except (ValueError, KeyError, TypeError):
            raise ChainUnavailable(f"{where} gave an unusable answer") from None

    async def lookup_transaction(self, tx_hash: str) -> TxInfo:
        txid = self.normalise_tx_hash(tx_hash)
        network = self._network
        base = TxInfo(
            network=network.name,
            tx_hash=txid,
            status=TxStatus.NOT_FOUND,
            required_confirmations=network.confirmations,
            native_symbol=network.native_symbol,
            native_decimals=network.native_decimals,
            explorer_url=network.explorer_url(txid),
        )
        async with self._connect() as http:
            response = await http.get(f"tx/{txid}")
            if response.status_code == 404:
                return base
            response.raise_for_status()
            tx: dict[str, Any] = response.json()
            status = tx["status"]
            tip = None
            if status.get("confirmed"):
                tip_response = await http.get("blocks/tip/height")
                tip_response.raise_for_status()
                tip = int(tip_response.text.strip())
        return self._tx_info(base, tx, tip)

    def _tx_info(self, base: TxInfo, tx: dict[str, Any], tip: int | None) -> TxInfo:
        network = self._network
        outputs = [
            Transfer(
                to_address=str(out["scriptpubkey_address"]),
                amount=int(out["value"]),
                symbol=network.native_symbol,
                decimals=network.native_decimals,
            )
            for out in tx["vout"]
            if out.get("scriptpubkey_address")
        ]
        senders = [
            str(vin["prevout"]["scriptpubkey_address"])
            for vin in tx["vin"]
            if not vin.get("is_coinbase") and (vin.get("prevout") or {}).get("scriptpubkey_address")
        ]
        status = tx["status"]
        confirmed = bool(status.get("confirmed"))
        block = int(status["block_height"]) if confirmed else None
        fee = tx.get("fee")
        return TxInfo(
            network=base.network,
            tx_hash=base.tx_hash,
            status=TxStatus.SUCCEEDED if confirmed else TxStatus.PENDING,
            required_confirmations=base.required_confirmations,
            native_symbol=base.native_symbol,
            native_decimals=base.native_decimals,
            explorer_url=base.explorer_url,
            block_number=block,
            block_time=(
                datetime.fromtimestamp(int(status["block_time"]), UTC)
                if confirmed and status.get("block_time")
                else None
            ),
            # A server whose tip lags the block it reported still counts the block itself.
            confirmations=max(1, (tip or 0) - block + 1) if block is not None else 0,
            from_address=senders[0] if senders else None,
            to_address=outputs[0].to_address if len(outputs) == 1 else None,
            value=sum(int(out["value"]) for out in tx["vout"]),
            fee=int(fee) if fee is not None else None,
            transfers=tuple(outputs),
        )

    async def address_summary(self, address: str) -> AddressSummary:
        text = address.strip()
        if text.lower().startswith(("bc1", "tb1", "bcrt1")) and text in (
            text.lower(),
            text.upper(),
        ):
            text = text.lower()  # bech32 is written in one case; lowercase is canonical
        if not _ADDRESS.fullmatch(text):
            raise InvalidAddress("that is not a Bitcoin address (1..., 3... or bc1...)")
        network = self._network
        async with self._connect() as http:
            response = await http.get(f"address/{text}")
            if response.status_code == 400:
                raise InvalidAddress(f"the {network.label} server does not know that address form")
            response.raise_for_status()
            stats = response.json()
            chain, mempool = stats["chain_stats"], stats["mempool_stats"]
            # Confirmed coins only: what is in the mempool may still change.
            balance = int(chain["funded_txo_sum"]) - int(chain["spent_txo_sum"])
            tx_count = int(chain["tx_count"]) + int(mempool["tx_count"])
        return AddressSummary(
            network=network.name,
            address=text,
            balance=balance,
            balance_text=format_amount(balance, network.native_decimals, network.native_symbol),
            tx_count=tx_count,
        )
