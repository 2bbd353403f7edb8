"""Language tags for articles: canonical BCP-47 spelling and choosing the best match.

Pure functions over Babel's locale data; no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

from babel import Locale, UnknownLocaleError

DEFAULT_LOCALE = "en"
_SHAPE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*$")


@lru_cache(maxsize=256)
def _parse(tag: str) -> Locale:
    if len(tag) > 35 or not _SHAPE.match(tag):
        raise ValueError(f"{tag!r} is not a language tag like 'en', 'zh-Hans' or 'pt-BR'")
    try:
        return Locale.parse(tag.replace("_", "-"), sep="-")
    except (UnknownLocaleError, ValueError):
        raise ValueError(f"{tag!r} is not a language Babel knows") from None


def canonical_locale(tag: str) -> str:
    """``zh-hans`` and ``zh_Hans`` become ``zh-Hans``; an unknown language raises ValueError.

    Babel fills in what a tag implies (``zh-CN`` is written ``zh-Hans-CN``), so two
    spellings of one language never make two articles.
    """
    locale = _parse(tag.strip())
    parts = [locale.language, locale.script, locale.territory, locale.variant]
    return "-".join(part for part in parts if part)


def is_locale(tag: str) -> bool:
    try:
        canonical_locale(tag)
    except ValueError:
        return False
    return True


def _matches(wanted: Locale, offered: Locale) -> bool:
    if wanted.language != offered.language:
        return False
    # zh-Hant readers are not served zh-Hans; en-GB readers are served en.
    return wanted.script is None or offered.script is None or wanted.script == offered.script


def best_locale(wanted: Sequence[str], available: Iterable[str]) -> str | None:
    """The first of ``wanted`` (in order of preference) that ``available`` can serve."""
    offered = [(tag, _parse(tag)) for tag in available if is_locale(tag)]
    for tag in wanted:
        if not is_locale(tag):
            continue
        exact = canonical_locale(tag)
        if any(exact == name for name, _ in offered):
            return exact
        locale = _parse(tag)
        for name, candidate in offered:
            if _matches(locale, candidate):
                return name
    return None


def accept_language(header: str | None) -> list[str]:
    """The tags of an Accept-Language header, most preferred first (q=0 dropped)."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate((header or "").split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        if tag and tag != "*" and quality > 0:
            ranked.append((-quality, index, tag.strip()))
    return [tag for _, _, tag in sorted(ranked)]


def display_name(tag: str) -> str:
    """The language's own name for itself: "English", "中文 (简体)", "português (Brasil)"."""
    try:
        name = _parse(tag).get_display_name(_parse(tag))
    except ValueError:
        return tag
    return name or tag


def ui_language(tag: str) -> str:
    """The console catalog that fits a locale (the UI is translated into English and Chinese)."""
    try:
        locale = _parse(tag)
    except ValueError:
        return "en"
    return "zh_Hans" if locale.language == "zh" and locale.script != "Hant" else "en"
