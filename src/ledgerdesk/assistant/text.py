"""Text normalisation and tokenisation for English, Chinese and the mix of both.

One function, :func:`tokenize`, serves articles and questions alike, so both sides
meet on the same terms: lower-case ASCII without accents, light English suffix
folding, jieba words for Chinese (search mode, so long words also yield their
parts), and a small synonym table that maps the ways customers name the same
thing ("google authenticator", "谷歌验证器", "2FA") onto one canonical token.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import cast

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[a-z]")
# Runs of CJK characters, or of ASCII letters/digits (a word like "trc20" or "2fa").
_SCRIPT_EDGE = re.compile(
    r"(?<=[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff])(?=[a-z0-9])"
    r"|(?<=[a-z0-9])(?=[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff])"
)
_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[a-z0-9]+(?:'[a-z0-9]+)*")

# Phrases replaced before splitting into words; the right side is one canonical token.
# Both the articles and the questions go through this, so adding a line here helps
# retrieval on both sides at once. Order matters only where phrases overlap: longer first.
_PHRASES: tuple[tuple[str, str], ...] = (
    (r"google\s*authenticat\w*", " twofa "),
    (r"authenticator\s*app", " twofa "),
    (r"two[\s-]*factor(?:\s*auth\w*)?", " twofa "),
    (r"2[\s-]*step\s*verification", " twofa "),
    (r"two[\s-]*step\s*verification", " twofa "),
    (r"\b2fa\b|\bmfa\b|\btotp\b|\bauthenticator\b", " twofa "),
    (
        r"谷歌验证器?|谷歌身份验证器|身份验证器|二次验证|双重验证|两步验证|双因素认证?|二步验证",
        " twofa ",
    ),
    (r"destination\s*tag|\bmemo\b|\bdest\s*tag\b|payment\s*id", " memotag "),
    (r"备注|标签", " memotag "),
    (r"\btrc[\s-]?20\b|\btron\b|波场", " trc20 "),
    (r"\berc[\s-]?20\b|\bethereum\b|以太坊", " erc20 "),
    (r"\bbep[\s-]?20\b|\bbsc\b|bnb\s*smart\s*chain|币安智能链", " bep20 "),
    (
        r"\bkyc\b|identity\s*verification|verify\s*(?:my\s*)?identity|实名认证|身份认证|实名",
        " kyc ",
    ),
    (r"\bseed\s*phrase\b|recovery\s*phrase|mnemonic|助记词", " seedphrase "),
    (r"\bapi\s*keys?\b", " apikey "),
    (r"\bp2p\b|peer[\s-]*to[\s-]*peer|c2c", " p2p "),
    (r"\btx\s*id\b|\btxid\b|\btxn\b|\btx\s*hash\b|transaction\s*hash|交易哈希|哈希值", " txhash "),
    (r"gas\s*fees?|\bgas\b|矿工费|手续费|网络费", " fee "),
    (r"提现|提币|取款|提款", " withdraw "),
    (r"充值|充币|存款|入金", " deposit "),
    (r"\bwithdrawals?\b|\bwithdraw\w*\b|\bwithdrawl\w*\b|\bwidthdraw\w*\b", " withdraw "),
    (r"\bdeposit\w*\b|\bdeposite\w*\b|\btop[\s-]*up\b", " deposit "),
    (r"\bcredited\b|\barrived?\b|\bshow(?:ed|n|s)?\s+up\b|到账", " credited "),
    (r"\blog(?:ged|ging)?[\s-]*in(?:to)?\b|\bsign(?:ed|ing)?[\s-]*in(?:to)?\b", " login "),
    (r"\be-mail\b", " email "),
    (r"\bpassword\b|\bpasswd\b|\bpwd\b|密码", " password "),
)
_PHRASE_RES = tuple((re.compile(pattern), token) for pattern, token in _PHRASES)

# Single words folded onto one form after splitting.
_WORDS: dict[str, str] = {
    "usdt": "usdt",
    "tether": "usdt",
    "泰达币": "usdt",
    "btc": "btc",
    "bitcoin": "btc",
    "比特币": "btc",
    "eth": "eth",
    "ether": "eth",
    "sol": "solana",
    "solana": "solana",
    "xrp": "xrp",
    "ripple": "xrp",
    "瑞波": "xrp",
    "acct": "account",
    "账户": "account",
    "账号": "account",
    "帐户": "account",
    "帐号": "account",
    "pls": "please",
    "plz": "please",
    "email": "email",
    "e-mail": "email",
    "mail": "email",
    "邮箱": "email",
    "邮件": "email",
    "phone": "phone",
    "手机": "phone",
    "手机号": "phone",
    "wallet": "wallet",
    "钱包": "wallet",
    "address": "address",
    "addr": "address",
    "地址": "address",
    "network": "network",
    "chain": "network",
    "网络": "network",
    "链": "network",
    "fees": "fee",
    "费用": "fee",
    "freez": "frozen",
    "lock": "locked",
    "signin": "login",
}

# Chinese words of crypto support with their English counterpart: a Chinese question
# then also matches an article that exists only in English (and the other way round),
# which the small multilingual embedding model does poorly on its own.
_ZH_EN: dict[str, str] = {
    "质押": "staking",
    "收益": "reward",
    "奖励": "reward",
    "利息": "interest",
    "理财": "earn",
    "申诉": "appeal",
    "商家": "merchant",
    "放币": "release",
    "冻结": "frozen",
    "锁定": "locked",
    "解冻": "unfreeze",
    "确认数": "confirmation",
    "确认": "confirmation",
    "区块": "block",
    "浏览器": "explorer",
    "自拍": "selfie",
    "重置": "reset",
    "登录": "login",
    "登陆": "login",
    "注册": "register",
    "限额": "limit",
    "额度": "limit",
    "合约": "contract",
    "空投": "airdrop",
    "返佣": "referral",
    "邀请": "referral",
    "杠杆": "margin",
    "现货": "spot",
    "爆仓": "liquidation",
    "强平": "liquidation",
    "止损": "stop-loss",
    "挂单": "order",
    "订单": "order",
    "转账": "transfer",
    "划转": "transfer",
    "银行卡": "card",
    "信用卡": "card",
    "验证码": "code",
    "短信": "sms",
    "钓鱼": "phishing",
    "防钓鱼": "anti-phishing",
    "白名单": "whitelist",
    "延迟": "delay",
    "审核": "review",
    "待处理": "pending",
    "处理中": "pending",
    "失败": "failed",
    "退款": "refund",
    "法币": "fiat",
    "购买": "buy",
    "买币": "buy",
    "出售": "sell",
    "卖币": "sell",
    "关闭": "close",
    "注销": "close",
    "税务": "tax",
    "对账单": "statement",
    "身份证": "id",
    "护照": "passport",
    "证件": "document",
    "拒绝": "rejected",
    "驳回": "rejected",
    "错误": "wrong",
    "填错": "wrong",
    "转错": "wrong",
    "不支持": "unsupported",
    "代币": "token",
    "密钥": "key",
    "私钥": "private-key",
    "设备": "device",
    "换手机": "phone",
    "丢失": "lost",
    "丢了": "lost",
    "找回": "recover",
}

_EN_STOP_WORDS = """a an the and or but if of to in on at by for from with into onto about
    as is are was
    were be been being am do does did doing have has had having i me my mine we our you your
    he she it its they them their this that these those there here what which who whom how
    why when where can could would should will shall may might must not no yes so than too
    very just also any some all each other such only own same still yet up out off over again
    then once hi hello hey thanks thank please pls plz dear sir madam ok okay im ive dont cant
    want need help get got one"""
_ZH_STOP_WORDS = (
    "的 了 吗 呢 吧 啊 呀 我 我们 你 你们 您 他 她 它 是 在 有 和 与 及 或 就 都 也 还 "
    "这 那 这个 那个 怎么 怎么办 怎样 如何 什么 为什么 请问 请 一下 能 能否 可以 可不可以 "
    "要 想 会 把 被 给 让 对 从 到 个 一 不 没 没有 已经 还是 谢谢 你好 您好 麻烦"
)
_EN_STOP = frozenset(_EN_STOP_WORDS.split())
_ZH_STOP = frozenset(_ZH_STOP_WORDS.split())


def cjk_share(text: str) -> float:
    """The share of CJK characters among the letters of ``text`` (0 when it has none)."""
    cjk = len(_CJK.findall(text))
    latin = len(_LATIN.findall(text.lower()))
    letters = cjk + latin
    return cjk / letters if letters else 0.0


def detect_locale(text: str) -> str:
    """``zh-Hans`` when Chinese characters carry the text, else ``en``.

    A Chinese character carries more meaning than a Latin letter, so Chinese wins
    at a small share: "我的USDT充值TRC20没到账" is a Chinese question.
    """
    return "zh-Hans" if cjk_share(text) >= 0.15 else "en"


@lru_cache(maxsize=1)
def _to_simplified() -> Callable[[str], str]:
    import opencc

    converter = opencc.OpenCC("t2s")
    return cast(Callable[[str], str], converter.convert)


def normalise(text: str) -> str:
    """NFKC (full-width to half-width), lower-case, Latin accents removed, and
    traditional Chinese characters made simplified ("提現處理中" reads as "提现处理中")."""
    text = unicodedata.normalize("NFKC", text).lower()
    if _CJK.search(text):
        text = _to_simplified()(text)
    decomposed = unicodedata.normalize("NFD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    # "usdt充值trc20" -> "usdt 充值 trc20": regex word boundaries then work across scripts.
    return _SCRIPT_EDGE.sub(" ", unicodedata.normalize("NFC", stripped))


def fold_english(word: str) -> str:
    """A light stemmer: plural and common suffixes, enough for "deposits"/"deposited".

    A final silent e goes too, so "stake", "staked" and "staking" all give "stak".
    """
    stem = _strip_suffix(word)
    if len(stem) >= 5 and stem.endswith("e") and not stem.endswith("ee") and stem.isalpha():
        return stem[:-1]
    return stem


def _strip_suffix(word: str) -> str:
    if len(word) <= 3 or not word.isalpha():
        return word
    for suffix, replacement, min_stem in (
        ("ies", "y", 3),
        ("ied", "y", 3),
        ("sses", "ss", 2),
        ("ing", "", 4),
        ("ed", "", 4),
        ("es", "", 4),
        ("s", "", 3),
        ("ly", "", 4),
    ):
        if word.endswith(suffix) and len(word) - len(suffix) >= min_stem:
            if suffix == "s" and word.endswith(("ss", "us", "is")):
                return word
            if suffix == "es" and not word.endswith(("ches", "shes", "xes", "zes", "sses")):
                # "fees" -> "fee", "codes" -> "code": only the s goes.
                return word[:-1]
            stem = word[: -len(suffix)] + replacement
            # "transferred" -> "transfer", "stopped" -> "stop"
            if suffix in ("ing", "ed") and len(stem) > 3 and stem[-1] == stem[-2]:
                stem = stem[:-1]
            return stem
    return word


_jieba_lock = threading.Lock()
_jieba_ready = False


def _jieba_cut(text: str) -> list[str]:
    """jieba in search mode; its dictionary (about a second) loads once, on first use."""
    global _jieba_ready
    import jieba  # type: ignore[import-untyped]

    if not _jieba_ready:
        with _jieba_lock:
            if not _jieba_ready:
                jieba.setLogLevel(60)
                jieba.initialize()
                _jieba_ready = True
    return [token for token in jieba.cut_for_search(text) if token.strip()]


def warm_up() -> None:
    """Load jieba's dictionary now rather than during the first question."""
    _jieba_cut("预热")


def _apply_phrases(text: str) -> str:
    for pattern, token in _PHRASE_RES:
        text = pattern.sub(token, text)
    return text


def tokenize(text: str) -> list[str]:
    """Words for BM25: canonical synonyms, folded English, jieba-segmented Chinese."""
    return list(_tokenize_cached(text))


@lru_cache(maxsize=4096)
def _tokenize_cached(text: str) -> tuple[str, ...]:
    prepared = _apply_phrases(normalise(text))
    tokens: list[str] = []
    for run in _RUN.findall(prepared):
        if _CJK.match(run):
            for word in _jieba_cut(run):
                if word in _ZH_STOP:
                    continue
                tokens.append(_WORDS.get(word, word))
                english = _ZH_EN.get(word)
                if english is not None:
                    tokens.append(fold_english(english))
        else:
            word = run.replace("'", "")
            if word in _EN_STOP:
                continue
            word = _WORDS.get(word, word)
            tokens.append(_WORDS.get(fold_english(word), fold_english(word)))
    return tuple(tokens)


def unique(tokens: Iterable[str]) -> list[str]:
    """Tokens in first-seen order without repeats."""
    return list(dict.fromkeys(tokens))
