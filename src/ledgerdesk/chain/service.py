"""The configured networks of one install, and the look-ups built on them.

``ChainClients.from_settings(settings)`` makes one client per network in
``LEDGERDESK_CHAIN_NETWORKS``; ``lookup`` finds a transaction on a named network;
``check_deposit`` answers "where is my deposit", looking on the other networks
when the customer's chosen one does not have the transaction.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping

from ledgerdesk.chain.deposit import NATIVE, DepositVerdict, deposit_verdict, unavailable_verdict
from ledgerdesk.chain.deposit_text import tx_verdict
from ledgerdesk.chain.interface import (
    ChainClient,
    ChainUnavailable,
    InvalidAddress,
    InvalidTxHash,
    TxInfo,
    UnknownNetwork,
)
from ledgerdesk.chain.networks import ChainNetwork
from ledgerdesk.errors import InvalidInput
from ledgerdesk.settings import Settings

log = logging.getLogger(__name__)


def hash_fits_kind(tx_hash: str, network: ChainNetwork) -> bool:
    """Whether the hash is written the way its network writes them (``0x`` on EVM)."""
    return tx_hash.strip().lower().startswith("0x") == (network.kind == "evm")


def client_for(network: ChainNetwork) -> ChainClient:
    """The client that speaks this network's protocol."""
    if network.kind == "esplora":
        from ledgerdesk.chain.esplora import EsploraClient

        return EsploraClient(network)
    # web3 takes a while to import; an install without EVM networks never pays for it.
    from ledgerdesk.chain.evm import EvmChainClient

    return EvmChainClient(network)


class ChainClients:
    """One client per configured network, made when first asked for, kept after."""

    def __init__(self, networks: Iterable[ChainNetwork]) -> None:
        self._networks = {network.name: network for network in networks}
        self._clients: dict[str, ChainClient] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> ChainClients:
        return cls(settings.chain_networks)

    @property
    def networks(self) -> Mapping[str, ChainNetwork]:
        return self._networks

    def get(self, name: str) -> ChainClient:
        network = self._networks.get(name)
        if network is None:
            known = ", ".join(sorted(self._networks)) or "none are configured"
            raise UnknownNetwork(f"no network named {name[:40]!r}; known networks: {known}")
        if name not in self._clients:
            self._clients[name] = client_for(network)
        return self._clients[name]

    async def lookup(self, network: str, tx_hash: str) -> TxInfo:
        """The transaction on one network (NOT_FOUND if absent).

        Raises UnknownNetwork, InvalidTxHash for a hash of the wrong form, or
        ChainUnavailable when the node cannot answer.
        """
        return await self.get(network).lookup_transaction(tx_hash)

    async def found_elsewhere(self, tx_hash: str, *, besides: str) -> tuple[ChainNetwork, ...]:
        """Other networks whose node knows this hash (best effort: a down node is skipped)."""
        candidates = []
        for name in self._networks:
            if name == besides:
                continue
            client = self.get(name)
            try:
                client.normalise_tx_hash(tx_hash)
            except InvalidTxHash:
                continue  # a Bitcoin txid cannot be on an EVM chain, nor the reverse
            candidates.append(client)

        async def probe(client: ChainClient) -> ChainNetwork | None:
            try:
                info = await client.lookup_transaction(tx_hash)
            except ChainUnavailable as exc:
                log.info(
                    "skipped %s while looking for a tx elsewhere: %s", client.network.name, exc
                )
                return None
            return client.network if info.found else None

        found = await asyncio.gather(*(probe(client) for client in candidates))
        return tuple(network for network in found if network is not None)

    async def check_deposit(
        self,
        network: str,
        tx_hash: str,
        expected_address: str,
        expected_token: str | None = None,
    ) -> DepositVerdict:
        """Where is my deposit: the verdict for a deposit to ``expected_address``.

        Never raises for the chain's sake: an unreachable node gives an UNAVAILABLE
        verdict (the assistant then hands over to a person). UnknownNetwork,
        InvalidTxHash, InvalidAddress and InvalidInput (a bad token) still raise:
        they are the caller's input errors.
        """
        client = self.get(network)
        tx_hash = client.normalise_tx_hash(tx_hash)
        expected_address = client.normalise_address(expected_address)
        if expected_token is not None and expected_token != NATIVE:
            if client.network.kind != "evm":
                raise InvalidInput(f"{client.network.label} has no tokens: leave token out")
            try:
                expected_token = client.normalise_address(expected_token)
            except InvalidAddress:
                raise InvalidInput("token must be 'native' or a token contract address") from None
        try:
            info = await client.lookup_transaction(tx_hash)
        except ChainUnavailable as exc:
            return unavailable_verdict(client.network, tx_hash, exc.message)
        found_on: tuple[ChainNetwork, ...] = ()
        if not info.found:
            found_on = await self.found_elsewhere(tx_hash, besides=network)
        return deposit_verdict(
            info, client.network, expected_address, expected_token, found_on=found_on
        )

    def networks_for_hash(self, tx_hash: str) -> tuple[ChainNetwork, ...]:
        """The configured networks that accept this hash, in configuration order, those of
        the hash's own look first: ``0x…`` is an EVM hash, 64 bare hex a Bitcoin txid
        (which an EVM node also accepts, as it ignores a missing ``0x``)."""
        fitting = []
        for name, network in self._networks.items():
            try:
                self.get(name).normalise_tx_hash(tx_hash)
            except InvalidTxHash:
                continue
            fitting.append(network)
        return tuple(sorted(fitting, key=lambda network: not hash_fits_kind(tx_hash, network)))

    async def check_transaction(
        self, tx_hash: str, *, network: str | None = None, address: str | None = None
    ) -> DepositVerdict:
        """Where is my deposit, from a hash alone or with the deposit address.

        ``network`` defaults to the first configured network the hash fits: the one the
        install lists first is its main one. With ``address`` the verdict is
        ``check_deposit``'s; an address that does not fit the network is left out
        rather than refused (it came from the customer's text). A hash on no configured
        network's form raises InvalidTxHash; no networks at all, UnknownNetwork. An
        unreachable node gives the ``unavailable`` verdict, never an exception.
        """
        if network is None:
            fitting = self.networks_for_hash(tx_hash)
            if not fitting:
                if not self._networks:
                    raise UnknownNetwork("no chain network is configured")
                raise InvalidTxHash("this hash fits none of the configured networks")
            network = fitting[0].name
        client = self.get(network)
        if address is not None:
            try:
                client.normalise_address(address)
            except InvalidAddress:
                address = None
        if address is not None:
            return await self.check_deposit(network, tx_hash, address)
        tx_hash = client.normalise_tx_hash(tx_hash)
        try:
            info = await client.lookup_transaction(tx_hash)
        except ChainUnavailable as exc:
            return unavailable_verdict(client.network, tx_hash, exc.message)
        found_on: tuple[ChainNetwork, ...] = ()
        if not info.found:
            found_on = await self.found_elsewhere(tx_hash, besides=network)
        return tx_verdict(info, client.network, found_on=found_on)
