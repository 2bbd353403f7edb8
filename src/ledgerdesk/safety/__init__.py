"""Crypto-native safety: secrets caught before storage, addresses, links and scams flagged.

The detectors are pure functions over text (no database, no network). The one entry
point for callers is :func:`ledgerdesk.safety.scan.scan_text`; this module holds only
the :class:`Finding` every detector returns, so that detectors and callers share one
shape without importing each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

# Kinds whose text is removed from the stored message.
SECRET_KINDS: Final = frozenset(
    {"mnemonic", "private_key", "wif_key", "extended_private_key", "keystore", "api_secret"}
)
# Kinds that are only pointed at; the text stays as the customer wrote it.
NOTICE_KINDS: Final = frozenset(
    {
        "address",
        "tx_hash",
        "phishing_link",
        "denied_address",
        "scam_script",
        "wrong_network",
    }
)


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing found in a message; ``start``/``end`` are offsets in the original text.

    A secret's finding never carries its text (findings go to logs and events);
    an address, hash or link carries it in ``value``.
    """

    kind: str
    start: int
    end: int
    value: str | None = None
    network: tuple[str, ...] = ()
    valid: bool | None = None
    reason: str | None = None
    explorer: str | None = None
    detail: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_secret(self) -> bool:
        return self.kind in SECRET_KINDS

    def overlaps(self, start: int, end: int) -> bool:
        return self.start < end and start < self.end

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict; empty optional fields are left out."""
        out: dict[str, object] = {"kind": self.kind, "start": self.start, "end": self.end}
        if self.value is not None:
            out["value"] = self.value
        if self.network:
            out["network"] = list(self.network)
        if self.valid is not None:
            out["valid"] = self.valid
        if self.reason is not None:
            out["reason"] = self.reason
        if self.explorer is not None:
            out["explorer"] = self.explorer
        if self.detail:
            out["detail"] = dict(self.detail)
        return out
