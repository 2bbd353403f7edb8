"""The Simplified Chinese UI catalog stays complete and consistent with the template.

A UI string added to the code and extracted into messages.pot without a Chinese
translation fails here, as does a translation that drops or changes a placeholder.
"""

from __future__ import annotations

import contextvars
import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po

from ledgerdesk.web import i18n

LOCALES_DIR = Path(i18n.__file__).parent / "locales"
TEMPLATE_PATH = LOCALES_DIR / "messages.pot"
ZH_HANS_PATH = LOCALES_DIR / "zh_Hans" / "LC_MESSAGES" / "messages.po"

# A printf-style conversion as Python's % operator reads it: %(name)d, %s, %5.2f ...
# A doubled %% is a literal percent sign and is matched so it is not read as a conversion.
PLACEHOLDER = re.compile(r"%%|%(?:\([^)]*\))?[#0 +\-]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[a-zA-Z]")


def _load(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=locale)


def _texts(value: str | tuple[str, ...] | list[str] | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return list(value)


def _placeholders(text: str) -> set[str]:
    return {match for match in PLACEHOLDER.findall(text) if match != "%%"}


def _sample_values(text: str) -> dict[str, int]:
    return {name: 7 for name in re.findall(r"%\(([^)]*)\)", text)}


def _messages(catalog: Catalog) -> list[Message]:
    return [message for message in catalog if message.id]


def _message_key(message: Message) -> str:
    return message.id if isinstance(message.id, str) else message.id[0]


@pytest.fixture(scope="module")
def template() -> Catalog:
    return _load(TEMPLATE_PATH)


@pytest.fixture(scope="module")
def zh_hans() -> Catalog:
    return _load(ZH_HANS_PATH, locale="zh_Hans")


def test_the_template_has_messages_to_translate(template: Catalog) -> None:
    assert len(_messages(template)) > 50


def test_the_chinese_catalog_header_names_the_language_and_its_plural_rule(
    zh_hans: Catalog,
) -> None:
    header = dict(zh_hans.mime_headers)
    assert header["Language"] == "zh_Hans"
    assert header["Plural-Forms"] == "nplurals=1; plural=0;"
    assert "charset=utf-8" in header["Content-Type"].lower()
    assert not zh_hans.fuzzy


def test_every_template_message_has_a_chinese_translation(
    template: Catalog, zh_hans: Catalog
) -> None:
    missing = []
    for message in _messages(template):
        translated = zh_hans.get(message.id, message.context)
        strings = _texts(translated.string) if translated is not None else []
        if not strings or not all(s.strip() for s in strings):
            missing.append(_message_key(message))
    assert missing == [], f"untranslated UI strings in {ZH_HANS_PATH.name}: {missing}"


def test_no_chinese_translation_is_marked_fuzzy(zh_hans: Catalog) -> None:
    fuzzy = [_message_key(m) for m in _messages(zh_hans) if "fuzzy" in m.flags]
    assert fuzzy == []


def test_the_chinese_catalog_has_no_messages_the_template_dropped(
    template: Catalog, zh_hans: Catalog
) -> None:
    stale = [_message_key(m) for m in _messages(zh_hans) if template.get(m.id, m.context) is None]
    assert stale == [], "run pybabel update so the catalog follows messages.pot"


def test_every_translation_keeps_the_placeholders_of_its_source(zh_hans: Catalog) -> None:
    mismatched = []
    for message in _messages(zh_hans):
        source = _placeholders(" ".join(_texts(message.id)))
        for translated in _texts(message.string):
            if _placeholders(translated) != source:
                mismatched.append((_message_key(message), translated))
    assert mismatched == []


def test_every_translation_formats_like_its_source(zh_hans: Catalog) -> None:
    # Jinja's newstyle gettext always applies `% variables`, so a stray % breaks a page.
    for message in _messages(zh_hans):
        for source, translated in zip(_texts(message.id), _texts(message.string), strict=False):
            values = _sample_values(source)
            assert isinstance(translated % values, str), source


def test_translations_for_chinese_translates_log_out() -> None:
    assert i18n.translations_for("zh_Hans").ugettext("Log out") == "退出登录"


def test_gettext_follows_the_language_set_for_the_current_context() -> None:
    def translate_in(language: str) -> tuple[str, str, str]:
        i18n.set_language(language)
        return (
            i18n.gettext("Log out"),
            i18n.gettext("Two-factor authentication"),
            i18n.gettext("%(n)d min ago") % {"n": 5},
        )

    assert contextvars.copy_context().run(translate_in, "zh_Hans") == (
        "退出登录",
        "双重验证",
        "5 分钟前",
    )
    assert contextvars.copy_context().run(translate_in, "en") == (
        "Log out",
        "Two-factor authentication",
        "5 min ago",
    )


def test_an_unknown_language_falls_back_to_english() -> None:
    def translate_in(language: str) -> tuple[str, str]:
        i18n.set_language(language)
        return i18n.current_language(), i18n.gettext("Log out")

    assert contextvars.copy_context().run(translate_in, "fr") == ("en", "Log out")


def test_the_key_crypto_support_wording_is_translated() -> None:
    translations = i18n.translations_for("zh_Hans")
    assert translations.ugettext("Conversations") == "会话"
    assert translations.ugettext("Unassigned") == "未分配"
    assert translations.ugettext("Internal note") == "内部备注"
    assert "助记词" in translations.ugettext(
        "Support staff never ask customers for seed phrases or private keys."
    )
