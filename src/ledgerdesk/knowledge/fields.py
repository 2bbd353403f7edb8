"""Rules every article field follows, shared by the API, the actions and the file importer.

Each function returns the cleaned value or raises ValueError saying what is wrong.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ledgerdesk.knowledge.locales import canonical_locale
from ledgerdesk.knowledge.models import STATUSES

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MAX_SLUG = 120
MAX_CATEGORY = 80
MAX_TITLE = 300
MAX_BODY = 200_000
MAX_TAGS = 30
MAX_TAG = 60


def _no_control(value: str, what: str) -> str:
    if "\x00" in value:
        raise ValueError(f"{what} must not contain NUL characters")
    return value


def clean_slug(value: object, what: str = "slug") -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what} must be text")
    slug = value.strip()
    if not slug:
        raise ValueError(f"{what} is missing")
    limit = MAX_CATEGORY if what == "category" else MAX_SLUG
    if len(slug) > limit:
        raise ValueError(f"{what} is longer than {limit} characters")
    if not SLUG.match(slug):
        raise ValueError(
            f"{what} {slug!r} must be lower-case letters, digits and single hyphens "
            "(like 'deposit-not-credited')"
        )
    return slug


def clean_category(value: object) -> str:
    return clean_slug(value, "category")


def clean_locale(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("locale must be text, like 'en' or 'zh-Hans'")
    return canonical_locale(value)


def clean_title(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("title must be text (quote it in YAML if it looks like a number)")
    title = " ".join(_no_control(value, "title").split())
    if not title:
        raise ValueError("title is missing")
    if len(title) > MAX_TITLE:
        raise ValueError(f"title is longer than {MAX_TITLE} characters")
    return title


def clean_body(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("body must be text")
    body = _no_control(value, "body").replace("\r\n", "\n").strip()
    if not body:
        raise ValueError("body is empty")
    if len(body) > MAX_BODY:
        raise ValueError(f"body is longer than {MAX_BODY} characters")
    return body


def clean_tags(values: object) -> list[str]:
    """Tags as written (spaces collapsed), duplicates dropped ignoring case, order kept."""
    if values is None:
        return []
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise ValueError("tags must be a list, like [deposit, USDT]")
    tags: list[str] = []
    seen: set[str] = set()
    for value in values:
        if not isinstance(value, str):
            raise ValueError(f"tag {value!r} is not text (quote it in YAML)")
        tag = " ".join(_no_control(value, "a tag").split())
        if not tag:
            raise ValueError("tags must not be empty")
        if len(tag) > MAX_TAG:
            raise ValueError(f"tag {tag[:20]!r}... is longer than {MAX_TAG} characters")
        if tag.casefold() not in seen:
            seen.add(tag.casefold())
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        raise ValueError(f"an article has at most {MAX_TAGS} tags")
    return tags


def clean_status(value: object) -> str:
    if value not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}, not {value!r}")
    assert isinstance(value, str)
    return value
