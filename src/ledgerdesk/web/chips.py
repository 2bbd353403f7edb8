"""Addresses and transaction hashes in a message, shown as chips with their network.

The chips are found again when the page is drawn (the detectors are fast and the
stored text keeps addresses and hashes as written). A transaction hash on an EVM
network the install has configured gets its live status from the chain, loaded by
htmx after the page, so a slow node never slows the conversation down.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Path, Request
from starlette.responses import HTMLResponse

from ledgerdesk.chain.api import chain_clients
from ledgerdesk.chain.interface import ChainUnavailable, TxInfo, TxStatus
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
    return chips


def _status_text(tx: TxInfo) -> tuple[str, str]:
    """(css class, words) for a transaction's chip."""
    if tx.status is TxStatus.PENDING:
        return "pending", i18n.gettext("pending on %(network)s") % {"network": tx.network}
    if tx.status is TxStatus.REVERTED:
        return "failed", i18n.gettext("failed (reverted) on %(network)s") % {"network": tx.network}
    words = i18n.gettext("%(network)s: %(n)d of %(needed)d confirmations") % {
        "network": tx.network,
        "n": tx.confirmations,
        "needed": tx.required_confirmations,
    }
    if tx.confirmations >= tx.required_confirmations:
        return "ok", i18n.gettext("succeeded") + " · " + words
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
