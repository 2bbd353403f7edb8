"""Is this channel ours? Normalising what admins register and what customers ask about.

Pure: no database. Admins register official channels in one normal form per kind
(:func:`normalise_channel`); a customer's question, written however they found
it ("@HarborSupport", "t.me/harborsupport", "https://support.harbor.example/x",
"+44 20 7946 0000"), becomes a :class:`Question` with the values to look up
(:func:`parse_question`), and :func:`find_match` compares them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from ledgerdesk.safety.models import ChannelKind
from ledgerdesk.settings import normalise_domain

MAX_QUERY = 300
TELEGRAM_HOSTS = frozenset({"t.me", "telegram.me", "telegram.dog", "www.t.me"})
X_HOSTS = frozenset({"x.com", "www.x.com", "twitter.com", "www.twitter.com", "mobile.twitter.com"})
DISCORD_INVITE_HOSTS = frozenset({"discord.gg", "www.discord.gg"})
DISCORD_HOSTS = frozenset({"discord.com", "www.discord.com", "discordapp.com"})
HANDLE_KINDS = (ChannelKind.TELEGRAM, ChannelKind.X, ChannelKind.DISCORD)

_TELEGRAM = re.compile(r"\+?[a-z0-9_]{2,64}")
_X = re.compile(r"[a-z0-9_]{1,15}")
_DISCORD_USER = re.compile(r"[a-z0-9_.]{2,32}")
_DISCORD_INVITE = re.compile(r"[A-Za-z0-9-]{2,40}")
_EMAIL_LOCAL = re.compile(r"[a-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}")
_PHONE = re.compile(r"(?:\+|00)?[\d\s().\-/]{7,30}")
_HANDLE = re.compile(r"@?[A-Za-z0-9_.]{1,64}")


class NotUnderstood(ValueError):
    """The text is not a channel we can check; the message says what to write instead."""


@dataclass(frozen=True, slots=True)
class Channel:
    """An official channel as matching sees it (a row, or a domain from the settings)."""

    kind: str
    value: str
    note: str = ""
    source: str = "registered"  # or "settings": LEDGERDESK_OFFICIAL_DOMAINS


@dataclass(frozen=True, slots=True)
class Question:
    """What the customer asked about: its kind and the (kind, value) pairs to look up."""

    kind: str  # a ChannelKind, or "handle" when "@name" could be on any platform
    value: str
    lookups: tuple[tuple[str, str], ...]
    host: str | None = None  # for domains, websites and email addresses
    path: str = ""


def _clean(raw: str) -> str:
    text = unicodedata.normalize("NFKC", raw).strip().strip("<>\"'`“”‘’ ")
    if "\x00" in text:
        raise NotUnderstood("the text must not contain NUL characters")
    return text


def _host_of(text: str) -> str:
    try:
        host = normalise_domain(text)
    except ValueError:
        host = ""
    if not host:
        raise NotUnderstood(f"{text!r} is not a domain name")
    return host


def _split_url(text: str) -> tuple[str, str]:
    """(normalised host, path without trailing slash) of a URL or a bare host/path."""
    # Browsers read a backslash as "/" in web addresses, so "https://evil.example<backslash>
    # @ours.example" opens evil.example: it must not be read as a login to ours.example.
    text = text.replace("\\", "/")
    url = text if re.match(r"^[a-z][a-z0-9+.-]*://", text, re.I) else "https://" + text
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
    except ValueError:
        raise NotUnderstood(f"{text!r} is not a web address") from None
    if not hostname:
        raise NotUnderstood(f"{text!r} is not a web address")
    return _host_of(hostname), parts.path.rstrip("/")


def _first_segment(path: str) -> str:
    return path.strip("/").split("/")[0] if path.strip("/") else ""


def _telegram(handle: str) -> str:
    value = handle.lstrip("@").lower()
    if not _TELEGRAM.fullmatch(value):
        raise NotUnderstood("a Telegram username has 5 to 32 letters, digits or underscores")
    return value


def _x(handle: str) -> str:
    value = handle.lstrip("@").lower()
    if not _X.fullmatch(value):
        raise NotUnderstood("an X handle has at most 15 letters, digits or underscores")
    return value


def _discord(handle: str) -> str:
    value = handle.lstrip("@")
    if value.lower().startswith(("discord.gg/", "https://", "http://", "discord.com/")):
        host, path = _split_url(value)
        return _discord_from_url(host, path)
    value = value.lower()
    if not _DISCORD_USER.fullmatch(value):
        raise NotUnderstood("a Discord username has 2 to 32 letters, digits, dots or underscores")
    return value


def _discord_from_url(host: str, path: str) -> str:
    """Invites are kept as ``discord.gg/<code>``: their codes are case-sensitive."""
    segments = [part for part in path.split("/") if part]
    if host in DISCORD_INVITE_HOSTS and segments:
        code = segments[0]
    elif host in DISCORD_HOSTS and len(segments) >= 2 and segments[0] == "invite":
        code = segments[1]
    else:
        raise NotUnderstood("write a Discord invite as discord.gg/<code>")
    if not _DISCORD_INVITE.fullmatch(code):
        raise NotUnderstood("write a Discord invite as discord.gg/<code>")
    return f"discord.gg/{code}"


def _email(text: str) -> str:
    value = text[7:] if text.lower().startswith("mailto:") else text
    value = value.split("?")[0]
    local, at, domain = value.rpartition("@")
    local = local.lower()
    if not at or not _EMAIL_LOCAL.fullmatch(local) or ".." in local or "." not in domain:
        raise NotUnderstood(f"{text!r} is not an email address")
    return f"{local}@{_host_of(domain)}"


def _phone_digits(text: str) -> tuple[bool, str]:
    """(written in international form, digits)."""
    compact = re.sub(r"[\s().\-/]", "", text)
    international = compact.startswith(("+", "00"))
    digits = compact.lstrip("+")
    if digits.startswith("00"):
        digits = digits[2:]
    if not digits.isdigit() or not 7 <= len(digits) <= 15:
        raise NotUnderstood("a phone number has 7 to 15 digits")
    return international, digits


def _phone(text: str) -> str:
    international, digits = _phone_digits(text)
    if not international:
        raise NotUnderstood("write the number in international form: + and the country code")
    return "+" + digits


def _website(text: str) -> str:
    host, path = _split_url(text)
    return f"{host}{path.lower()}"


def normalise_channel(kind: str, raw: str) -> str:
    """The one stored form of an official channel (or NotUnderstood saying what is wrong)."""
    text = _clean(raw)
    if not text:
        raise NotUnderstood("the value must not be empty")
    if len(text) > MAX_QUERY:
        raise NotUnderstood(f"the value is longer than {MAX_QUERY} characters")
    if kind == ChannelKind.DOMAIN:
        host, _path = _split_url(text)
        return host
    if kind == ChannelKind.EMAIL:
        return _email(text)
    if kind == ChannelKind.PHONE:
        return _phone(text)
    if kind == ChannelKind.WEBSITE:
        return _website(text)
    if kind in (ChannelKind.TELEGRAM, ChannelKind.X) and "/" in text:
        host, path = _split_url(text)
        if kind == ChannelKind.TELEGRAM and host in TELEGRAM_HOSTS:
            return _telegram(_first_segment(path))
        if kind == ChannelKind.X and host in X_HOSTS:
            return _x(_first_segment(path))
        raise NotUnderstood(f"{text!r} is not a {kind} address")
    if kind == ChannelKind.TELEGRAM:
        return _telegram(text)
    if kind == ChannelKind.X:
        return _x(text)
    if kind == ChannelKind.DISCORD:
        return _discord(text)
    raise NotUnderstood(f"kind must be one of: {', '.join(ChannelKind)}")


def _url_question(text: str) -> Question:
    host, path = _split_url(text)
    segment = _first_segment(path)
    if host in TELEGRAM_HOSTS and segment:
        segments = path.strip("/").split("/")
        handle = _telegram(segments[1] if segments[0] == "s" and len(segments) > 1 else segment)
        return Question(ChannelKind.TELEGRAM, handle, ((ChannelKind.TELEGRAM, handle),))
    if host in X_HOSTS and segment:
        handle = _x(segment)
        return Question(ChannelKind.X, handle, ((ChannelKind.X, handle),))
    if (host in DISCORD_INVITE_HOSTS or host in DISCORD_HOSTS) and segment:
        invite = _discord_from_url(host, path)
        return Question(ChannelKind.DISCORD, invite, ((ChannelKind.DISCORD, invite),))
    kind = ChannelKind.WEBSITE if path else ChannelKind.DOMAIN
    value = f"{host}{path.lower()}" if kind == ChannelKind.WEBSITE else host
    return Question(kind, value, (), host=host, path=path.lower())


def parse_question(raw: str) -> Question:
    """Understand what a customer pasted; NotUnderstood says what we can check instead."""
    text = _clean(raw)
    if not text:
        raise NotUnderstood("enter a website, email address, phone number or @handle")
    if len(text) > MAX_QUERY:
        raise NotUnderstood(f"the text is longer than {MAX_QUERY} characters")
    if text.lower().startswith("tg://"):
        domain = parse_qs(urlsplit(text).query).get("domain", [""])[0]
        handle = _telegram(domain)
        return Question(ChannelKind.TELEGRAM, handle, ((ChannelKind.TELEGRAM, handle),))
    lowered = text.lower()
    before_slash = text.split("/")[0]
    if lowered.startswith("mailto:") or (
        "@" in before_slash and not text.startswith("@") and "://" not in text
    ):
        email = _email(text)
        domain = email.rpartition("@")[2]
        return Question(ChannelKind.EMAIL, email, ((ChannelKind.EMAIL, email),), host=domain)
    if _PHONE.fullmatch(text) and sum(c.isdigit() for c in text) >= 7:
        international, digits = _phone_digits(text)
        value = "+" + digits
        lookups = ((ChannelKind.PHONE, value),)
        return Question(ChannelKind.PHONE, value if international else digits, lookups)
    if text.startswith("@") or ("." not in text and "/" not in text):
        if not _HANDLE.fullmatch(text):
            raise NotUnderstood("enter a website, email address, phone number or @handle")
        handle = text.lstrip("@").lower()
        return Question("handle", handle, tuple((kind, handle) for kind in HANDLE_KINDS))
    if " " in text:
        raise NotUnderstood("enter one website, email address, phone number or @handle")
    return _url_question(text)


def _under(host: str, domain: str) -> bool:
    return host == domain or host.endswith("." + domain)


def _under_path(value: str, prefix: str) -> bool:
    return value == prefix or value.startswith(prefix.rstrip("/") + "/")


def find_match(question: Question, channels: Iterable[Channel]) -> Channel | None:
    """The official channel that vouches for the question, if any.

    Handles and phones match exactly; a host matches a registered domain or any of
    its subdomains, and a website entry (a page on a shared host) by path prefix. An
    email address on an official domain counts: only its owner receives mail there.
    """
    wanted = set(question.lookups)
    candidates = list(channels)
    for channel in candidates:
        if (channel.kind, channel.value) in wanted:
            return channel
    if question.host is None:
        return None
    page = f"{question.host}{question.path}"
    for channel in candidates:
        if channel.kind == ChannelKind.DOMAIN and _under(question.host, channel.value):
            return channel
        if (
            question.kind != ChannelKind.EMAIL
            and channel.kind == ChannelKind.WEBSITE
            and _under_path(page, channel.value)
        ):
            return channel
    return None


KIND_NAMES = {
    "en": {
        "domain": "website",
        "website": "web page",
        "email": "email address",
        "telegram": "Telegram account",
        "x": "X (Twitter) account",
        "discord": "Discord server or account",
        "phone": "phone number",
        "handle": "account",
    },
    "zh-Hans": {
        "domain": "网站",
        "website": "网页",
        "email": "邮箱地址",
        "telegram": "Telegram 账号",
        "x": "X（Twitter）账号",
        "discord": "Discord 服务器或账号",
        "phone": "电话号码",
        "handle": "账号",
    },
}


def channel_advice(
    kind: str, official: bool, lookalike_of: str | None = None, known_scam: bool = False
) -> dict[str, str]:
    """What to tell the person who asked, in English and Chinese."""
    en, zh = KIND_NAMES["en"].get(kind, kind), KIND_NAMES["zh-Hans"].get(kind, kind)
    if official:
        return {
            "en": (
                f"This {en} is an official channel of ours. Even so, we never ask for your "
                "seed phrase, private keys, passwords or 2FA codes, and never ask you to send "
                "funds for a 'verification'."
            ),
            "zh-Hans": (
                f"此{zh}是我们的官方渠道。即便如此，我们绝不会索要您的助记词、私钥、密码或"
                "二次验证码，也绝不会要求您为“验证”转账。"
            ),
        }
    advice = {
        "en": (
            f"This {en} is NOT one of our official channels. Do not trust it: do not send "
            "funds, share codes, seed phrases or keys, or install software it asks you to. "
            "Contact us only through our official website."
        ),
        "zh-Hans": (
            f"此{zh}不是我们的官方渠道。请勿信任：不要转账，不要透露验证码、助记词或私钥，"
            "也不要安装其要求的软件。请只通过我们的官方网站联系我们。"
        ),
    }
    if lookalike_of:
        advice["en"] += f" It imitates {lookalike_of}, a common phishing trick."
        advice["zh-Hans"] += f"它在模仿 {lookalike_of}，这是常见的钓鱼手法。"
    if known_scam:
        advice["en"] += " It is on our list of known scams."
        advice["zh-Hans"] += "它在我们的已知诈骗名单上。"
    return advice
