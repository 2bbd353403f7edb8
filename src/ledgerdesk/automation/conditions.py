"""Rule matching without a database: a conversation's facts in, true or false out.

Text is compared after NFKC folding and ``casefold`` (so "ＷＩＴＨＤＲＡＷ" matches
"withdraw" and full-width digits match ASCII ones); Chinese needs no word
boundaries, so a plain substring test serves both languages.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ledgerdesk.automation.schemas import Condition, RuleSpec


@dataclass(frozen=True, slots=True)
class Facts:
    """What conditions can see of one conversation at one trigger event."""

    channel: str | None = None
    language: str | None = None
    category: str | None = None
    intent: str | None = None
    priority: str | None = None
    tier: str | None = None
    status: str | None = None
    inbox_id: int | None = None
    team_id: int | None = None
    assignee_id: int | None = None
    tags: frozenset[str] = frozenset()
    risk_flags: frozenset[str] = frozenset()
    # The message text for message triggers; subject and first message on creation.
    text: str = ""
    folded_text: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if self.text and not self.folded_text:
            object.__setattr__(self, "folded_text", fold(self.text))


def fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


Test = Callable[[Facts], bool]


def _language_matches(actual: str | None, wanted: str) -> bool:
    # "zh" matches "zh-Hans"; "zh-Hans" does not match "zh-Hant".
    if actual is None:
        return False
    actual_l, wanted_l = actual.lower(), wanted.lower()
    return actual_l == wanted_l or actual_l.startswith(wanted_l + "-")


def compile_condition(condition: Condition) -> Test:
    """A condition turned into a closure once, so evaluating many events is cheap."""
    name, op, value = condition.field, condition.op, condition.value
    if name == "text":
        words = [fold(str(v)) for v in (value if isinstance(value, list) else [value])]
        if op == "contains_none":
            return lambda facts: not any(w in facts.folded_text for w in words)
        return lambda facts: any(w in facts.folded_text for w in words)
    if name in ("tags", "risk_flags"):
        wanted = frozenset(str(v).lower() for v in (value if isinstance(value, list) else []))

        def items(facts: Facts) -> frozenset[str]:
            found: frozenset[str] = getattr(facts, name)
            return found

        if op == "has_any":
            return lambda facts: not wanted.isdisjoint(items(facts))
        if op == "has_all":
            return lambda facts: wanted <= items(facts)
        if op == "has_none":
            return lambda facts: wanted.isdisjoint(items(facts))
        if op == "is_set":
            return lambda facts: bool(items(facts))
        return lambda facts: not items(facts)
    values: list[Any] = value if isinstance(value, list) else [value]

    def get(facts: Facts) -> Any:
        return getattr(facts, name)

    if op == "is_set":
        return lambda facts: get(facts) not in (None, "")
    if op == "is_empty":
        return lambda facts: get(facts) in (None, "")
    if name == "language":
        hit: Test = lambda facts: any(_language_matches(facts.language, str(v)) for v in values)  # noqa: E731
    elif name in ("category", "intent"):
        folded = {fold(str(v)) for v in values}
        hit = lambda facts: get(facts) is not None and fold(str(get(facts))) in folded  # noqa: E731
    else:
        allowed = set(values)
        hit = lambda facts: get(facts) in allowed  # noqa: E731
    if op in ("is", "any_of"):
        return hit
    return lambda facts: not hit(facts)


@dataclass(frozen=True, slots=True)
class CompiledRule:
    rule_id: int
    spec: RuleSpec
    tests: tuple[Test, ...]
    match_all: bool

    @property
    def uses_text(self) -> bool:
        return any(c.field == "text" for c in self.spec.conditions)

    @property
    def uses_tier(self) -> bool:
        """Whether a condition looks at the customer's tier (which costs a read)."""
        return any(c.field == "tier" for c in self.spec.conditions)

    def matches(self, facts: Facts) -> bool:
        if not self.tests:
            return True  # no conditions: every event of the trigger
        if self.match_all:
            return all(test(facts) for test in self.tests)
        return any(test(facts) for test in self.tests)


def compile_rule(rule_id: int, spec: RuleSpec) -> CompiledRule:
    return CompiledRule(
        rule_id, spec, tuple(compile_condition(c) for c in spec.conditions), spec.match == "all"
    )


def required_words(rule: CompiledRule) -> frozenset[str] | None:
    """Words of which the text must contain one for the rule to match (an "all" rule
    with a contains/contains_any condition), or None when the rule needs no word."""
    if rule.spec.match != "all":
        return None
    for condition in rule.spec.conditions:
        if condition.field == "text" and condition.op in ("contains", "contains_any"):
            value = condition.value
            return frozenset(fold(str(v)) for v in (value if isinstance(value, list) else [value]))
    return None


class RuleSet:
    """Rules in order, with a keyword index: most rules name words, and a substring test
    per distinct word (in C) rules out every rule whose words are all absent, so an
    event costs a few word tests plus the few rules that can still match."""

    def __init__(self, rules: Sequence[CompiledRule]) -> None:
        self.rules = list(rules)
        self._word_rules: dict[str, list[int]] = {}
        self._always: list[int] = []
        for index, rule in enumerate(self.rules):
            words = required_words(rule)
            if words is None:
                self._always.append(index)
            else:
                for word in words:
                    self._word_rules.setdefault(word, []).append(index)

    def __len__(self) -> int:
        return len(self.rules)

    def candidates(self, facts: Facts) -> list[CompiledRule]:
        """The rules, in order, that could match these facts (the text decides)."""
        if not self._word_rules:
            return self.rules
        text = facts.folded_text
        chosen = set(self._always)
        for word, indexes in self._word_rules.items():
            if word in text:
                chosen.update(indexes)
        return [self.rules[i] for i in sorted(chosen)]

    def matching(self, facts: Facts) -> list[CompiledRule]:
        return [rule for rule in self.candidates(facts) if rule.matches(facts)]


def matching(rules: Sequence[CompiledRule], facts: Facts) -> list[CompiledRule]:
    return [rule for rule in rules if rule.matches(facts)]
