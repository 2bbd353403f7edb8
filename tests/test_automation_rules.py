"""Rule matching without a database: conditions, all/any, text folding, the keyword
index (property-tested against trying every rule) and the JSON validation."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from ledgerdesk.automation.conditions import Facts, RuleSet, compile_rule, matching
from ledgerdesk.automation.schemas import RuleSpec

WORDS = ["withdrawal", "提现", "kyc", "Hacked", "ＦＥＥ", "fee", "2fa"]
TAGS = ["vip", "seen", "kyc", "loop"]


def rule(*conditions: dict[str, Any], match: str = "all") -> RuleSpec:
    return RuleSpec.model_validate(
        {
            "trigger": "message.received",
            "match": match,
            "conditions": list(conditions),
            "actions": [{"type": "add_tags", "tags": ["x"]}],
        }
    )


def test_text_matching_folds_case_and_width_in_english_and_chinese() -> None:
    compiled = compile_rule(
        1, rule({"field": "text", "op": "contains_any", "value": ["FEE", "提现"]})
    )
    assert compiled.matches(Facts(text="why is the ｆｅｅ so high"))
    assert compiled.matches(Facts(text="我的提现还没到账"))
    assert not compiled.matches(Facts(text="deposit"))
    none = compile_rule(2, rule({"field": "text", "op": "contains_none", "value": ["refund"]}))
    assert none.matches(Facts(text="hello")) and not none.matches(Facts(text="REFUND now"))


def test_each_field_and_operator_does_what_it_says() -> None:
    facts = Facts(
        channel="email",
        language="zh-Hans",
        category="KYC",
        priority="high",
        tier="vip",
        status="open",
        inbox_id=3,
        tags=frozenset({"vip", "seen"}),
        risk_flags=frozenset({"phishing_link"}),
    )
    cases: list[tuple[dict[str, Any], bool]] = [
        ({"field": "channel", "op": "is", "value": "email"}, True),
        ({"field": "channel", "op": "is_not", "value": "email"}, False),
        ({"field": "language", "op": "is", "value": "zh"}, True),
        ({"field": "language", "op": "is", "value": "zh-Hant"}, False),
        ({"field": "category", "op": "any_of", "value": ["kyc", "deposit"]}, True),
        ({"field": "intent", "op": "is_empty"}, True),
        ({"field": "priority", "op": "none_of", "value": ["low", "normal"]}, True),
        ({"field": "inbox_id", "op": "is", "value": 3}, True),
        ({"field": "assignee_id", "op": "is_set"}, False),
        ({"field": "tags", "op": "has_all", "value": ["vip", "seen"]}, True),
        ({"field": "tags", "op": "has_none", "value": ["vip"]}, False),
        ({"field": "risk_flags", "op": "has_any", "value": ["secret_shared"]}, False),
        ({"field": "risk_flags", "op": "is_set"}, True),
    ]
    for condition, expected in cases:
        assert compile_rule(1, rule(condition)).matches(facts) is expected, condition


def test_all_needs_every_condition_any_needs_one_and_none_matches_everything() -> None:
    high = {"field": "priority", "op": "is", "value": "high"}
    vip = {"field": "tier", "op": "is", "value": "vip"}
    facts = Facts(priority="high", tier="standard")
    assert not compile_rule(1, rule(high, vip)).matches(facts)
    assert compile_rule(1, rule(high, vip, match="any")).matches(facts)
    assert compile_rule(1, rule()).matches(Facts())


@pytest.mark.parametrize(
    ("condition", "words"),
    [
        ({"field": "tags", "op": "contains", "value": "x"}, "has_any"),
        ({"field": "text", "op": "is", "value": "x"}, "contains"),
        ({"field": "priority", "op": "is", "value": "asap"}, "urgent"),
        ({"field": "inbox_id", "op": "is", "value": "three"}, "ids"),
        ({"field": "tags", "op": "has_any", "value": []}, "non-empty"),
        ({"field": "status", "op": "is_set", "value": "open"}, "no value"),
        ({"field": "colour", "op": "is", "value": "red"}, "field"),
    ],
)
def test_a_bad_condition_is_refused_with_a_reason(condition: dict[str, Any], words: str) -> None:
    with pytest.raises(ValidationError) as error:
        rule(condition)
    assert words in str(error.value)


def test_unknown_actions_and_extra_keys_are_refused() -> None:
    base = {"trigger": "conversation.created", "actions": [{"type": "delete_everything"}]}
    with pytest.raises(ValidationError):
        RuleSpec.model_validate(base)
    with pytest.raises(ValidationError):
        RuleSpec.model_validate({**base, "actions": [], "surprise": 1})


conditions = st.one_of(
    st.builds(
        lambda op, words: {"field": "text", "op": op, "value": words},
        st.sampled_from(["contains_any", "contains_none"]),
        st.lists(st.sampled_from(WORDS), min_size=1, max_size=3),
    ),
    st.builds(
        lambda word: {"field": "text", "op": "contains", "value": word}, st.sampled_from(WORDS)
    ),
    st.builds(
        lambda p: {"field": "priority", "op": "any_of", "value": p},
        st.lists(st.sampled_from(["low", "normal", "high", "urgent"]), min_size=1, max_size=2),
    ),
    st.builds(
        lambda tags: {"field": "tags", "op": "has_any", "value": tags},
        st.lists(st.sampled_from(TAGS), min_size=1, max_size=2),
    ),
)
specs = st.builds(
    lambda conds, match: rule(*conds, match=match),
    st.lists(conditions, max_size=3),
    st.sampled_from(["all", "any"]),
)
facts = st.builds(
    lambda words, priority, tags: Facts(
        priority=priority, tags=frozenset(tags), text=" and ".join(words)
    ),
    st.lists(st.sampled_from([*WORDS, "hello", "Withdrawals", "KYC check"]), max_size=4),
    st.sampled_from(["low", "normal", "high", "urgent"]),
    st.lists(st.sampled_from(TAGS), max_size=3),
)


@given(st.lists(specs, min_size=1, max_size=25), st.lists(facts, min_size=1, max_size=10))
def test_the_keyword_index_finds_exactly_the_rules_that_match(
    rule_specs: list[RuleSpec], events: list[Facts]
) -> None:
    rules = [compile_rule(i, spec) for i, spec in enumerate(rule_specs)]
    indexed = RuleSet(rules)
    for event in events:
        assert indexed.matching(event) == matching(rules, event)
