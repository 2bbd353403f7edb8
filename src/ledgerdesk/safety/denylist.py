"""The scam denylist's normal forms and its per-process cache. Pure apart from the clock.

Addresses are kept as the chain spells them, except where case carries no meaning:
EVM hex addresses (EIP-55 case is only a checksum) and bech32 addresses are stored
in lower case, so ``0xAbC...`` and ``0xabc...`` are one entry. Base58 addresses
(Bitcoin legacy, Tron, Solana, XRP) are case-sensitive and kept as written. The
scanner normalises what it finds with :func:`normalise_address` before comparing.
"""

from __future__ import annotations

import re
import time
from collections.abc import Hashable
from dataclasses import dataclass

from ledgerdesk.events.bus import Event
from ledgerdesk.safety.models import DenylistKind
from ledgerdesk.settings import normalise_domain

SAFETY_TOPIC = "safety"
DENYLIST_CHANGED = Event("safety.denylist_changed", (SAFETY_TOPIC,))
OFFICIAL_CHANNELS_CHANGED = Event("safety.official_channels_changed", (SAFETY_TOPIC,))

_EVM = re.compile(r"0x[0-9a-fA-F]{40}")
_BECH32 = re.compile(r"[a-zA-Z]{1,20}1[02-9ac-hj-np-zAC-HJ-NP-Z]{6,100}")
_ADDRESS = re.compile(r"[A-Za-z0-9:]{20,128}")


def normalise_address(raw: str) -> str:
    """One spelling per address; ValueError says what is wrong with it."""
    value = raw.strip()
    if not _ADDRESS.fullmatch(value):
        raise ValueError(
            "an address is 20 to 128 letters and digits, without spaces (paste it as the "
            "wallet shows it)"
        )
    if _EVM.fullmatch(value):
        return value.lower()
    if _BECH32.fullmatch(value) and (value == value.lower() or value == value.upper()):
        return value.lower()
    return value


def normalise_denylist_value(kind: str, raw: str) -> str:
    if kind == DenylistKind.ADDRESS:
        return normalise_address(raw)
    if kind == DenylistKind.DOMAIN:
        text = raw.strip()
        text = re.sub(r"^[a-z][a-z0-9+.-]*://", "", text, flags=re.I).split("/")[0]
        domain = normalise_domain(text.split("@")[-1].split(":")[0])
        if not domain or "." not in domain:
            raise ValueError(f"{raw.strip()!r} is not a domain name (write scam.example)")
        return domain
    raise ValueError(f"kind must be one of: {', '.join(DenylistKind)}")


@dataclass(frozen=True, slots=True)
class Denylist:
    domains: list[str]
    addresses: list[str]


class DenylistCache:
    """The denylist per database, for ``ttl`` seconds or until ``safety.denylist_changed``.

    A process that misses the event (no Redis bus) serves a stale list for at most
    ``ttl`` seconds, as the token cache does.
    """

    def __init__(self, ttl: float = 30.0) -> None:
        self.ttl = ttl
        self._entries: dict[Hashable, tuple[float, Denylist]] = {}

    def get(self, key: Hashable) -> Denylist | None:
        found = self._entries.get(key)
        if found is None or found[0] + self.ttl <= time.monotonic():
            return None
        return found[1]

    def put(self, key: Hashable, denylist: Denylist) -> None:
        if len(self._entries) > 100:  # one per database; more means tests, keep it bounded
            self._entries.clear()
        self._entries[key] = (time.monotonic(), denylist)  # when it was read

    def clear(self) -> None:
        self._entries.clear()


denylist_cache = DenylistCache()
