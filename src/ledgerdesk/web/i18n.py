"""UI translations from Babel message catalogs, chosen per agent.

Catalogs are kept as .po files and compiled in memory at start, so no build step
and no binary .mo files are needed in the repository.
"""

from __future__ import annotations

import io
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LOCALES_DIR = Path(__file__).parent / "locales"
UI_LANGUAGES = {"en": "English", "zh_Hans": "简体中文"}
DEFAULT_LANGUAGE = "en"

_current: ContextVar[str] = ContextVar("ui_language", default=DEFAULT_LANGUAGE)


@lru_cache(maxsize=8)
def translations_for(language: str) -> NullTranslations:
    po_file = LOCALES_DIR / language / "LC_MESSAGES" / "messages.po"
    if language == DEFAULT_LANGUAGE or not po_file.exists():
        return NullTranslations()
    with po_file.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer)


def set_language(language: str) -> None:
    _current.set(language if language in UI_LANGUAGES else DEFAULT_LANGUAGE)


def current_language() -> str:
    return _current.get()


def gettext(message: str) -> str:
    return translations_for(_current.get()).ugettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations_for(_current.get()).ungettext(singular, plural, n)


def pick_language(accept_language: str | None) -> str:
    """The UI language for a visitor who is not logged in, from the browser's header."""
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh_Hans"
        if tag.startswith("en"):
            return "en"
    return DEFAULT_LANGUAGE
