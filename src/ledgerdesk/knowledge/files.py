"""Help center articles as files: ``<slug>.<locale>.md`` with YAML front matter.

    ---
    title: My deposit has not arrived
    slug: deposit-not-credited
    locale: en
    category: deposits
    tags: [deposit, confirmations]
    ---

    Markdown body...

``status`` is optional (``published`` when absent; written only for drafts).
An optional ``_categories.yaml`` in the same directory names the categories per
locale, in the order the help center lists them::

    deposits:
      en: Deposits
      zh-Hans: 充值

Parsing and writing the format is pure; reading and writing a directory touches
only the file system, never the database. ``render_article`` writes the
canonical form, so import followed by export gives back the same files.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ledgerdesk.knowledge import fields
from ledgerdesk.knowledge.models import PUBLISHED

CATEGORIES_FILE = "_categories.yaml"
FRONT_MATTER_KEYS = ("title", "slug", "locale", "category", "tags", "status")
REQUIRED_KEYS = ("title", "slug", "locale", "category")
_FILENAME = re.compile(r"^(?P<slug>[^.]+)\.(?P<locale>[^.]+)\.md$")
MAX_FILE_BYTES = 1_000_000


@dataclass(frozen=True)
class ArticleFile:
    slug: str
    locale: str
    title: str
    category: str
    tags: tuple[str, ...]
    body: str
    status: str = PUBLISHED

    @property
    def key(self) -> tuple[str, str]:
        return self.slug, self.locale

    @property
    def filename(self) -> str:
        return file_name(self.slug, self.locale)


@dataclass(frozen=True)
class FileProblem:
    filename: str
    message: str

    def __str__(self) -> str:
        return f"{self.filename}: {self.message}"


class ArticleFileError(ValueError):
    def __init__(self, filename: str, messages: list[str]) -> None:
        super().__init__(f"{filename}: {'; '.join(messages)}")
        self.problems = [FileProblem(filename, message) for message in messages]


@dataclass
class Bundle:
    """What a directory holds: articles, category names, and what is wrong with it."""

    articles: list[ArticleFile] = field(default_factory=list)
    # slug -> {locale: name}, in listing order
    categories: dict[str, dict[str, str]] = field(default_factory=dict)
    problems: list[FileProblem] = field(default_factory=list)


def file_name(slug: str, locale: str) -> str:
    return f"{slug}.{locale}.md"


def _split_front_matter(text: str) -> tuple[str, str]:
    lines = text.split("\n")
    if not lines or lines[0].rstrip() != "---":
        raise ValueError("the file must start with a '---' line opening the YAML front matter")
    for index in range(1, len(lines)):
        if lines[index].rstrip() in ("---", "..."):
            return "\n".join(lines[1:index]), "\n".join(lines[index + 1 :])
    raise ValueError("the YAML front matter is not closed by a '---' line")


def parse_article(filename: str, text: str) -> ArticleFile:
    """One file's article; raises ArticleFileError listing everything wrong with it."""
    match = _FILENAME.match(filename)
    if match is None:
        raise ArticleFileError(filename, ["the name must be <slug>.<locale>.md"])
    text = text.removeprefix("\ufeff").replace("\r\n", "\n")
    try:
        head, body = _split_front_matter(text)
        meta = yaml.safe_load(head) if head.strip() else {}
    except yaml.YAMLError as exc:
        raise ArticleFileError(filename, [f"the front matter is not valid YAML: {exc}"]) from None
    except ValueError as exc:
        raise ArticleFileError(filename, [str(exc)]) from None
    if not isinstance(meta, dict):
        raise ArticleFileError(filename, ["the front matter must be a YAML mapping (key: value)"])
    problems: list[str] = []
    unknown = sorted(str(key) for key in meta if key not in FRONT_MATTER_KEYS)
    if unknown:
        problems.append(
            f"unknown front matter keys: {', '.join(unknown)} "
            f"(known: {', '.join(FRONT_MATTER_KEYS)})"
        )
    problems += [
        f"{key} is missing from the front matter" for key in REQUIRED_KEYS if key not in meta
    ]
    values: dict[str, Any] = {}
    checks = {
        "title": fields.clean_title,
        "slug": fields.clean_slug,
        "locale": fields.clean_locale,
        "category": fields.clean_category,
        "tags": fields.clean_tags,
        "status": fields.clean_status,
    }
    for key, check in checks.items():
        if key in meta:
            try:
                values[key] = check(meta[key])
            except ValueError as exc:
                problems.append(str(exc))
    try:
        values["body"] = fields.clean_body(body)
    except ValueError as exc:
        problems.append(str(exc))
    if "slug" in values and values["slug"] != match["slug"]:
        problems.append(
            f"the file name says slug {match['slug']!r} "
            f"but the front matter says {values['slug']!r}"
        )
    if "locale" in values:
        try:
            named = fields.clean_locale(match["locale"])
        except ValueError as exc:
            problems.append(f"the file name's locale: {exc}")
        else:
            if named != values["locale"]:
                problems.append(
                    f"the file name says locale {match['locale']!r} "
                    f"but the front matter says {meta['locale']!r}"
                )
    if problems:
        raise ArticleFileError(filename, problems)
    return ArticleFile(
        slug=values["slug"],
        locale=values["locale"],
        title=values["title"],
        category=values["category"],
        tags=tuple(values.get("tags", [])),
        body=values["body"],
        status=values.get("status", PUBLISHED),
    )


def _yaml_line(key: str, value: object) -> str:
    # One key at a time keeps the order fixed; a list of tags stays on one line.
    options: dict[str, Any] = {"allow_unicode": True, "sort_keys": False, "width": 10**9}
    if isinstance(value, list):
        flow: str = yaml.safe_dump(value, default_flow_style=True, **options)
        return f"{key}: {flow}"
    block: str = yaml.safe_dump({key: value}, default_flow_style=False, **options)
    return block


def render_article(article: ArticleFile) -> str:
    """The canonical file text of an article."""
    head = [
        _yaml_line("title", article.title),
        _yaml_line("slug", article.slug),
        _yaml_line("locale", article.locale),
        _yaml_line("category", article.category),
        _yaml_line("tags", list(article.tags)),
    ]
    if article.status != PUBLISHED:
        head.append(_yaml_line("status", article.status))
    return "---\n" + "".join(head) + "---\n\n" + article.body.strip() + "\n"


def parse_categories(text: str, filename: str = CATEGORIES_FILE) -> dict[str, dict[str, str]]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ArticleFileError(filename, [f"not valid YAML: {exc}"]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ArticleFileError(filename, ["must map category slugs to {locale: name}"])
    problems: list[str] = []
    categories: dict[str, dict[str, str]] = {}
    for raw_slug, raw_names in data.items():
        try:
            slug = fields.clean_category(raw_slug)
        except ValueError as exc:
            problems.append(str(exc))
            continue
        if not isinstance(raw_names, dict):
            problems.append(f"{slug}: give names per locale, like 'en: Deposits'")
            continue
        names: dict[str, str] = {}
        for raw_locale, name in raw_names.items():
            try:
                locale = fields.clean_locale(str(raw_locale))
            except ValueError as exc:
                problems.append(f"{slug}: {exc}")
                continue
            if not isinstance(name, str) or not name.strip() or len(name) > 100:
                problems.append(f"{slug}: the {locale} name must be text of 1 to 100 characters")
                continue
            names[locale] = " ".join(name.split())
        categories[slug] = names
    if problems:
        raise ArticleFileError(filename, problems)
    return categories


def render_categories(categories: dict[str, dict[str, str]]) -> str:
    data = {slug: dict(sorted(names.items())) for slug, names in categories.items()}
    dumped: str = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=10**9)
    return dumped


def _read_text(path: Path) -> str:
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ArticleFileError(path.name, [f"larger than {MAX_FILE_BYTES} bytes"])
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ArticleFileError(path.name, [f"not UTF-8 text ({exc.reason})"]) from None


def read_directory(directory: Path) -> Bundle:
    """Every ``*.md`` article and the category names of a directory, with every problem.

    Other files are ignored; sub-directories are not read.
    """
    bundle = Bundle()
    if not directory.is_dir():
        bundle.problems.append(FileProblem(str(directory), "not a directory"))
        return bundle
    seen: dict[tuple[str, str], str] = {}
    for path in sorted(directory.glob("*.md")):
        try:
            article = parse_article(path.name, _read_text(path))
        except ArticleFileError as exc:
            bundle.problems += exc.problems
            continue
        if article.key in seen:
            bundle.problems.append(
                FileProblem(path.name, f"the same article as {seen[article.key]}")
            )
            continue
        seen[article.key] = path.name
        bundle.articles.append(article)
    categories_path = directory / CATEGORIES_FILE
    if categories_path.is_file():
        try:
            bundle.categories = parse_categories(_read_text(categories_path))
        except ArticleFileError as exc:
            bundle.problems += exc.problems
    return bundle


def write_directory(
    directory: Path,
    articles: Iterable[ArticleFile],
    categories: dict[str, dict[str, str]] | None = None,
) -> list[str]:
    """Write each article (and the category names, if any); returns the file names written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for article in articles:
        (directory / article.filename).write_text(render_article(article), encoding="utf-8")
        written.append(article.filename)
    if categories and any(categories.values()):
        named = {slug: names for slug, names in categories.items() if names}
        (directory / CATEGORIES_FILE).write_text(render_categories(named), encoding="utf-8")
        written.append(CATEGORIES_FILE)
    return written
