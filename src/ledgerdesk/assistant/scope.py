"""Questions about another platform's product: out of scope, whatever the words match.

"How do I set up 2FA on KuCoin" shares every word with this help center's 2FA
article, so retrieval is confident and wrong: the customer needs KuCoin's own
support. A question that names another exchange, wallet or payment service is out
of scope unless it is about moving money between that platform and this one
("I sent USDT from Binance and it hasn't arrived", "提现到我的 Trust Wallet"), or
names this platform too. A rule, not a model: the names are few and well known, and
each pattern was checked on eval/assistant_validation.jsonl (docs/assistant.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ledgerdesk.assistant.text import normalise

# Other exchanges, wallets and payment services customers name; lower case, as
# normalise() leaves them. Short or common words (gate, ledger, gemini, exodus)
# only in forms that cannot be ordinary English.
_PLATFORMS = (
    r"binance|bnb\s*app|okx|okex|coinbase|kraken|bybit|kucoin|huobi|htx|bitget|gate\.io|"
    r"gateio|mexc|crypto\.com|bitfinex|bitstamp|gemini\s+exchange|upbit|bithumb|bitmart|"
    r"poloniex|bittrex|ftx|metamask|meta\s*mask|trust\s*wallet|phantom\s+wallet|"
    r"imtoken|tokenpocket|ledger\s+live|trezor|exodus\s+wallet|robinhood|paypal|revolut|"
    r"cash\s*app|venmo|wechat\s*pay|alipay|"
    r"币安|欧易|火币|库币|芝麻开门|小狐狸钱包|小狐狸|微信支付|支付宝|tp\s*钱包"
)
_PLATFORM = re.compile(rf"(?<![a-z0-9])(?:{_PLATFORMS})(?![a-z0-9])")
# This platform by name: the question is (also) about it.
_HOME = re.compile(r"(?<![a-z0-9])harbor(?![a-z0-9])|哈勃")
_ANY = r"(?:(?:my|your|our|the|a|an)\s+)?"
# Money moving between the other platform and this one.
_TRANSFER_BEFORE = re.compile(
    rf"\b(?:from|to|into|onto|via|using|through|between)\s+{_ANY}$"
    r"|(?:从|到|往|转到|转入|提到|提现到|提币到|充到|转给)\s*(?:我的)?\s*$"
)
_TRANSFER_AFTER = re.compile(
    r"^\s*(?:account|wallet|address|app)?\s*(?:to|->|→)\s"
    r"|^\s*(?:钱包|账户|账号|地址)?\s*(?:那边|上|里)?\s*(?:转|提|充|转账|提现|提币|充值|过来|到账)"
)


@dataclass(frozen=True, slots=True)
class OtherPlatform:
    name: str  # as written (normalised), for the agent


def other_platform(question: str) -> OtherPlatform | None:
    """The other platform the question is about, or None (no name, or a transfer)."""
    text = " ".join(normalise(question).split())
    found = list(_PLATFORM.finditer(text))
    if not found or _HOME.search(text):
        return None
    for match in found:
        before = text[max(0, match.start() - 20) : match.start()]
        after = text[match.end() : match.end() + 20]
        if _TRANSFER_BEFORE.search(before) or _TRANSFER_AFTER.search(after):
            return None
    return OtherPlatform(found[0].group(0))
