"""Articles as the assistant sees them (plain ``Doc``), cut into passages it can quote.

An article is split at its Markdown headings; a long section is split again
between paragraphs. Each passage remembers its heading, so the answer can quote
"the relevant part" and the dense model sees the article's title with every
passage (e5 ranks a passage better when it knows what the article is about).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_PASSAGE_CHARS = 700
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_LINK = re.compile(r"!?\[([^\]]*)\]\(([^)\s]*)[^)]*\)")
_EMPHASIS = re.compile(r"(\*\*|__|\*|`)")


@dataclass(frozen=True, slots=True)
class Doc:
    """One published article in one language; what the index is built from."""

    slug: str
    locale: str
    title: str
    body: str
    category: str = ""
    tags: tuple[str, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class Passage:
    heading: str
    text: str  # plain text, Markdown marks removed

    def embedding_text(self, title: str) -> str:
        """What the dense model reads: the title, the heading, then the passage."""
        parts = [title]
        if self.heading and self.heading != title:
            parts.append(self.heading)
        parts.append(self.text)
        return ". ".join(parts)[: MAX_PASSAGE_CHARS + 200]


def plain(markdown: str) -> str:
    """Markdown inline marks removed; links keep their text (the URL follows in brackets)."""

    def link(match: re.Match[str]) -> str:
        text, url = match.group(1), match.group(2)
        if url.startswith(("http://", "https://")):
            return f"{text} ({url})"
        return text

    return _EMPHASIS.sub("", _LINK.sub(link, markdown)).strip()


def _paragraphs(lines: list[str]) -> list[str]:
    paragraphs: list[str] = []
    current: list[str] = []
    for line in lines:
        if line.strip():
            current.append(line.rstrip())
        elif current:
            paragraphs.append("\n".join(current))
            current = []
    if current:
        paragraphs.append("\n".join(current))
    return paragraphs


def _pack(paragraphs: list[str]) -> list[str]:
    """Consecutive paragraphs joined while they fit in one passage."""
    chunks: list[str] = []
    current = ""
    for paragraph in paragraphs:
        paragraph = paragraph[: MAX_PASSAGE_CHARS * 2]
        if current and len(current) + len(paragraph) + 2 > MAX_PASSAGE_CHARS:
            chunks.append(current)
            current = paragraph
        else:
            current = f"{current}\n\n{paragraph}" if current else paragraph
    if current:
        chunks.append(current)
    return chunks


def split_passages(doc: Doc) -> list[Passage]:
    """The article's passages in reading order; never empty (a bare title is one passage)."""
    sections: list[tuple[str, list[str]]] = [("", [])]
    in_code = False
    for line in doc.body.splitlines():
        if line.lstrip().startswith("```"):
            in_code = not in_code
        match = None if in_code else _HEADING.match(line)
        if match:
            sections.append((plain(match.group(2)), []))
        else:
            sections[-1][1].append(line)
    passages: list[Passage] = []
    for heading, lines in sections:
        for chunk in _pack(_paragraphs(lines)):
            text = plain(chunk)
            if text:
                passages.append(Passage(heading=heading, text=text))
    return passages or [Passage(heading="", text=doc.title)]
