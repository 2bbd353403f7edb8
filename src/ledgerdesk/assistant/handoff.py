"""Questions a person must handle, whatever the help center says.

Rules, not a model: each category is a few patterns over the normalised question,
in English and Chinese, chosen so a false alarm costs little (a person reads a
question the assistant might have answered) and a miss costs a lot (a bot
replying with an article to "my account was hacked"). English words that
customers misspell ("humna", "agnet") are matched at edit distance one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ledgerdesk.assistant.text import normalise

# Categories in the order they are checked: the most urgent wins when several match.
ACCOUNT_COMPROMISED = "account_compromised"
REVERSE_TRANSACTION = "reverse_transaction"
BEREAVEMENT = "bereavement"
LEGAL = "legal"
HUMAN_REQUESTED = "human_requested"

_FUNDS = (
    r"(?:funds?|money|crypto|coins?|btc|eth|usdt|usdc|balance|account|assets?|wallet|tokens?|"
    r"savings|bitcoin)\b"
)

_PATTERNS: dict[str, tuple[str, ...]] = {
    ACCOUNT_COMPROMISED: (
        r"\b(?:hack(?:ed|er|ers|ing)?|compromised)\b",
        # Stolen funds, not a stolen phone (that is a lost-2FA question).
        r"\b(?:stolen|stole|steal(?:ing)?|theft|thief|thieves)\b.{0,30}\b" + _FUNDS,
        _FUNDS + r".{0,30}\b(?:stolen|stole|steal(?:ing)?|theft)\b",
        r"\bwithout my (?:permission|consent|authori[sz]ation|knowledge|approval)\b",
        r"\bdrain(?:ed|ing)?\b",
        r"\bunauthori[sz]ed\b",
        r"\b(?:someone|somebody|some1|a stranger)\b.{0,40}\b(?:logged|log(?:ged)? in|access(?:ed)?|"
        r"withdr[ae]w\w*|took|taken|moved|changed my)\b",
        r"\b(?:i|we)\s+(?:did\s*n[o']?t|never|didnt)\s+(?:make|do|authori[sz]e|approve|request|"
        r"initiate|send)\b.{0,30}\b(?:withdraw\w*|transfer\w*|transaction|trade|login)",
        r"\b(?:money|funds|coins|crypto|balance|usdt|btc|eth)\b.{0,30}"
        r"\b(?:is|are|were|was|got|has been|have been)\s+"
        r"(?:gone|missing|disappeared|vanished|taken|emptied)\b",
        r"\b(?:balance|account|wallet)\b.{0,20}\b(?:emptied|wiped|drained)\b",
        r"\bscam(?:med)?\b.{0,30}\b(?:lost|took|stole|sent)\b",
        r"\bphish(?:ed|ing)\b.{0,40}\b(?:lost|gave|entered|typed|stole|took)\b",
        r"被黑|盗号|盗了|盗走|盗用|黑客|被入侵|账户异常登录|陌生设备登录|不是我(?:本人)?(?:操作|提的|提现|登录|转的)",
        r"(?:币|钱|资产|资金|账户|账号|号|余额|usdt|btc|eth).{0,8}(?:被盗|被偷|偷走)",
        r"(?:被盗|被偷|偷走|偷了).{0,8}(?:币|钱|资产|资金|账户|账号|余额|usdt|btc|eth)",
        r"被(?:转|提|划|盗)走",
        r"资产(?:不见|消失|被转)|币(?:不见了|没了|被转走|被提走)|钱(?:不见了|没了|被转走)|余额(?:清空|被清空|没了)",
        r"未经?(?:我)?(?:本人)?授权|被人(?:登录|提现|转走|盗)|被骗(?:走|了)",
    ),
    REVERSE_TRANSACTION: (
        r"\b(?:reverse|reversal|reversed|revert|undo|claw\s*back|roll\s*back)\b.{0,40}"
        r"\b(?:transaction|transfer|withdraw\w*|payment|tx|txn|sent|send|deposit|it|this|that)\b",
        r"\b(?:transaction|transfer|withdraw\w*|payment|tx|txn)\b.{0,30}\b(?:reversed|undone|"
        r"revert(?:ed)?)\b",
        # Cancelling a pending withdrawal is a help-center topic; one already done is not.
        r"\b(?:cancel\w*|refund\w*|get\s+\S*\s*back|take\s+\S*\s*back|recall|return)\b.{0,60}"
        r"\b(?:confirmed|completed|already (?:sent|confirmed|went|gone|processed)|went through|"
        r"on[\s-]?chain)\b",
        r"\b(?:confirmed|completed|already (?:sent|confirmed|went|processed)|went through)\b.{0,60}"
        r"\b(?:cancel\w*|refund\w*|reverse\w*|undo|back)\b",
        r"(?:撤回|撤销|取消|回滚|冲正|退回)(?:这笔|那笔|一笔)?(?:已经?确认的?|已完成的?)?(?:交易|转账)",
        r"已经?(?:确认|完成|上链|转出).{0,15}(?:撤回|撤销|取消|追回|退回|回滚|拿回|要回)",
        r"(?:撤回|撤销|取消|追回|回滚).{0,10}已经?(?:确认|完成|上链)",
    ),
    BEREAVEMENT: (
        r"\b(?:passed away|died|dead|deceased|death|funeral|inheritance|inherit\w*|heir|estate|"
        r"next of kin|widow(?:er)?|probate|executor)\b",
        r"去世|过世|离世|身故|死亡|逝世|遗产|继承|遗嘱|家属|亡故",
    ),
    LEGAL: (
        r"\b(?:lawyer|attorney|solicitor|lawsuit|law suit|sue|suing|sued|court|legal action|"
        r"police|cops?|fbi|regulator|sec complaint|small claims|subpoena|legal proceedings|"
        r"report you|take legal)\b",
        r"律师|报警|报案|立案|警察|起诉|法院|诉讼|告你们|法律(?:途径|手段|责任)|公安|监管(?:部门|机构)|投诉到",
    ),
    HUMAN_REQUESTED: (
        r"\b(?:talk|speak|chat)\s+(?:to|with)\b.{0,20}\b(?:human|person|people|agent|someone|"
        r"somebody|representative|rep|staff|operator|manager|supervisor|support|employee)\b",
        r"\b(?:connect|transfer|put)\s+me\b.{0,20}\b(?:human|person|agent|someone|representative|"
        r"staff|operator|support|manager)\b",
        r"\b(?:real|live|actual|human)\s+(?:human|person|agent|support|people|being|rep|representative|"
        r"operator|chat)\b",
        r"\b(?:human|agent|person|representative|operator)\s+(?:please|pls|plz|now|asap)\b",
        r"\b(?:want|need|get|give)\s+(?:me\s+)?(?:a|an|to)?\s*(?:human|person|agent|representative|"
        r"operator)\b",
        r"\bnot\s+(?:a\s+)?(?:bot|robot|machine|ai)\b|\bno\s+(?:more\s+)?(?:bots?|robots?|ai)\b",
        r"\bstop\b.{0,15}\b(?:bot|robot|ai)\b|\bare you (?:a )?(?:bot|robot|real)\b",
        r"^\s*(?:human|agent|person|representative|operator|live agent|customer service)"
        r"\s*[.!?]*\s*$",
        r"人工(?!智能)|真人|转接|找个人|活人|机器人(?:没用|不行|别)|不要机器人|投诉",
        # 客服 alone also names the support team in ordinary questions ("联系客服需要什么").
        r"(?:我要|我想|想|找|转|叫|接通?|给我|帮我转|要求|要)\s*(?:真人|人工)?客服",
        r"客服(?:在吗|在不在|呢|人呢|出来|快|回复我)|^\W*客服\W*$",
    ),
}
_HYPOTHETICAL = re.compile(
    r"\b(?:might|may|could)\s+(?:be|have been|get)\b|\bin case\b"
    r"|\bif\s+(?:my|an|your|someone|i|the)\b"
    r"|\bhow (?:do|can|to|should) (?:i |we )?(?:protect|prevent|secure|lock|freeze|avoid)"
    r"|如果|万一|怎么防|如何防|预防|怎样防"
)


def _hypothetical(text: str, match: re.Match[str]) -> bool:
    """ "What should I do if my account might be compromised" asks for the help article;
    only a hypothesis just before the words counts ("hacked, if I change..." still reports)."""
    before = text[max(0, match.start() - 40) : match.start()]
    return bool(_HYPOTHETICAL.search(before))


_COMPILED = {
    category: tuple(re.compile(pattern) for pattern in patterns)
    for category, patterns in _PATTERNS.items()
}

# Misspellings of the words a customer uses to ask for a person, by edit distance one.
_HUMAN_WORDS = ("human", "person", "agent", "representative", "operator", "someone")
_ASK_WORDS = ("talk", "speak", "chat", "connect", "transfer", "want", "need", "real", "live")
_WORD = re.compile(r"[a-z]+")


def _within_one_edit(a: str, b: str) -> bool:
    """Levenshtein distance at most one, or one swap of neighbours ("humna")."""
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diffs = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diffs) == 1:
            return True
        return (
            len(diffs) == 2
            and diffs[1] == diffs[0] + 1
            and a[diffs[0]] == b[diffs[1]]
            and (a[diffs[1]] == b[diffs[0]])
        )
    short, long = (a, b) if len(a) < len(b) else (b, a)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def _fuzzy(word: str, vocabulary: tuple[str, ...]) -> str | None:
    for known in vocabulary:
        # Short words only exactly: "that" is one edit from "chat".
        if word == known or (len(known) >= 5 and _within_one_edit(word, known)):
            return known
    return None


def _asks_for_person_with_typos(text: str) -> bool:
    words = _WORD.findall(text)
    for i, word in enumerate(words):
        if _fuzzy(word, _HUMAN_WORDS) is None:
            continue
        before = words[max(0, i - 4) : i]
        if any(_fuzzy(w, _ASK_WORDS) for w in before) or len(words) <= 3:
            return True
    return False


@dataclass(frozen=True, slots=True)
class HumanNeeded:
    category: str
    matched: str  # the words that triggered it, for the agent's benefit


def needs_human(question: str) -> HumanNeeded | None:
    """The first human-needed category the question falls in, or None."""
    text = " ".join(normalise(question).split())
    for category, patterns in _COMPILED.items():
        for pattern in patterns:
            match = pattern.search(text)
            if match and not (category == ACCOUNT_COMPROMISED and _hypothetical(text, match)):
                return HumanNeeded(category, match.group(0)[:80])
    if _asks_for_person_with_typos(text):
        return HumanNeeded(HUMAN_REQUESTED, "")
    return None
