"""API shapes for chain look-ups. Amounts are strings: base units overflow JSON numbers."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from ledgerdesk.chain.deposit import DepositStatus, DepositVerdict
from ledgerdesk.chain.interface import AddressSummary, Transfer, TxInfo, TxStatus
from ledgerdesk.chain.networks import ChainNetwork, NetworkKind


class NetworkOut(BaseModel):
    name: str
    label: str
    kind: NetworkKind
    chain_id: int | None
    confirmations: int
    native_symbol: str
    has_explorer: bool

    @classmethod
    def of(cls, network: ChainNetwork) -> NetworkOut:
        return cls(
            name=network.name,
            label=network.label,
            kind=network.kind,
            chain_id=network.chain_id,
            confirmations=network.confirmations,
            native_symbol=network.native_symbol,
            has_explorer=network.explorer_tx_url is not None,
        )


class TransferOut(BaseModel):
    token: str | None
    from_address: str | None
    to_address: str
    amount: str
    amount_text: str
    symbol: str | None
    decimals: int | None

    @classmethod
    def of(cls, transfer: Transfer) -> TransferOut:
        return cls(
            token=transfer.token,
            from_address=transfer.from_address,
            to_address=transfer.to_address,
            amount=str(transfer.amount),
            amount_text=transfer.amount_text,
            symbol=transfer.symbol,
            decimals=transfer.decimals,
        )


class TxOut(BaseModel):
    network: str
    tx_hash: str
    status: TxStatus
    found: bool
    final: bool
    block_number: int | None
    block_time: datetime | None
    confirmations: int
    required_confirmations: int
    remaining_confirmations: int
    from_address: str | None
    to_address: str | None
    value: str
    value_text: str
    fee: str | None
    fee_text: str | None
    transfers: list[TransferOut]
    explorer_url: str | None

    @classmethod
    def of(cls, tx: TxInfo) -> TxOut:
        return cls(
            network=tx.network,
            tx_hash=tx.tx_hash,
            status=tx.status,
            found=tx.found,
            final=tx.final,
            block_number=tx.block_number,
            block_time=tx.block_time,
            confirmations=tx.confirmations,
            required_confirmations=tx.required_confirmations,
            remaining_confirmations=tx.remaining_confirmations,
            from_address=tx.from_address,
            to_address=tx.to_address,
            value=str(tx.value),
            value_text=tx.value_text,
            fee=None if tx.fee is None else str(tx.fee),
            fee_text=tx.fee_text,
            transfers=[TransferOut.of(t) for t in tx.transfers],
            explorer_url=tx.explorer_url,
        )


class DepositOut(BaseModel):
    status: DepositStatus
    network: str
    network_label: str
    tx_hash: str
    confirmations: int
    required_confirmations: int
    remaining_confirmations: int
    amount_text: str | None
    sent_to: list[str]
    found_on: list[str]
    explorer_url: str | None
    # Keyed by language: "en" and "zh-Hans".
    customer_texts: dict[str, str]
    agent_text: str

    @classmethod
    def of(cls, verdict: DepositVerdict) -> DepositOut:
        return cls(
            status=verdict.status,
            network=verdict.network,
            network_label=verdict.network_label,
            tx_hash=verdict.tx_hash,
            confirmations=verdict.confirmations,
            required_confirmations=verdict.required_confirmations,
            remaining_confirmations=verdict.remaining_confirmations,
            amount_text=verdict.amount_text,
            sent_to=list(verdict.sent_to),
            found_on=list(verdict.found_on),
            explorer_url=verdict.explorer_url,
            customer_texts=dict(verdict.customer_texts),
            agent_text=verdict.agent_text,
        )


class AddressOut(BaseModel):
    network: str
    address: str
    balance: str
    balance_text: str
    tx_count: int

    @classmethod
    def of(cls, summary: AddressSummary) -> AddressOut:
        return cls(
            network=summary.network,
            address=summary.address,
            balance=str(summary.balance),
            balance_text=summary.balance_text,
            tx_count=summary.tx_count,
        )
