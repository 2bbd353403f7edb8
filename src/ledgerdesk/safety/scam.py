"""Scam scripts (English and Chinese) and addresses on the admins' denylist.

Each pattern is one script scammers follow; a match is a ``scam_script`` finding whose
``reason`` names the script. The patterns look for the request, not the topic: "never
share your seed phrase" (what our agents say) is not "please send your seed phrase".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Final

from ledgerdesk.safety import Finding

_SEED_NOUNS_EN = (
    r"(?:seed|recovery|secret|mnemonic|backup)[\s-]*(?:phrase|words?|key)|mnemonic|"
    r"(?:12|24)[\s-]*words?|private[\s-]*keys?|wallet[\s-]*phrase|keystore"
)
_SEED_NOUNS_ZH = r"助记词|助記詞|私钥|私鑰|密钥|密鑰|恢复短语|恢復短語|种子短语|種子|钱包短语"

# Any character of the same sentence ("0.1 ETH" keeps going; ". " ends it).
_CLAUSE = r"(?:[^.!?\n]|\.(?=\d))"

SCRIPTS: Final[tuple[tuple[str, re.Pattern[str]], ...]] = (
    (
        "asks_for_secret",
        re.compile(
            r"\b(?:send|give|share|provide|enter|type|submit|tell|dm|paste|verify|confirm|"
            r"validate|import|sync|upload|input|fill\s+in)\b"
            rf"[^.!?\n]{{0,40}}?\b(?:{_SEED_NOUNS_EN})"
            r"|(?:发|發|提供|输入|輸入|告诉|告訴|填写|填寫|验证|驗證|导入|導入|同步|上传|上傳|"
            rf"私信|发送|發送|截图|截圖)[^。！？!?\n]{{0,12}}?(?:{_SEED_NOUNS_ZH})",
            re.IGNORECASE,
        ),
    ),
    (
        "remote_desktop",
        re.compile(
            r"any\s*desk|team\s*viewer|rust\s*desk|to\s*desk|\bsunlogin\b|向日葵|ultra\s*viewer|"
            r"quick\s*support|chrome\s+remote\s+desktop|remote\s+(?:desktop|access|control)|"
            r"screen\s*shar(?:e|ing)|远程(?:控制|协助|協助|桌面|连接|操作)|遠端(?:控制|協助|桌面)|"
            r"屏幕共享|共享屏幕|螢幕分享",
            re.IGNORECASE,
        ),
    ),
    (
        "verification_deposit",
        re.compile(
            r"verification\s+(?:deposit|fee|payment|amount)|activation\s+(?:fee|deposit)|"
            rf"\b(?:deposit|send|pay|transfer)\s+{_CLAUSE}{{0,20}}?"
            r"(?:\d|\$|usdt|btc|eth|bnb|funds|money|crypto|coins?)"
            rf"{_CLAUSE}{{0,20}}?\bto\s+(?:verify|activate|validate)\b|验证金|驗證金|认证金|認證金|验证费|驗證費|激活费|激活金|"
            r"先(?:充值|转账|轉帳|打款|付款|存入)[^。！？\n]{0,16}(?:验证|驗證|激活|认证|認證)",
            re.IGNORECASE,
        ),
    ),
    (
        "unfreeze_fee",
        re.compile(
            r"unfreez(?:e|ing)\s+(?:fee|charge|payment|deposit|tax)|unlock(?:ing)?\s+fee|"
            r"release\s+fee|withdrawal\s+tax|"
            rf"\b(?:pay|deposit|send)\b{_CLAUSE}{{0,30}}?\bto\s+(?:unfreeze|unlock|release)\b|"
            r"解冻费|解凍費|解冻金|解凍金|解冻[^。！？\n]{0,6}?(?:费|費|保证金|税|稅)|"
            r"(?:缴纳|繳納|支付|交)[^。！？\n]{0,8}?(?:税费|稅費|所得税|保证金)"
            r"[^。！？\n]{0,8}?(?:才能|方可)",
            re.IGNORECASE,
        ),
    ),
    (
        "guaranteed_returns",
        re.compile(
            r"guaranteed\s+(?:returns?|profits?|income|gains?|yield)|"
            r"risk[\s-]*free\s+(?:returns?|profits?|investment|income)|"
            r"double\s+your\s+(?:crypto|money|btc|eth|usdt|investment|coins?)|"
            r"\d+(?:\.\d+)?\s*%\s*(?:daily|per\s+day|a\s+day|every\s+day)|"
            r"保本|稳赚|穩賺|零风险|零風險|高收益|高回报|高回報|日收益|日化收益|翻倍|"
            r"保证收益|保證收益|躺赚|躺賺",
            re.IGNORECASE,
        ),
    ),
    (
        "off_platform_contact",
        re.compile(
            r"\b(?:contact|message|dm|add|reach|text)\s+(?:me|us|our\s+(?:agent|support|admin|"
            r"manager|team)|(?:the\s+)?(?:admin|support|agent|manager))\s+(?:on|via|at|through)\s+"
            r"(?:telegram|whatsapp|wechat|signal|tg)\b|"
            r"加(?:我|客服|经理|經理)?的?(?:微信|QQ|电报|電報|飞机|飛機|telegram|TG|whatsapp)|"
            r"(?:微信|电报|電報|飞机|飛機|telegram)\s*(?:客服|私聊)",
            re.IGNORECASE,
        ),
    ),
    (
        "wallet_validation",
        re.compile(
            r"\b(?:validate|sync|synchroni[sz]e|rectify|whitelist)\s+(?:your\s+)?wallet|"
            r"connect\s+(?:your\s+)?wallet\s+to\s+(?:claim|fix|resolve|validate|sync|receive)|"
            r"claim\s+(?:your\s+)?(?:airdrop|compensation|refund\s+token)|"
            r"(?:验证|驗證|同步|激活|修复|修復)(?:您的|你的)?钱包|领取空投|領取空投|"
            r"连接钱包[^。！？\n]{0,8}(?:领取|验证|修复|解冻)",
            re.IGNORECASE,
        ),
    ),
)

# Cheap substring tests on the lower-cased text; a script's regex runs only after one hits.
_TRIGGERS: Final[dict[str, tuple[str, ...]]] = {
    "asks_for_secret": (
        "seed",
        "recovery",
        "secret",
        "mnemonic",
        "word",
        "private",
        "phrase",
        "keystore",
        "backup",
        "助记",
        "助記",
        "私钥",
        "私鑰",
        "密钥",
        "密鑰",
        "恢复",
        "恢復",
        "种子",
        "種子",
        "钱包短语",
    ),
    "remote_desktop": (
        "desk",
        "viewer",
        "remote",
        "screen",
        "quick",
        "sunlogin",
        "向日葵",
        "远程",
        "遠端",
        "屏幕",
        "螢幕",
    ),
    "verification_deposit": (
        "verif",
        "activat",
        "validat",
        "验证",
        "驗證",
        "认证",
        "認證",
        "激活",
    ),
    "unfreeze_fee": ("unfreez", "unlock", "release", "tax", "解冻", "解凍", "才能", "方可"),
    "guaranteed_returns": (
        "guarantee",
        "risk",
        "double",
        "%",
        "保本",
        "稳赚",
        "穩賺",
        "零风险",
        "零風險",
        "收益",
        "回报",
        "回報",
        "翻倍",
        "躺赚",
        "躺賺",
    ),
    "off_platform_contact": (
        "telegram",
        "whatsapp",
        "wechat",
        "signal",
        "tg",
        "微信",
        "qq",
        "电报",
        "電報",
        "飞机",
        "飛機",
    ),
    "wallet_validation": ("wallet", "airdrop", "compensation", "钱包", "空投"),
}

# Words that turn a request into a warning: "never send your seed phrase".
_NEGATION_RE: Final = re.compile(
    r"(?:never|don'?t|do\s+not|not|won'?t|will\s+not|no\s+one|nobody|"
    r"不要|切勿|请勿|請勿|绝不|絕不|从不|從不|不会|不會|永远不|永遠不|别|別)\W{0,3}\w*\W{0,3}$",
    re.IGNORECASE,
)
_LONG_TOKEN_RE: Final = re.compile(r"(?<![0-9A-Za-z])[0-9A-Za-z]{25,}")


def find_scam_scripts(text: str) -> list[Finding]:
    """``scam_script`` findings, one per script and place, with the script as ``reason``."""
    found: list[Finding] = []
    lower = text.lower()
    for reason, pattern in SCRIPTS:
        if not any(map(lower.__contains__, _TRIGGERS[reason])):
            continue
        for match in pattern.finditer(text):
            if reason == "asks_for_secret" and _NEGATION_RE.search(
                text, max(0, match.start() - 24), match.start()
            ):
                continue
            found.append(Finding("scam_script", match.start(), match.end(), reason=reason))
    return found


def normalise_address(address: str) -> str:
    """Denylist form: EVM addresses compare case-insensitively, others exactly."""
    address = address.strip()
    return address.lower() if address[:2].lower() == "0x" else address


def find_denied_addresses(text: str, denied: Iterable[str]) -> list[Finding]:
    """``denied_address`` findings for every denylisted address in ``text``, on any chain.

    A frozenset is taken as already normalised (see :func:`denied_address_set`, worth
    building once for a long denylist); anything else is normalised here.
    """
    denied_set = denied if isinstance(denied, frozenset) else denied_address_set(list(denied))
    if not denied_set:
        return []
    found: list[Finding] = []
    for match in _LONG_TOKEN_RE.finditer(text):
        value = match.group()
        if normalise_address(value) in denied_set:
            found.append(
                Finding(
                    "denied_address",
                    match.start(),
                    match.end(),
                    value=value,
                    reason="denied_address",
                )
            )
    return found


def denied_address_set(addresses: Sequence[str]) -> frozenset[str]:
    """Build once per denylist change and pass to :func:`find_denied_addresses`."""
    return frozenset(normalise_address(a) for a in addresses if a.strip())
