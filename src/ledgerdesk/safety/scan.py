"""One call that runs every detector: :func:`scan_text`.

Call it on every inbound text before it is stored, logged, published or shown::

    result = scan_text(body, official_domains=["harbor.exchange"], locale="zh-Hans")
    store(result.redacted)              # secrets replaced by "[助记词已删除]" etc.
    if result.has_secret: ...           # warn the customer, flag, raise to urgent
    flags = [f.to_dict() for f in result.findings]   # never holds a secret's text

Secrets are replaced in ``redacted`` by a label; addresses, hashes, links and scam
scripts are only reported, at their offsets in the *original* text.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

from ledgerdesk.safety import SECRET_KINDS, Finding
from ledgerdesk.safety.addresses import find_addresses, wrong_network_hints
from ledgerdesk.safety.keys import find_private_keys
from ledgerdesk.safety.links import find_links
from ledgerdesk.safety.mnemonic import find_mnemonics
from ledgerdesk.safety.scam import find_denied_addresses, find_scam_scripts

LABELS: Final[dict[str, dict[str, str]]] = {
    "en": {
        "mnemonic": "[seed phrase removed]",
        "private_key": "[private key removed]",
        "wif_key": "[private key removed]",
        "extended_private_key": "[extended private key removed]",
        "keystore": "[keystore file removed]",
        "api_secret": "[API secret removed]",
    },
    "zh": {
        "mnemonic": "[助记词已删除]",
        "private_key": "[私钥已删除]",
        "wif_key": "[私钥已删除]",
        "extended_private_key": "[扩展私钥已删除]",
        "keystore": "[Keystore 文件已删除]",
        "api_secret": "[API 密钥已删除]",
    },
}
# When two detectors claim overlapping text, the stored label names the first of these.
_PRIORITY: Final = (
    "keystore",
    "extended_private_key",
    "mnemonic",
    "wif_key",
    "private_key",
    "api_secret",
)


def redaction_label(kind: str, locale: str = "en") -> str:
    """The text that replaces a secret of ``kind``: ``en`` or any ``zh*`` locale."""
    language = "zh" if locale.lower().startswith("zh") else "en"
    return LABELS[language][kind]


@dataclass(frozen=True, slots=True)
class ScanResult:
    redacted: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def has_secret(self) -> bool:
        return any(f.is_secret for f in self.findings)

    @property
    def secret_kinds(self) -> list[str]:
        """The kinds of secret removed, without repeats, in ``_PRIORITY`` order."""
        kinds = {f.kind for f in self.findings if f.is_secret}
        return [k for k in _PRIORITY if k in kinds]

    def of_kind(self, *kinds: str) -> list[Finding]:
        return [f for f in self.findings if f.kind in kinds]

    def to_dict(self) -> dict[str, object]:
        return {"redacted": self.redacted, "findings": [f.to_dict() for f in self.findings]}


def _merge_secrets(secrets: list[Finding]) -> list[Finding]:
    """Non-overlapping secret spans: overlapping ones become one span, the union.

    A redaction must never leave part of a secret behind, so the union is kept, under
    the kind that ranks first in ``_PRIORITY``.
    """
    merged: list[list[Finding]] = []
    for finding in sorted(secrets, key=lambda f: (f.start, -f.end)):
        if merged and finding.start < max(f.end for f in merged[-1]):
            merged[-1].append(finding)
        else:
            merged.append([finding])
    out: list[Finding] = []
    for group in merged:
        lead = min(group, key=lambda f: (_PRIORITY.index(f.kind), f.start - f.end))
        start = min(f.start for f in group)
        end = max(f.end for f in group)
        if (start, end) == (lead.start, lead.end):
            out.append(lead)
        else:
            out.append(
                Finding(
                    lead.kind, start, end, valid=lead.valid, reason=lead.reason, detail=lead.detail
                )
            )
    return out


def redact(text: str, secrets: Sequence[Finding], locale: str = "en") -> str:
    """``text`` with each (non-overlapping, sorted) secret span replaced by its label."""
    pieces: list[str] = []
    position = 0
    for finding in secrets:
        pieces.append(text[position : finding.start])
        pieces.append(redaction_label(finding.kind, locale))
        position = finding.end
    pieces.append(text[position:])
    return "".join(pieces)


def scan_text(
    text: str,
    *,
    official_domains: Sequence[str] = (),
    denied_domains: Sequence[str] = (),
    denied_addresses: Iterable[str] = (),
    locale: str = "en",
) -> ScanResult:
    """Find secrets, addresses, hashes, phishing links and scam scripts in ``text``.

    ``official_domains``: the platform's domains (subdomains included) that links are
    compared with; ``denied_domains``/``denied_addresses``: the admins' denylists
    (a frozenset from :func:`ledgerdesk.safety.scam.denied_address_set` saves
    normalising a long list on every call); ``locale`` picks the redaction labels.
    """
    chain = find_addresses(text)
    address_values = [f.value for f in chain if f.kind == "address" and f.value]
    secrets = _merge_secrets(find_private_keys(text, address_values) + find_mnemonics(text))
    if secrets:
        chain = [f for f in chain if not any(s.overlaps(f.start, f.end) for s in secrets)]
    findings: list[Finding] = [*secrets, *chain]
    findings.extend(wrong_network_hints(text, chain))
    findings.extend(find_links(text, official_domains, denied_domains))
    findings.extend(find_scam_scripts(text))
    denied = find_denied_addresses(text, denied_addresses)
    findings.extend(d for d in denied if not any(s.overlaps(d.start, d.end) for s in secrets))
    findings.sort(key=lambda f: (f.start, f.kind not in SECRET_KINDS, f.kind))
    redacted = redact(text, secrets, locale) if secrets else text
    return ScanResult(redacted=redacted, findings=findings)
