"""Addresses and transaction hashes in a message, shown as chips with their network.

The chips are found again when the page is drawn (the detectors are fast and the
stored text keeps addresses and hashes as written). A transaction hash on an EVM
network the install has configured gets its live status from the chain, loaded by
htmx after the page, so a slow node never slows the conversation down.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import HTMLResponse

from ledgerdesk.chain.api import chain_clients
from ledgerdesk.chain.deposit_text import agent_line, customer_sentence, text_language
from ledgerdesk.chain.interface import ChainUnavailable, TxInfo, TxStatus, UnknownNetwork
from ledgerdesk.conversations.queries import access_conversation
from ledgerdesk.errors import LedgerdeskError
from ledgerdesk.safety.addresses import find_addresses, wrong_network_hints
from ledgerdesk.web import i18n
from ledgerdesk.web.deps import User
from ledgerdesk.web.rendering import render

router = APIRouter(include_in_schema=False)

MAX_CHIPS = 12  # a pasted CSV of addresses does not need a hundred chips


@dataclass(frozen=True)
class Chip:
    kind: str  # address or tx_hash
    value: str
    networks: tuple[str, ...]
    valid: bool
    explorer: str | None
    wrong_network: str | None = None  # the hint's reason, when the text names another network
    # On a transaction hash: the deposit address the same message quotes, when it quotes
    # exactly one valid address of the hash's family (an 0x address for an 0x hash).
    deposit_address: str | None = None

    @property
    def short(self) -> str:
        return self.value if len(self.value) <= 20 else f"{self.value[:10]}…{self.value[-6:]}"

    @property
    def evm_tx(self) -> bool:
        return self.kind == "tx_hash" and self.value.lower().startswith("0x")


def message_chips(text: str | None) -> list[Chip]:
    if not text:
        return []
    found = find_addresses(text)
    hints = {(h.start, h.end): h.reason for h in wrong_network_hints(text, found)}
    chips = []
    for finding in found[:MAX_CHIPS]:
        if finding.value is None:
            continue
        chips.append(
            Chip(
                kind=finding.kind,
                value=finding.value,
                networks=finding.network,
                valid=finding.valid is not False,
                explorer=finding.explorer,
                wrong_network=hints.get((finding.start, finding.end)),
            )
        )
    return [_with_deposit_address(chip, chips) for chip in chips]


def _with_deposit_address(chip: Chip, chips: list[Chip]) -> Chip:
    if chip.kind != "tx_hash":
        return chip
    evm = chip.evm_tx
    addresses = {
        other.value
        for other in chips
        if other.kind == "address"
        and other.valid
        and (other.value.lower().startswith("0x") if evm else "bitcoin" in other.networks)
    }
    if len(addresses) != 1:
        return chip
    return replace(chip, deposit_address=addresses.pop())


def _status_text(tx: TxInfo) -> tuple[str, str]:
    """(css class, words) for a transaction's chip."""
    if tx.status is TxStatus.PENDING:
        return "pending", i18n.gettext("pending on %(network)s") % {"network": tx.network}
    if tx.status is TxStatus.REVERTED:
        return "failed", i18n.gettext("failed (reverted) on %(network)s") % {"network": tx.network}
    if tx.confirmations >= tx.required_confirmations:
        # Past the requirement the count only grows: "22 of 12" reads like an error.
        words = i18n.gettext("%(network)s: %(needed)d+ confirmations") % {
            "network": tx.network,
            "needed": tx.required_confirmations,
        }
        return "ok", i18n.gettext("succeeded") + " · " + words
    words = i18n.gettext("%(network)s: %(n)d of %(needed)d confirmations") % {
        "network": tx.network,
        "n": tx.confirmations,
        "needed": tx.required_confirmations,
    }
    return "pending", i18n.gettext("confirming") + " · " + words


@router.get("/chain/tx-chip/{tx_hash}")
async def tx_chip(
    request: Request,
    tx_hash: Annotated[str, Path(min_length=3, max_length=100)],
    user: User,
) -> HTMLResponse:
    """The status of a hash on the configured EVM networks: the first that knows it."""
    clients = chain_clients(request.app)
    evm = [name for name, network in clients.networks.items() if network.kind == "evm"]
    css, words = "unknown", i18n.gettext("not found on the configured networks")
    if not evm:
        css, words = "unconfigured", i18n.gettext("network not configured")
    explorer: str | None = None
    for name in evm:
        try:
            tx = await clients.lookup(name, tx_hash)
        except ChainUnavailable:
            css, words = "unknown", i18n.gettext("%(network)s is not answering") % {"network": name}
            continue
        except LedgerdeskError:
            break  # not a hash of this form: no network will know it
        if tx.found:
            css, words = _status_text(tx)
            explorer = tx.explorer_url
            break
    return render(
        request,
        "fragments/tx_chip.html",
        {"css": css, "words": words, "explorer": explorer, "user": user},
    )


@router.get("/chain/deposit-check/{tx_hash}")
async def deposit_check(
    request: Request,
    tx_hash: Annotated[str, Path(min_length=3, max_length=100)],
    user: User,
    conversation_id: Annotated[int, Query(ge=1, le=2**62)],
    address: Annotated[str | None, Query(min_length=1, max_length=120)] = None,
    network: Annotated[str | None, Query(min_length=1, max_length=40)] = None,
) -> HTMLResponse:
    """The "Check deposit" panel of a hash chip: the verdict in the agent's language and
    the sentence for the customer in the conversation's language, ready to insert."""
    db = request.app.state.ledgerdesk.db
    async with db.sessionmaker() as session:
        conversation = await access_conversation(session, user.principal, conversation_id)
    clients = chain_clients(request.app)
    context: dict[str, Any] = {
        "user": user,
        "conversation": conversation,
        "tx_hash": tx_hash,
        "address": address,
        "verdict": None,
        "problem": None,
        "other_networks": [],
        "can_write": user.agent.can_reply and conversation.status != "closed",
        "key": hashlib.sha256(f"{tx_hash}|{address}|{network}".encode()).hexdigest()[:12],
    }
    if not clients.networks:
        context["problem"] = i18n.gettext("network not configured")
        return render(request, "fragments/deposit_check.html", context)
    try:
        verdict = await clients.check_transaction(tx_hash, network=network, address=address)
    except UnknownNetwork:
        context["problem"] = i18n.gettext("network not configured")
    except LedgerdeskError as exc:
        context["problem"] = i18n.gettext("This hash cannot be checked: %(reason)s") % {
            "reason": exc.message
        }
    else:
        language = i18n.current_language()
        context["verdict"] = verdict
        context["agent_line"] = agent_line(verdict, language)
        context["customer_language"] = text_language(conversation.language)
        context["sentence"] = customer_sentence(verdict, conversation.language)
        context["other_networks"] = [
            other for other in clients.networks_for_hash(tx_hash) if other.name != verdict.network
        ]
    return render(request, "fragments/deposit_check.html", context)
