"""The macro template syntax: ``{{ name }}`` or ``{{ name | "fallback" }}``, nothing else.

Names come from a fixed list (VARIABLES); there is no attribute access, no
expressions and no filters, so a macro written by an admin can never reach
beyond the values we hand it. Unknown names are an error when the macro is
saved, not a blank in a customer's reply.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ledgerdesk.errors import InvalidInput

VARIABLES: dict[str, str] = {
    "customer.name": "the customer's name",
    "customer.first_name": "the first word of the customer's name",
    "customer.email": "the customer's email address",
    "conversation.number": "the conversation number (#1042)",
    "conversation.subject": "the conversation's subject",
    "agent.name": "the replying agent's name",
    "agent.first_name": "the first word of the agent's name",
    "team.name": "the conversation's team",
}
# {{ name }} or {{ name | "fallback" }}; the fallback is plain text without quotes or braces.
_TAG = re.compile(r"\{\{\s*([a-z_]+\.[a-z_]+)\s*(?:\|\s*\"([^\"{}]{0,100})\"\s*)?\}\}")
_BRACES = re.compile(r"\{\{|\}\}")


def variables_in(text: str) -> list[str]:
    """The variable names a text uses, in order of first use; raises on bad syntax."""
    names: list[str] = []
    problems: list[str] = []
    for match in _TAG.finditer(text):
        name = match.group(1)
        if name not in VARIABLES:
            problems.append(name)
        elif name not in names:
            names.append(name)
    leftover = _BRACES.search(_TAG.sub("", text))
    if leftover is not None:
        raise InvalidInput(
            'a "{{" or "}}" is not part of a variable; write {{ customer.name }} or '
            '{{ customer.first_name | "there" }}'
        )
    if problems:
        raise InvalidInput(
            f"unknown variable {problems[0]!r}; the variables are: {', '.join(VARIABLES)}"
        )
    return names


def render(text: str, values: Mapping[str, str | None]) -> str:
    """Fill in the variables; a missing value becomes its fallback, or nothing."""

    def fill(match: re.Match[str]) -> str:
        value = values.get(match.group(1))
        if value is None or not str(value).strip():
            return match.group(2) or ""
        return str(value)

    return _TAG.sub(fill, text)


def first_word(name: str | None) -> str | None:
    if not name or not name.strip():
        return None
    return name.strip().split()[0]


def canonical_language(tag: str | None) -> str | None:
    """zh, zh-CN and zh-SG are written in simplified Han; zh-TW, zh-HK in traditional."""
    if not tag:
        return None
    value = tag.strip().replace("_", "-")
    lower = value.lower()
    if lower in ("zh", "zh-cn", "zh-sg", "zh-hans", "zh-hans-cn"):
        return "zh-Hans"
    if lower in ("zh-tw", "zh-hk", "zh-mo", "zh-hant", "zh-hant-tw"):
        return "zh-Hant"
    return value


def pick_language(available: Mapping[str, str], wanted: str | None, default: str = "en") -> str:
    """The language version to use: exact, then the same primary language, then the
    default, then the first one there is."""
    if not available:
        raise InvalidInput("this macro has no text")
    by_lower = {key.lower(): key for key in available}
    target = canonical_language(wanted)
    if target is not None:
        if target.lower() in by_lower:
            return by_lower[target.lower()]
        primary = target.split("-")[0].lower()
        for key in available:
            if key.split("-")[0].lower() == primary:
                return key
    if default.lower() in by_lower:
        return by_lower[default.lower()]
    return next(iter(available))
