"""Agents' routes for chain look-ups: a transaction's status, a deposit verdict, an address.

Agents only (a customer token gets 403). Unknown network: 404; malformed hash or
address: 422; a node that cannot answer: 503 with what went wrong, never a 500.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.applications import Starlette

from ledgerdesk.accounts.principal import Principal
from ledgerdesk.chain.schemas import AddressOut, DepositOut, NetworkOut, TxOut
from ledgerdesk.chain.service import ChainClients
from ledgerdesk.server.deps import Actor
from ledgerdesk.server.state import AppState

router = APIRouter(prefix="/chain", tags=["chain"])

NetworkName = Annotated[str, Path(min_length=1, max_length=40)]
TxHash = Annotated[str, Path(min_length=1, max_length=100)]
AddressText = Annotated[str, Path(min_length=1, max_length=120)]


def chain_clients(app: Starlette) -> ChainClients:
    """The app's clients, made on first use from its settings and kept (they cache)."""
    clients: ChainClients | None = getattr(app.state, "chain_clients", None)
    if clients is None:
        state: AppState = app.state.ledgerdesk
        clients = ChainClients.from_settings(state.settings)
        app.state.chain_clients = clients
    return clients


async def get_chain_clients(request: Request) -> ChainClients:
    return chain_clients(request.app)


Chains = Annotated[ChainClients, Depends(get_chain_clients)]


def _agent_reads(actor: Principal) -> None:
    actor.require_agent()
    actor.require_scope("conversations:read")


@router.get("/networks", response_model=list[NetworkOut])
async def get_networks(actor: Actor, chains: Chains) -> list[NetworkOut]:
    """The configured networks, in configuration order."""
    _agent_reads(actor)
    return [NetworkOut.of(network) for network in chains.networks.values()]


@router.get("/tx/{network}/{tx_hash}", response_model=TxOut)
async def get_transaction(
    network: NetworkName, tx_hash: TxHash, actor: Actor, chains: Chains
) -> TxOut:
    """A transaction's status on one network: found, pending, succeeded or reverted,
    confirmations, value and token transfers."""
    _agent_reads(actor)
    return TxOut.of(await chains.lookup(network, tx_hash))


@router.get("/deposit/{network}/{tx_hash}", response_model=DepositOut)
async def get_deposit_verdict(
    network: NetworkName,
    tx_hash: TxHash,
    actor: Actor,
    chains: Chains,
    address: Annotated[str, Query(min_length=1, max_length=120)],
    token: Annotated[str | None, Query(min_length=1, max_length=60)] = None,
) -> DepositOut:
    """Where is my deposit: credited, confirming, pending, failed, not found (and where
    it is instead), wrong address or wrong asset. ``token`` is a token contract or
    ``native``; without it any asset counts. A node that cannot answer gives the
    ``unavailable`` verdict, not an error."""
    _agent_reads(actor)
    verdict = await chains.check_deposit(network, tx_hash, address, token)
    return DepositOut.of(verdict)


@router.get("/address/{network}/{address}", response_model=AddressOut)
async def get_address(
    network: NetworkName, address: AddressText, actor: Actor, chains: Chains
) -> AddressOut:
    """An address's balance (confirmed) and transaction count."""
    _agent_reads(actor)
    return AddressOut.of(await chains.get(network).address_summary(address))
