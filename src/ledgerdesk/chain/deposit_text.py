"""Words for a "where is my deposit" verdict, in English and Simplified Chinese: pure.

Two readers, one source:

- :func:`customer_sentence` is what the customer reads: the console's "Insert into
  reply" and the web chat assistant both take it from here, so they never disagree.
- :func:`agent_line` is the verdict in a line for the agent's panel, in the agent's
  language.

:func:`tx_verdict` makes a verdict from a transaction alone, for when no deposit
address is known (a customer quoting only a hash): credited, confirming, pending,
failed or not found (and where it was found instead). With an address,
``deposit.deposit_verdict`` gives the fuller verdict; both read the same way here.

:func:`deposit_question` is the bilingual keyword test the web chat assistant uses to
decide whether a message asks where a deposit or a withdrawal is.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ledgerdesk.chain.deposit import (
    DepositStatus,
    DepositVerdict,
    _native_transfers,
    _total_text,
    _verdict,
    base_verdict,
    short,
)
from ledgerdesk.chain.interface import TxInfo, TxStatus
from ledgerdesk.chain.networks import ChainNetwork

EN = "en"
ZH = "zh-Hans"


def text_language(tag: str | None) -> str:
    """``zh``, ``zh_Hans``, ``zh-CN``… → ``zh-Hans``; anything else → ``en``."""
    if tag and tag.strip().lower().replace("_", "-").startswith("zh"):
        return ZH
    return EN


def tx_verdict(
    tx: TxInfo, network: ChainNetwork, *, found_on: Sequence[ChainNetwork] = ()
) -> DepositVerdict:
    """The verdict on a transaction when no deposit address is known.

    Succeeded and deep enough: credited; in a block but not deep enough: confirming;
    in no block: pending; reverted: failed; absent: not found, with ``found_on``
    naming the other configured networks that know the hash (the caller looked).
    """
    base, settled = base_verdict(tx, network, found_on)
    if settled is not None:
        return settled
    label = network.label
    transfers = _native_transfers(tx)
    amount = _total_text(transfers) if transfers else None
    if tx.status is TxStatus.PENDING:
        status = DepositStatus.PENDING
    elif tx.remaining_confirmations > 0:
        status = DepositStatus.CONFIRMING
    else:
        status = DepositStatus.CREDITED
    return _verdict(status, base, label=label, amount_text=amount, tokens="")


# The customer's sentence ----------------------------------------------------------

_CUSTOMER: dict[DepositStatus, dict[str, str]] = {
    DepositStatus.CREDITED: {
        EN: "Your transaction {tx}{amount_en} on {network} is confirmed ({conf} "
        "confirmations; {req} are needed), so it is final on the blockchain. It should "
        "already be in your balance; if it is not there within a few minutes, reply here "
        "and we will check.",
        ZH: "您在 {network} 上的交易 {tx}{amount_zh}已确认（{conf} 个确认，需要 {req} 个），"
        "在区块链上已最终完成。资金应已计入您的余额；如几分钟后仍未到账，请在此回复，"
        "我们会为您核查。",
    },
    DepositStatus.CONFIRMING: {
        EN: "Your transaction {tx}{amount_en} on {network} is on its way: it has {conf} of "
        "the {req} confirmations needed, so it is waiting for {remaining} more. It will "
        "be credited automatically; there is nothing you need to do.",
        ZH: "您在 {network} 上的交易 {tx}{amount_zh}正在确认中：目前已有 {conf} 个确认，"
        "还需等待 {remaining} 个（共需 {req} 个）。确认完成后将自动入账，您无需进行任何操作。",
    },
    DepositStatus.PENDING: {
        EN: "Your transaction {tx}{amount_en} on {network} has been sent but is not in a "
        "block yet. Once it is, it needs {req} confirmations before it is credited; this "
        "usually takes minutes. If it stays pending for hours, the network fee may have "
        "been too low: your wallet may let you speed it up.",
        ZH: "您在 {network} 上的交易 {tx}{amount_zh}已广播，但尚未被打包进区块。打包后需要 "
        "{req} 个确认才会入账，通常只需几分钟。如果数小时后仍未确认，可能是网络手续费设置过低，"
        "您可以在钱包中尝试加速该交易。",
    },
    DepositStatus.FAILED: {
        EN: "Your transaction {tx} failed on {network} (the network reverted it), so the "
        "funds did not leave your wallet; only the network fee was spent. Please check "
        "your wallet and send it again.",
        ZH: "您的交易 {tx} 在 {network} 上执行失败（已被网络回滚），资金没有离开您的钱包，"
        "仅扣除了网络手续费。请检查您的钱包后重新发送。",
    },
    DepositStatus.NOT_FOUND: {
        EN: "We cannot find the transaction {tx} on {network}. Please check that you "
        "copied the whole transaction ID and that you sent it on {network}; if you sent "
        "it a moment ago, wait a minute and ask again.",
        ZH: "我们在 {network} 上找不到交易 {tx}。请确认您复制了完整的交易哈希（TxID），"
        "并且是通过 {network} 网络发送的；如果刚刚发送，请稍等一分钟后再查询。",
    },
    DepositStatus.UNAVAILABLE: {
        EN: "We cannot check {network} right now. A member of our team will look into "
        "your transaction {tx} shortly.",
        ZH: "我们暂时无法查询 {network} 网络。我们的工作人员会尽快为您核查交易 {tx}。",
    },
}
_WRONG_NETWORK = {
    EN: "We did find the transaction {tx} on {others}, not on {network}: it was sent on "
    "another network than the one of the deposit address, and such funds do not arrive "
    "by themselves. Please do not send it again; reply here and our team will help you "
    "recover it.",
    ZH: "我们在 {others} 上找到了交易 {tx}，而不是在 {network} 上：这笔资金是通过与充值地址"
    "不同的网络发送的，不会自动到账。请不要重复发送；请在此回复，我们的团队会协助您找回。",
}


def _words(verdict: DepositVerdict) -> dict[str, object]:
    amount = verdict.amount_text
    return {
        "tx": short(verdict.tx_hash),
        "network": verdict.network_label,
        "others": ", ".join(verdict.found_on_labels or verdict.found_on),
        "conf": verdict.confirmations,
        "req": verdict.required_confirmations,
        "remaining": verdict.remaining_confirmations,
        "amount_en": f" ({amount})" if amount else "",
        "amount_zh": f"（{amount}）" if amount else "",
    }


def customer_sentence(verdict: DepositVerdict, language: str | None) -> str:
    """What to tell the customer, in their language (Chinese for any zh tag)."""
    lang = text_language(language)
    words = _words(verdict)
    if verdict.status is DepositStatus.NOT_FOUND and (verdict.found_on or verdict.found_on_labels):
        return _WRONG_NETWORK[lang].format(**words)
    texts = _CUSTOMER.get(verdict.status)
    if texts is None:
        # Wrong address, wrong asset, needs review: only a verdict with the deposit
        # address has these, and deposit.py words them.
        return verdict.customer_text(lang)
    return texts[lang].format(**words)


# The agent's line -----------------------------------------------------------------

_AGENT: dict[DepositStatus, dict[str, str]] = {
    DepositStatus.CREDITED: {
        EN: "Credited: {conf} confirmations on {network} ({req} needed)",
        ZH: "已入账：{network} 上 {conf} 个确认（需要 {req} 个）",
    },
    DepositStatus.CONFIRMING: {
        EN: "Waiting for {remaining} more confirmations on {network} ({conf} of {req})",
        ZH: "还需等待 {remaining} 个确认（{network}，{conf}/{req}）",
    },
    DepositStatus.PENDING: {
        EN: "Pending on {network}: in no block yet",
        ZH: "{network} 上等待打包：尚未进入区块",
    },
    DepositStatus.FAILED: {
        EN: "Failed (reverted) on {network}: nothing arrived, only the fee was spent",
        ZH: "失败（已回滚）：{network} 上未到账，仅扣除手续费",
    },
    DepositStatus.NOT_FOUND: {
        EN: "Not found on {network}",
        ZH: "在 {network} 上未找到",
    },
    DepositStatus.WRONG_ADDRESS: {
        EN: "Wrong address: nothing was sent to the deposit address on {network}",
        ZH: "地址不符：{network} 上没有转入充值地址",
    },
    DepositStatus.WRONG_ASSET: {
        EN: "Wrong asset: the deposit address received another coin or token on {network}",
        ZH: "币种不符：充值地址在 {network} 上收到了其他币种或代币",
    },
    DepositStatus.NEEDS_REVIEW: {
        EN: "Needs review: a contract call on {network}, check its internal transactions",
        ZH: "需要人工核查：{network} 上的合约调用，请查看内部交易",
    },
    DepositStatus.UNAVAILABLE: {
        EN: "{network} is not answering: try again later",
        ZH: "{network} 暂时无法查询：请稍后重试",
    },
}
_AGENT_WRONG_NETWORK = {
    EN: " (found on {others}: wrong network)",
    ZH: "（在 {others} 上找到：网络错误）",
}


def agent_line(verdict: DepositVerdict, language: str | None) -> str:
    """The verdict in a line for the agent, in the agent's language."""
    lang = text_language(language)
    words = _words(verdict)
    line = _AGENT[verdict.status][lang].format(**words)
    if verdict.status is DepositStatus.NOT_FOUND and (verdict.found_on or verdict.found_on_labels):
        line += _AGENT_WRONG_NETWORK[lang].format(**words)
    return line


# Is this message asking where a deposit is? --------------------------------------

# A transfer word and a "not there" word, in English or Chinese: "my deposit has not
# arrived", "withdrawal still pending", "充值没到账", "提现一直没收到".
_TRANSFER = re.compile(
    r"\b(?:deposit\w*|withdr[ae]w\w*|withdrawal\w*|transfer\w*|sent|send(?:ing)?|"
    r"tx|txid|transaction\w*|payment|paid)\b|充值|充币|提现|提币|转账|转入|转出|汇款|交易|入金|出金",
    re.IGNORECASE,
)
_MISSING = re.compile(
    r"\b(?:not|never|no|missing|where|yet|still|pending|stuck|lost|arriv\w*|"
    r"receiv\w*|credit\w*|show\w*|status|confirm\w*|fail\w*|balance)\b|"
    r"没到|未到|没收到|未收到|到账|没有到|还没|仍未|在哪|哪里|不见|丢失|未入账|没入账|"
    r"等待|卡住|失败|状态|确认|余额|查询",
    re.IGNORECASE,
)


def deposit_question(text: str) -> bool:
    """Whether a message asks where a deposit or withdrawal is (a keyword test, EN/ZH).

    The caller also needs a transaction hash in the message; this only looks at the
    words around it.
    """
    return bool(_TRANSFER.search(text)) and bool(_MISSING.search(text))
