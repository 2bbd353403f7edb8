"""The gate every message passes before it is stored, logged, published or shown.

``guard_text`` runs the detectors (scan.py) with the admins' denylist and the
registered official domains, and returns the text with secrets replaced by a
label, the kinds it found, and the conversation-level risks they imply. The
conversation actions call it first thing, so nothing downstream (database, event
stream, assistant, LLM, an agent's screen) ever holds a pasted seed phrase.

``customer_notice`` is what the customer is told at once, in their language.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerdesk.db.engine import database_key
from ledgerdesk.safety.models import ChannelKind, OfficialChannel
from ledgerdesk.safety.queries import load_denylist
from ledgerdesk.safety.scan import ScanResult, scan_text

# Conversation-level risks, kept on conversations.risk_flags.
SECRET_SHARED: Final = "secret_shared"  # noqa: S105 (a flag name, not a secret)
RISK_OF_KIND: Final = {
    "phishing_link": "phishing_link",
    "scam_script": "scam_script",
    "denied_address": "denied_address",
}
_OFFICIAL_TTL = 30.0
_official_cache: dict[str, tuple[float, tuple[str, ...]]] = {}


@dataclass(frozen=True)
class GuardedText:
    text: str  # secrets replaced by labels such as "[seed phrase removed]"
    kinds: list[str] = field(default_factory=list)  # every kind found, sorted
    secret_kinds: list[str] = field(default_factory=list)
    risks: list[str] = field(default_factory=list)  # for conversations.risk_flags
    phishing_hosts: list[str] = field(default_factory=list)

    @property
    def removed_secret(self) -> bool:
        return bool(self.secret_kinds)


async def official_domains(session: AsyncSession) -> tuple[str, ...]:
    """Registered official domains (and the domains of official email addresses).

    Cached per database for 30 s: links are compared on every message, and the list
    changes a few times a year.
    """
    key = database_key(session)
    cached = _official_cache.get(key)
    if cached is not None and cached[0] + _OFFICIAL_TTL > time.monotonic():
        return cached[1]
    rows = await session.execute(
        select(OfficialChannel.kind, OfficialChannel.value).where(
            OfficialChannel.kind.in_([ChannelKind.DOMAIN, ChannelKind.EMAIL])
        )
    )
    domains = sorted(
        {value.rsplit("@", 1)[-1] if kind == ChannelKind.EMAIL else value for kind, value in rows}
    )
    if len(_official_cache) > 100:  # one entry per database; more means a test run
        _official_cache.clear()
    _official_cache[key] = (time.monotonic(), tuple(domains))
    return tuple(domains)


def forget_official_domains() -> None:
    _official_cache.clear()


def _guarded(result: ScanResult) -> GuardedText:
    kinds = sorted({f.kind for f in result.findings})
    risks = sorted({RISK_OF_KIND[k] for k in kinds if k in RISK_OF_KIND})
    if result.has_secret:
        risks = sorted({*risks, SECRET_SHARED})
    hosts = sorted(
        {
            str(f.detail.get("host") or f.value or "")
            for f in result.findings
            if f.kind == "phishing_link"
        }
        - {""}
    )
    return GuardedText(result.redacted, kinds, result.secret_kinds, risks, hosts)


async def guard_text(session: AsyncSession, text: str, *, locale: str | None) -> GuardedText:
    if not text:
        return GuardedText(text)
    denied_domains, denied_addresses = await load_denylist(session)
    result = scan_text(
        text,
        official_domains=await official_domains(session),
        denied_domains=denied_domains,
        denied_addresses=denied_addresses,
        locale=locale or "en",
    )
    return _guarded(result)


_SECRET_NAMES: Final = {
    "en": {
        "mnemonic": "seed phrase",
        "private_key": "private key",
        "wif_key": "private key",
        "extended_private_key": "extended private key",
        "keystore": "keystore file",
        "api_secret": "API secret",
    },
    "zh": {
        "mnemonic": "助记词",
        "private_key": "私钥",
        "wif_key": "私钥",
        "extended_private_key": "扩展私钥",
        "keystore": "Keystore 文件",
        "api_secret": "API 密钥",
    },
}


def _language(locale: str | None) -> str:
    return "zh" if (locale or "").lower().startswith("zh") else "en"


def customer_notice(guarded: GuardedText, locale: str | None) -> str | None:
    """What the customer reads right after their message, or None when nothing needs saying."""
    language = _language(locale)
    parts: list[str] = []
    if guarded.secret_kinds:
        names = _SECRET_NAMES[language]
        what = list(dict.fromkeys(names[k] for k in guarded.secret_kinds))
        wallet_secret = any(k != "api_secret" for k in guarded.secret_kinds)
        if language == "zh":
            parts.append(
                f"为了保护您，我们已在任何人看到之前从您的消息中删除了{'、'.join(what)}。"
                "客服绝不会向您索要助记词、私钥或 API 密钥，任何索要的人都是骗子。"
            )
            if wallet_secret:
                parts.append(
                    "请当作它已经泄露：立即在您信任的设备上创建一个新钱包（新的助记词），"
                    "并把全部资产转入新钱包。"
                )
            if "api_secret" in guarded.secret_kinds:
                parts.append("请立即在 API 管理页面删除这个 API 密钥并重新创建。")
        else:
            parts.append(
                f"To protect you, we removed the {' and the '.join(what)} from your message "
                "before anyone could see it. Support will never ask for your seed phrase, "
                "private keys or API secrets; anyone who does is a scammer."
            )
            if wallet_secret:
                parts.append(
                    "Treat it as exposed: create a new wallet with a new seed phrase on a "
                    "device you trust, and move all your funds to it now."
                )
            if "api_secret" in guarded.secret_kinds:
                parts.append("Delete that API key in your API settings now and create a new one.")
    if "phishing_link" in guarded.kinds:
        hosts = ", ".join(guarded.phishing_hosts)
        if language == "zh":
            parts.append(
                f"您消息中的链接（{hosts}）不是我们的官方网站，很可能是钓鱼网站："
                "请不要在那里登录、输入密码或助记词。"
            )
        else:
            parts.append(
                f"The link in your message ({hosts}) is not one of our official sites and "
                "looks like phishing: do not log in or enter a password or seed phrase there."
            )
    if "scam_script" in guarded.kinds or "denied_address" in guarded.kinds:
        if language == "zh":
            parts.append(
                "您描述的情况与已知诈骗手法相符（冒充客服、远程控制、缴纳“解冻费”或"
                "“验证充值”、保证收益、已知的诈骗地址）。请不要付款或转账，我们的同事会尽快回复您。"
            )
        else:
            parts.append(
                "What you describe matches a known scam (someone posing as support, remote "
                "access, an 'unfreeze fee' or 'verification deposit', guaranteed returns, a "
                "known scam address). Do not pay or send anything; a colleague will reply soon."
            )
    return " ".join(parts) or None
