"""Links in a message compared with the platform's official domains.

A host that is an official domain or one of its subdomains is fine. Everything else
is compared with each official domain's *registrable label* (``harbor`` in
``support.harbor.exchange``; the public suffix comes from the Public Suffix List):

- ``punycode`` / ``homoglyph``: after decoding ``xn--`` labels (idna) and mapping
  confusable characters to their Latin look-alike (Unicode's confusables table, via
  confusable-homoglyphs), the host reads as an official one;
- ``mixed_script``: a label mixes scripts (Latin with Cyrillic...), official or not;
- ``typo``: the registrable label is one or two edits from an official label;
- ``official_as_subdomain`` / ``brand_in_domain``: the official domain or name is part
  of someone else's domain (``harbor.exchange.support-help.com``,
  ``harbor-exchange.support-help.com``, ``harbor.com`` for ``harbor.exchange``);
- ``userinfo_trick``: ``https://harbor.exchange@evil.example/``;
- ``denied_domain``: on the admins' denylist (with its subdomains).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

import idna
from confusable_homoglyphs import confusables
from publicsuffixlist import PublicSuffixList

from ledgerdesk.safety import Finding

_PSL: Final = PublicSuffixList(accept_unknown=False)

# Domain labels: ASCII, Latin with accents, Greek, Cyrillic and fullwidth forms, the
# scripts look-alike domains are made of. Han characters end a domain, so that
# "请访问harbor.exchange" finds harbor.exchange.
_LABEL_CHARS = r"a-zA-Z0-9\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff\uff10-\uff5a"
_LABEL = rf"[{_LABEL_CHARS}](?:[{_LABEL_CHARS}-]{{0,61}}[{_LABEL_CHARS}])?"
_URL_RE: Final = re.compile(r"\b(?:https?|hxxps?)://[^\s<>\"'`）)\]】」，。、]+", re.IGNORECASE)
_DOMAIN_RE: Final = re.compile(
    rf"(?<![{_LABEL_CHARS}.\-/])(?:{_LABEL}\.)+(?:xn--[a-zA-Z0-9-]{{2,59}}|[a-zA-Z]{{2,63}})"
    rf"(?![{_LABEL_CHARS}\-]|\.[{_LABEL_CHARS}])"
)


@dataclass(frozen=True, slots=True)
class _Official:
    domain: str  # ASCII (punycode) form, lower case
    label: str  # registrable label: "harbor" for harbor.exchange


def _to_ascii(host: str) -> str:
    """The punycode form of a host, label by label (no IDNA rules: look-alikes break them)."""
    if host.isascii():
        return host
    labels = []
    for label in host.split("."):
        if label.isascii():
            labels.append(label)
        else:
            labels.append("xn--" + label.encode("punycode").decode("ascii"))
    return ".".join(labels)


def _to_unicode(host: str) -> str:
    labels = []
    for label in host.split("."):
        if label.startswith("xn--"):
            try:
                labels.append(idna.decode(label))
            except (idna.IDNAError, UnicodeError):
                try:
                    labels.append(label[4:].encode("ascii").decode("punycode"))
                except UnicodeError:
                    labels.append(label)
        else:
            labels.append(label)
    return ".".join(labels)


@lru_cache(maxsize=4096)
def _latin(char: str) -> str:
    """The Latin letter or digit ``char`` is confusable with, or ``char`` itself."""
    for hit in confusables.is_confusable(char, preferred_aliases=[], greedy=True) or ():
        for glyph in hit["homoglyphs"]:
            candidate = str(glyph["c"]).lower()
            if candidate.isascii() and candidate.isalnum():
                return candidate
    return char


def skeleton(host: str) -> str:
    """``host`` with look-alike characters replaced by the Latin ones they imitate."""
    host = unicodedata.normalize("NFKC", host).lower()
    if host.isascii():
        return host
    return "".join(c if c.isascii() else _latin(c) for c in host)


def _registrable(host_ascii: str) -> tuple[str, str] | None:
    """(registrable domain, its label) of an ASCII host, or None for an unknown suffix."""
    private = _PSL.privatesuffix(host_ascii)
    if private is None:
        return None
    return private, private.split(".", 1)[0]


def _edit_distance(a: str, b: str, limit: int = 2) -> int:
    """Optimal-string-alignment distance (a swap of neighbours is one edit), capped."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


def _is_under(host: str, domain: str) -> bool:
    return host == domain or host.endswith("." + domain)


@lru_cache(maxsize=64)
def _officials(domains: tuple[str, ...]) -> tuple[_Official, ...]:
    out = []
    for domain in domains:
        ascii_domain = _to_ascii(domain.strip().lower().rstrip("."))
        registrable = _registrable(ascii_domain)
        label = registrable[1] if registrable else ascii_domain.split(".", 1)[0]
        out.append(_Official(ascii_domain, label))
    return tuple(out)


def _is_mixed_script(label: str) -> bool:
    letters = "".join(c for c in label if c.isalpha())
    return bool(letters) and not letters.isascii() and bool(confusables.is_mixed_script(letters))


def check_host(
    host: str, officials: Sequence[_Official], denied: Sequence[str]
) -> tuple[str, str | None] | None:
    """(reason, official domain it imitates) for a suspicious host, or None."""
    host = host.lower().rstrip(".")
    ascii_host = _to_ascii(unicodedata.normalize("NFKC", host))
    for domain in denied:
        if _is_under(ascii_host, _to_ascii(domain.strip().lower().rstrip("."))):
            return "denied_domain", None
    if any(_is_under(ascii_host, o.domain) for o in officials):
        return None
    unicode_host = _to_unicode(ascii_host)
    punycode = "xn--" in host  # as written, not after our own encoding
    look = skeleton(unicode_host)
    look_registrable = _registrable(_to_ascii(look)) if look.isascii() else None
    for official in officials:
        changed = look != unicode_host.lower() or not unicode_host.isascii()
        if changed and (
            _is_under(look, official.domain)
            or (look_registrable is not None and look_registrable[1] == official.label)
        ):
            return ("punycode" if punycode else "homoglyph"), official.domain
    if any(_is_mixed_script(label) for label in unicode_host.split(".")):
        return "mixed_script", None
    registrable = _registrable(ascii_host)
    if registrable is None:
        return None
    domain, label = registrable
    subdomains = ascii_host[: -len(domain)]
    for official in officials:
        if official.domain in subdomains or ("." + official.domain + "." in "." + subdomains):
            return "official_as_subdomain", official.domain
    for official in officials:
        if label == official.label:
            return "brand_in_domain", official.domain  # same name, another suffix
    for official in officials:
        limit = 2 if len(official.label) >= 6 else 1 if len(official.label) >= 4 else 0
        if limit and 0 < _edit_distance(label, official.label, limit) <= limit:
            return "typo", official.domain
    parts = re.split(r"[.-]", ascii_host)
    for official in officials:
        if len(official.label) >= 3 and official.label in parts:
            return "brand_in_domain", official.domain
        if len(official.label) >= 5 and official.label in ascii_host.replace(".", ""):
            return "brand_in_domain", official.domain
    return None


def check_domain(
    host: str, official_domains: Sequence[str] = (), denied_domains: Sequence[str] = ()
) -> tuple[str, str | None] | None:
    """(reason, official domain it imitates or None) for a suspicious host; None if fine.

    The same verdict :func:`find_links` gives a link, for one host (a verify page).
    """
    return check_host(host, _officials(tuple(official_domains)), denied_domains)


def _host_of_url(url: str) -> tuple[str, str | None]:
    """(host, userinfo) of a URL."""
    rest = url.split("://", 1)[1]
    authority = re.split(r"[/?#\\]", rest, maxsplit=1)[0]
    userinfo = None
    if "@" in authority:
        userinfo, authority = authority.rsplit("@", 1)
    host = authority.rsplit(":", 1)[0] if authority.count(":") == 1 else authority
    return host.strip("[]"), userinfo


def find_links(
    text: str, official_domains: Sequence[str] = (), denied_domains: Sequence[str] = ()
) -> list[Finding]:
    """``phishing_link`` findings for look-alike, mixed-script and denied links in ``text``."""
    if "." not in text:
        return []
    officials = _officials(tuple(official_domains))
    if not officials and not denied_domains and text.isascii():
        return []  # nothing to compare with; mixed scripts need non-ASCII text
    found: list[Finding] = []
    taken: list[tuple[int, int]] = []
    for match in _URL_RE.finditer(text):
        url = match.group().rstrip(".,;:!?")
        host, userinfo = _host_of_url(url)
        end = match.start() + len(url)
        taken.append((match.start(), end))
        if userinfo and any(o.domain in _to_ascii(userinfo.lower()) for o in officials):
            found.append(_finding(match.start(), end, url, host, "userinfo_trick", None))
            continue
        verdict = check_host(host, officials, denied_domains)
        if verdict is not None:
            found.append(_finding(match.start(), end, url, host, *verdict))
    for match in _DOMAIN_RE.finditer(text):
        if any(a <= match.start() < b for a, b in taken):
            continue
        host = match.group()
        if _registrable(_to_ascii(unicodedata.normalize("NFKC", host).lower())) is None:
            continue  # "file.txt", "e.g": not a known public suffix
        verdict = check_host(host, officials, denied_domains)
        if verdict is not None:
            found.append(_finding(match.start(), match.end(), host, host, *verdict))
    return found


def _finding(
    start: int, end: int, value: str, host: str, reason: str, official: str | None
) -> Finding:
    detail = {"host": _to_unicode(_to_ascii(host.lower()))}
    if official is not None:
        detail["looks_like"] = official
    return Finding("phishing_link", start, end, value=value, reason=reason, detail=detail)
