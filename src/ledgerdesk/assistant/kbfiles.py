"""Help-center files (``<slug>.<locale>.md`` with YAML front matter) read as plain Docs.

The knowledge package owns importing these into the database; this reader lets
the assistant's evaluation and benchmark run on a directory of files without one.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from ledgerdesk.assistant.passages import Doc


class KbFileError(ValueError):
    """A help-center file the reader cannot use; the message names the file."""


def parse_article(path: Path) -> tuple[Doc, str]:
    """The article and its status (``published`` unless the front matter says otherwise)."""
    text = path.read_text(encoding="utf-8")
    if not text.startswith("---"):
        raise KbFileError(f"{path.name}: no YAML front matter (the file must start with ---)")
    _, _, rest = text.partition("---")
    front, separator, body = rest.partition("\n---")
    if not separator:
        raise KbFileError(f"{path.name}: the front matter is not closed with ---")
    try:
        meta = yaml.safe_load(front) or {}
    except yaml.YAMLError as exc:
        raise KbFileError(f"{path.name}: bad front matter: {exc}") from None
    if not isinstance(meta, dict):
        raise KbFileError(f"{path.name}: the front matter is not a mapping")
    stem = path.name.removesuffix(".md")
    slug_from_name, _, locale_from_name = stem.partition(".")
    tags = meta.get("tags") or []
    if not isinstance(tags, list):
        tags = [tags]
    body = body.split("\n", 1)[1] if "\n" in body else ""
    status = str(meta.get("status") or "published")
    doc = Doc(
        slug=str(meta.get("slug") or slug_from_name),
        locale=str(meta.get("locale") or locale_from_name or "en"),
        title=str(meta.get("title") or slug_from_name),
        body=body.strip(),
        category=str(meta.get("category") or ""),
        tags=tuple(str(tag) for tag in tags),
    )
    return doc, status


def read_kb_dir(directory: Path) -> list[Doc]:
    """Every published article in the directory, sorted by slug then locale."""
    docs = []
    for path in sorted(directory.glob("*.md")):
        if path.name.count(".") < 2:
            continue
        doc, status = parse_article(path)
        if status == "published":
            docs.append(doc)
    return sorted(docs, key=lambda doc: (doc.slug, doc.locale))
