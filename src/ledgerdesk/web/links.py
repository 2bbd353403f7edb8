"""Links in message text: official domains become links, every other address stays text.

Crypto support is a favourite target of phishing: a "customer" pastes a look-alike
of the exchange's login page and hopes an agent opens it, or an agent copies it
into a reply. So the console links only addresses on the platform's official
domains (``LEDGERDESK_OFFICIAL_DOMAINS`` and their subdomains); any other address
is shown as plain text with an "unverified link" badge that leads to a warning
page first (``/out``).

The rules, in the order they are applied:

- only ``http``/``https`` addresses (and ``www.`` ones, read as https) are
  recognised; ``javascript:``, ``data:`` and the like are never links;
- the host is decided by parsing, never by reading the text: in
  ``https://exchange.com@evil.io`` the host is ``evil.io``;
- an address with a user name or password, a backslash, invisible or
  direction-changing characters, a percent sign in the host, or letters outside
  ASCII in the host is never official, even when it would resolve to an
  official domain (browsers and Python disagree on such addresses, and people
  misread them);
- a link's ``href`` is rebuilt from the parsed parts, so where it goes is what
  was decided, not what the text says.

Escaping is the first line of defence; the HTML built here is then passed
through nh3 with a strict allowlist as a second one. Pure functions, no I/O.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit, urlunsplit

import nh3
from markupsafe import escape

# Characters that end an address: whitespace, quotes and angle brackets, and the
# CJK and full-width punctuation that Chinese text puts right after a link.
_STOP = (
    r"\s<>\"'`"
    r"\u2018-\u201f\u3000-\u303f"
    r"\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65"
)
URL_PATTERN = re.compile(
    rf"(?<![A-Za-z0-9@.])(?:[Hh][Tt][Tt][Pp][Ss]?://|[Ww][Ww][Ww]\.)[^{_STOP}]+"
)
_TRAILING = ".,;:!?*"
_PAIRS = {")": "(", "]": "[", "}": "{"}
_ASCII_HOST = re.compile(r"[a-z0-9.-]+")

# Warnings the /out page explains (codes; the page words them in the agent's language).
CREDENTIALS = "credentials"
BACKSLASH = "backslash"
INVISIBLE = "invisible"
INTERNATIONAL = "international"
LOOKALIKE = "lookalike"
IP_ADDRESS = "ip_address"
INSECURE = "insecure"

SANITISE_TAGS = {"a", "br", "span"}
SANITISE_ATTRIBUTES = {"a": {"href", "title"}, "span": {"title"}}
SANITISE_CLASSES = {
    "a": {"link-official", "badge", "unverified"},
    "span": {"link-unverified", "badge", "unverified", "invisible-char"},
}


@dataclass(frozen=True)
class LinkPolicy:
    """Which hosts are the platform's own: each official domain and its subdomains."""

    official_domains: tuple[str, ...] = ()

    def is_official_host(self, host: str) -> bool:
        for domain in self.official_domains:
            if host == domain:
                return True
            if not _is_ip(domain) and host.endswith("." + domain):
                return True
        return False


STRICT = LinkPolicy(())


@dataclass(frozen=True)
class Link:
    """One address found in text, as written and as understood."""

    raw: str
    href: str | None  # rebuilt from the parsed parts; None when it cannot be opened at all
    host: str  # lowercase, international names in xn-- form ("" when unparsable)
    unicode_host: str | None  # the international spelling, when it differs from ``host``
    official: bool
    warnings: frozenset[str] = field(default_factory=frozenset)
    lookalike_of: str | None = None


def find_links(text: str) -> list[tuple[int, int]]:
    """Spans of the addresses in ``text``, without trailing punctuation."""
    spans = []
    for match in URL_PATTERN.finditer(text):
        start, end = match.span()
        end = start + len(_trim(text[start:end]))
        if _has_host(text[start:end]):
            spans.append((start, end))
    return spans


def _trim(candidate: str) -> str:
    while candidate:
        last = candidate[-1]
        if last in _TRAILING:
            candidate = candidate[:-1]
        elif last in _PAIRS and candidate.count(last) > candidate.count(_PAIRS[last]):
            candidate = candidate[:-1]  # "(see https://x.io/a)" keeps the link, drops ")"
        else:
            break
    return candidate


def _has_host(candidate: str) -> bool:
    rest = candidate.split("//", 1)[1] if "//" in candidate[:8] else candidate[4:]
    return bool(rest.strip("/"))


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _has_invisible(text: str) -> bool:
    return any(unicodedata.category(char) in ("Cf", "Cc", "Zl", "Zp") for char in text)


def parse_link(raw: str, policy: LinkPolicy) -> Link:
    """Understand one address: where it really goes, and whether that is official."""
    warnings: set[str] = set()
    text = "https://" + raw if raw[:4].lower() == "www." else raw
    if "\\" in raw:
        warnings.add(BACKSLASH)
    if _has_invisible(raw):
        warnings.add(INVISIBLE)
    try:
        parts = urlsplit(text)
        raw_host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return Link(raw, None, "", None, False, frozenset(warnings))
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not raw_host:
        return Link(raw, None, "", None, False, frozenset(warnings))
    if scheme == "http":
        warnings.add(INSECURE)
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        warnings.add(CREDENTIALS)
    host, unicode_host = _normalise_host(raw_host)
    if not host:
        return Link(raw, None, "", None, False, frozenset(warnings))
    written_in_ascii = _ASCII_HOST.fullmatch(raw_host.rstrip(".")) is not None
    if unicode_host is not None or not written_in_ascii or "xn--" in host:
        warnings.add(INTERNATIONAL)
    if _is_ip(host):
        warnings.add(IP_ADDRESS)
    trustworthy = written_in_ascii and not warnings & {CREDENTIALS, BACKSLASH, INVISIBLE}
    official = trustworthy and policy.is_official_host(host)
    lookalike = None if official else _lookalike_of(host, unicode_host, policy)
    if lookalike is not None:
        warnings.add(LOOKALIKE)
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    href = urlunsplit(
        (
            scheme,
            netloc,
            quote(parts.path, safe="/%:@!$&'()*+,;=-._~"),
            quote(parts.query, safe="/%:@!$&'()*+,;=-._~?"),
            quote(parts.fragment, safe="/%:@!$&'()*+,;=-._~?#"),
        )
    )
    if official:
        warnings.discard(INSECURE)  # the platform's own site; nothing to warn about
    return Link(raw, href, host, unicode_host, official, frozenset(warnings), lookalike)


def _normalise_host(raw_host: str) -> tuple[str, str | None]:
    """(``xn--`` form, international spelling when different); ("", None) if invalid."""
    host = raw_host.lower().rstrip(".")
    if _is_ip(host):
        return host, None
    if "%" in host:
        return "", None
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return "", None
    if not _ASCII_HOST.fullmatch(ascii_host):
        return "", None
    try:
        spelled = ascii_host.encode("ascii").decode("idna")
    except UnicodeError:
        spelled = ascii_host
    return ascii_host, (spelled if spelled != ascii_host else None)


def _lookalike_of(host: str, unicode_host: str | None, policy: LinkPolicy) -> str | None:
    """The official domain this host seems to borrow the name of, if any."""
    spellings = [host, unicode_host or ""]
    for domain in policy.official_domains:
        if _is_ip(domain):
            continue
        name = domain.split(".")[0]
        for spelled in spellings:
            if domain in spelled or (len(name) >= 4 and name in spelled):
                return domain
    return None


def visible_text(text: str) -> str:
    """Text with invisible and direction-changing characters spelled out (as U+202E)."""
    return "".join(
        f"[U+{ord(char):04X}]" if unicodedata.category(char) in ("Cf", "Cc") else char
        for char in text
    )


@dataclass(frozen=True)
class Labels:
    """The words around an unverified link, in the agent's language."""

    badge: str = "unverified link"
    title: str = "Not an official domain: opens a warning page first"


def _link_html(raw: str, policy: LinkPolicy, labels: Labels) -> str:
    link = parse_link(raw, policy)
    shown = _shown(raw)
    if link.official and link.href is not None:
        return f'<a class="link-official" href="{escape(link.href)}" target="_blank">{shown}</a>'
    if link.href is None:
        badge = f'<span class="badge unverified">⚠ {escape(labels.badge)}</span>'
    else:
        badge = (
            f'<a class="badge unverified" href="/out?u={escape(quote(raw, safe=""))}" '
            f'title="{escape(labels.title)}" target="_blank">⚠ {escape(labels.badge)}</a>'
        )
    return f'<span class="link-unverified">{shown}</span> {badge}'


def _shown(raw: str) -> str:
    """The address as written, escaped, with hidden characters made visible."""
    pieces = []
    for char in raw:
        if unicodedata.category(char) in ("Cf", "Cc"):
            pieces.append(f'<span class="invisible-char">[U+{ord(char):04X}]</span>')
        else:
            pieces.append(str(escape(char)))
    return "".join(pieces)


def render_line(line: str, policy: LinkPolicy, labels: Labels) -> str:
    """One line of message text as HTML: escaped, with its addresses handled."""
    pieces = []
    position = 0
    for start, end in find_links(line):
        pieces.append(str(escape(line[position:start])))
        pieces.append(_link_html(line[start:end], policy, labels))
        position = end
    pieces.append(str(escape(line[position:])))
    return "".join(pieces)


def render_text(text: str, policy: LinkPolicy, labels: Labels) -> str:
    """Message text as safe HTML: escaped, line breaks kept, addresses handled, sanitised."""
    html = "<br>".join(render_line(line, policy, labels) for line in text.splitlines() or [""])
    return sanitise(html)


def sanitise(html: str) -> str:
    """The second line of defence: only the few tags and attributes built above survive."""
    return nh3.clean(
        html,
        tags=SANITISE_TAGS,
        attributes=SANITISE_ATTRIBUTES,
        allowed_classes=SANITISE_CLASSES,
        tag_attribute_values={"a": {"target": {"_blank"}}},
        url_schemes={"http", "https"},
        link_rel="noopener noreferrer",
        strip_comments=True,
    )
