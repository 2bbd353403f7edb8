"""Article Markdown as safe HTML for the public help center.

markdown-it-py renders CommonMark (plus tables and strikethrough) with raw HTML
turned off, so a ``<script>`` in an article is shown as text. Links are then
judged like links in messages (web/links.py): relative links and links to the
platform's official domains stay links; any other address goes through the
help center's warning page first; images are shown only from the platform's own
site. Finally nh3 keeps only an allowlist of tags and attributes, a second line
of defence should the first ever miss something. Pure: no I/O.
"""

from __future__ import annotations

import re
from urllib.parse import quote

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token

from ledgerdesk.web.links import LinkPolicy, parse_link

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
    ["table", "strikethrough"]
)

ALLOWED_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "del", "s",
    "code", "pre", "blockquote", "ul", "ol", "li", "a", "img",
    "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
}
ALLOWED_CLASSES = {"a": {"unverified"}}
_PLAIN_SPACE = re.compile(r"\s+")


def _is_relative(href: str) -> bool:
    # "/help/en/a/x" and "#section" stay on this site; "//evil.io" does not.
    return (href.startswith("/") and not href.startswith("//")) or href.startswith("#")


def _judge_link(token: Token, policy: LinkPolicy, out_url: str) -> None:
    href = str(token.attrGet("href") or "")
    if _is_relative(href) and "\\" not in href:
        return
    link = parse_link(href, policy)
    if link.official and link.href is not None:
        token.attrSet("href", link.href)
        return
    if link.href is None:  # mailto:, ftp: and the like: shown, never followed
        token.attrs.pop("href", None)
        return
    token.attrSet("href", f"{out_url}?u={quote(href, safe='')}")
    token.attrSet("class", "unverified")
    token.attrSet("title", link.host)


def _image_allowed(src: str, policy: LinkPolicy) -> bool:
    if _is_relative(src) and "\\" not in src:
        return True
    link = parse_link(src, policy)
    return link.official and link.href is not None


def _judge_inline(children: list[Token], policy: LinkPolicy, out_url: str) -> list[Token]:
    kept: list[Token] = []
    for child in children:
        if child.type == "link_open":
            _judge_link(child, policy, out_url)
        elif child.type == "image" and not _image_allowed(str(child.attrGet("src") or ""), policy):
            # An outside image would tell another site who reads the article; show its alt text.
            child = Token("text", "", 0, content=child.content)
        kept.append(child)
    return kept


def render_markdown(text: str, policy: LinkPolicy, *, out_url: str) -> str:
    """Safe HTML for an article body; ``out_url`` is the warning page for outside links."""
    tokens = _md.parse(text)
    for token in tokens:
        if token.type == "inline" and token.children:
            token.children = _judge_inline(token.children, policy, out_url)
    html = _md.renderer.render(tokens, _md.options, {})
    return sanitise(html)


def sanitise(html: str) -> str:
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        allowed_classes=ALLOWED_CLASSES,
        url_schemes={"http", "https"},
        link_rel="noopener noreferrer",
        strip_comments=True,
    )


def plain_text(markdown: str) -> str:
    """The words of a Markdown text without its markup, for snippets and search."""
    tokens = _md.parse(markdown)
    words: list[str] = []
    for token in tokens:
        if token.type == "inline" and token.children:
            words += [c.content for c in token.children if c.type in ("text", "code_inline")]
        elif token.type in ("code_block", "fence"):
            words.append(token.content)
    return _PLAIN_SPACE.sub(" ", " ".join(words)).strip()
