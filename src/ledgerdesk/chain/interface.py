"""What a chain look-up answers, whatever the chain: the types, the errors, the Protocol.

Amounts are integers in base units (wei, satoshi, a token's smallest unit); the
``*_text`` properties render them for people ("1.5 ETH").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable

from ledgerdesk.chain.networks import ChainNetwork
from ledgerdesk.errors import InvalidInput, LedgerdeskError, NotFound

# Token symbols come from the token's own contract, so anyone can pick any text.
MAX_SYMBOL_LENGTH = 20


class TxStatus(StrEnum):
    NOT_FOUND = "not_found"
    PENDING = "pending"  # known to the node, not in a block yet
    SUCCEEDED = "succeeded"
    REVERTED = "reverted"  # in a block, but it failed: nothing moved except the fee


class ChainUnavailable(LedgerdeskError):
    """The node could not be asked (down, slow, refusing, answering nonsense)."""

    status_code = 503
    code = "chain_unavailable"


class ChainMisconfigured(ChainUnavailable):
    """The node answers for another chain than the configured one."""

    code = "chain_misconfigured"


class UnknownNetwork(NotFound):
    code = "unknown_network"


class InvalidTxHash(InvalidInput):
    pass


class InvalidAddress(InvalidInput):
    pass


def format_amount(amount: int, decimals: int | None, symbol: str | None) -> str:
    """``1500000000000000000, 18, "ETH"`` -> ``"1.5 ETH"``; exact, never in exponent form."""
    unit = f" {symbol}" if symbol else ""
    if decimals is None:
        return f"{amount} base units{unit}"
    whole, fraction = divmod(amount, 10**decimals)
    text = str(whole)
    if fraction:
        text += "." + str(fraction).rjust(decimals, "0").rstrip("0")
    return text + unit


def clean_symbol(raw: str) -> str | None:
    """A token symbol fit to show: printable, short, or None."""
    text = "".join(ch for ch in raw if ch.isprintable()).strip()
    return text[:MAX_SYMBOL_LENGTH] or None


@dataclass(frozen=True, slots=True)
class Transfer:
    """Value moving to an address: the native coin (``token`` None) or a token."""

    to_address: str
    amount: int
    from_address: str | None = None
    # The token contract; None for the network's own coin (ETH, BTC).
    token: str | None = None
    symbol: str | None = None
    decimals: int | None = None

    @property
    def amount_text(self) -> str:
        return format_amount(self.amount, self.decimals, self.symbol)


@dataclass(frozen=True, slots=True)
class TxInfo:
    network: str
    tx_hash: str
    status: TxStatus
    required_confirmations: int
    native_symbol: str
    native_decimals: int
    block_number: int | None = None
    block_time: datetime | None = None
    confirmations: int = 0
    # EVM: the sender and the recipient (or contract called; None for a contract
    # creation). Bitcoin: the first input's address, and the recipient only when
    # there is one output.
    from_address: str | None = None
    to_address: str | None = None
    # The native coin moved, in base units (Bitcoin: the sum of the outputs).
    value: int = 0
    fee: int | None = None
    # EVM: the transaction called a contract (it carries input data). Such a call can
    # move the native coin internally, which no receipt shows.
    contract_call: bool = False
    # Native value and token transfers: from the receipt's Transfer logs once mined,
    # from the call data while pending; Bitcoin: one per output.
    transfers: tuple[Transfer, ...] = ()
    explorer_url: str | None = None

    @property
    def found(self) -> bool:
        return self.status is not TxStatus.NOT_FOUND

    @property
    def value_text(self) -> str:
        return format_amount(self.value, self.native_decimals, self.native_symbol)

    @property
    def fee_text(self) -> str | None:
        if self.fee is None:
            return None
        return format_amount(self.fee, self.native_decimals, self.native_symbol)

    @property
    def token_transfers(self) -> tuple[Transfer, ...]:
        return tuple(t for t in self.transfers if t.token is not None)

    @property
    def remaining_confirmations(self) -> int:
        return max(0, self.required_confirmations - self.confirmations)

    @property
    def final(self) -> bool:
        """Succeeded and as deep as the network's configured confirmations."""
        return self.status is TxStatus.SUCCEEDED and self.remaining_confirmations == 0


@dataclass(frozen=True, slots=True)
class AddressSummary:
    network: str
    address: str
    balance: int
    balance_text: str
    # EVM: the nonce (transactions sent); Bitcoin: transactions touching the address.
    tx_count: int


@runtime_checkable
class ChainClient(Protocol):
    """Reads one network. Implementations: EvmChainClient, EsploraClient."""

    @property
    def network(self) -> ChainNetwork: ...

    def normalise_tx_hash(self, raw: str) -> str:
        """The hash in this network's canonical form, or InvalidTxHash saying why not."""
        ...

    def normalise_address(self, raw: str) -> str:
        """The address in canonical form, or InvalidAddress saying why not."""
        ...

    async def lookup_transaction(self, tx_hash: str) -> TxInfo:
        """Never raises for a missing transaction (status NOT_FOUND); ChainUnavailable
        when the node cannot answer, InvalidTxHash for a malformed hash."""
        ...

    async def address_summary(self, address: str) -> AddressSummary: ...
