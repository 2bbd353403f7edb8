"""Pure parts of the knowledge base: the file format, language tags, Markdown, tokens."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledgerdesk.knowledge.files import (
    ArticleFile,
    ArticleFileError,
    parse_article,
    read_directory,
    render_article,
    write_directory,
)
from ledgerdesk.knowledge.locales import (
    accept_language,
    best_locale,
    canonical_locale,
    ui_language,
)
from ledgerdesk.knowledge.rendering import plain_text, render_markdown
from ledgerdesk.knowledge.search import LexicalIndex, rank, strip_markdown, tokenize
from ledgerdesk.web.links import LinkPolicy

FIXTURES = Path(__file__).parent / "fixtures" / "kb"
POLICY = LinkPolicy(("harbor.example",))


def _text(**front: str) -> str:
    lines = "".join(f"{key}: {value}\n" for key, value in front.items())
    return f"---\n{lines}---\n\nSome body.\n"


GOOD = {"title": "Fees", "slug": "fees", "locale": "en", "category": "trading", "tags": "[fees]"}


def test_it_parses_a_file_whose_name_and_front_matter_agree() -> None:
    article = parse_article("fees.en.md", _text(**GOOD))
    assert article == ArticleFile("fees", "en", "Fees", "trading", ("fees",), "Some body.")
    assert article.status == "published"


def test_it_names_the_file_when_the_slug_disagrees_with_the_file_name() -> None:
    with pytest.raises(ArticleFileError) as caught:
        parse_article("fee.en.md", _text(**GOOD))
    assert str(caught.value).startswith("fee.en.md: ")
    assert "slug 'fee'" in str(caught.value) and "'fees'" in str(caught.value)


def test_it_reports_a_locale_that_disagrees_with_the_file_name() -> None:
    with pytest.raises(ArticleFileError, match="locale 'zh-Hans'"):
        parse_article("fees.zh-Hans.md", _text(**GOOD))


def test_two_spellings_of_one_locale_agree() -> None:
    article = parse_article("fees.zh-hans.md", _text(**{**GOOD, "locale": "zh_Hans"}))
    assert article.locale == "zh-Hans"


def test_it_lists_every_problem_of_a_file_at_once() -> None:
    text = "---\ntitle: 1.10\nslug: fees\nlocale: xx\ntagz: [a]\ntags: [no]\n---\n"
    with pytest.raises(ArticleFileError) as caught:
        parse_article("fees.en.md", text)
    messages = [problem.message for problem in caught.value.problems]
    assert any("unknown front matter keys: tagz" in m for m in messages)
    assert any("category is missing" in m for m in messages)
    assert any("title must be text" in m for m in messages)
    assert any("'xx' is not a language" in m for m in messages)
    assert any("tag False is not text" in m for m in messages)
    assert any("body is empty" in m for m in messages)


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("fees.md", _text(**GOOD), "<slug>.<locale>.md"),
        ("fees.en.md", "title: x\n", "must start with a '---'"),
        ("fees.en.md", "---\ntitle: x\n", "not closed"),
        ("fees.en.md", "---\n[unclosed\n---\nbody", "not valid YAML"),
        ("fees.en.md", "---\n- a list\n---\nbody", "must be a YAML mapping"),
        ("fees.en.md", _text(**{**GOOD, "status": "live"}), "status must be one of"),
        ("fees.en.md", _text(**{**GOOD, "slug": "Fees Page"}), "lower-case letters"),
    ],
)
def test_it_refuses_malformed_files_with_a_reason(name: str, text: str, expected: str) -> None:
    with pytest.raises(ArticleFileError, match=expected):
        parse_article(name, text)


def test_rendering_then_parsing_gives_the_same_article() -> None:
    article = ArticleFile(
        "deposit", "zh-Hans", "充值: 为什么没到账？", "deposits", ("USDT", "no", "3-D Secure"),
        "正文 **粗体**\n\n- 一\n- 二", "draft",
    )  # fmt: skip
    text = render_article(article)
    assert "tags: [USDT, 'no', 3-D Secure]" in text
    assert "status: draft" in text
    assert parse_article(article.filename, text) == article


def test_the_fixture_files_are_already_canonical() -> None:
    for path in FIXTURES.glob("*.md"):
        text = path.read_text(encoding="utf-8")
        assert render_article(parse_article(path.name, text)) == text, path.name


def test_reading_a_directory_collects_articles_categories_and_problems(tmp_path: Path) -> None:
    for path in FIXTURES.iterdir():
        (tmp_path / path.name).write_bytes(path.read_bytes())
    (tmp_path / "broken.en.md").write_text("no front matter", encoding="utf-8")
    (tmp_path / "latin1.en.md").write_bytes("---\ntitle: caf\xe9\n".encode("latin-1"))
    (tmp_path / "notes.txt").write_text("ignored", encoding="utf-8")
    bundle = read_directory(tmp_path)
    assert sorted(a.filename for a in bundle.articles) == sorted(
        p.name for p in FIXTURES.glob("*.md")
    )
    assert bundle.categories["withdrawals"] == {"en": "Withdrawals", "zh-Hans": "提币"}
    assert list(bundle.categories) == ["withdrawals", "deposits", "security"]
    assert sorted(p.filename for p in bundle.problems) == ["broken.en.md", "latin1.en.md"]
    assert "not UTF-8" in next(p.message for p in bundle.problems if p.filename == "latin1.en.md")


def test_one_article_in_two_files_is_a_problem(tmp_path: Path) -> None:
    (tmp_path / "fees.zh-Hans.md").write_text(_text(**{**GOOD, "locale": "zh-Hans"}), "utf-8")
    (tmp_path / "fees.zh_Hans.md").write_text(_text(**{**GOOD, "locale": "zh-Hans"}), "utf-8")
    bundle = read_directory(tmp_path)
    assert len(bundle.articles) == 1
    assert [p.message for p in bundle.problems] == ["the same article as fees.zh-Hans.md"]


def test_writing_a_directory_reproduces_the_files(tmp_path: Path) -> None:
    bundle = read_directory(FIXTURES)
    written = write_directory(tmp_path, bundle.articles, bundle.categories)
    assert sorted(written) == sorted(p.name for p in FIXTURES.iterdir())
    for name in written:
        assert (tmp_path / name).read_bytes() == (FIXTURES / name).read_bytes(), name


# Language tags -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "canonical"),
    [
        ("en", "en"),
        ("EN", "en"),
        ("zh-hans", "zh-Hans"),
        ("zh_Hans", "zh-Hans"),
        ("pt-br", "pt-BR"),
    ],
)
def test_locales_are_stored_in_one_canonical_spelling(tag: str, canonical: str) -> None:
    assert canonical_locale(tag) == canonical


@pytest.mark.parametrize("tag", ["", "xx", "english", "zh-Hans-!!", "e" * 40])
def test_a_tag_that_is_no_language_is_refused(tag: str) -> None:
    with pytest.raises(ValueError, match="language"):
        canonical_locale(tag)


def test_the_best_locale_respects_script_and_order() -> None:
    available = ["en", "zh-Hans"]
    assert best_locale(["zh-CN", "en"], available) == "zh-Hans"
    assert best_locale(["zh"], available) == "zh-Hans"
    assert best_locale(["zh-TW"], available) is None  # traditional readers are not sent simplified
    assert best_locale(["en-GB"], available) == "en"
    assert best_locale(["fr", "de"], available) is None


def test_accept_language_is_ordered_by_quality() -> None:
    assert accept_language("en;q=0.5, zh-CN, fr;q=0, *;q=0.1") == ["zh-CN", "en"]
    assert accept_language(None) == []


def test_the_console_language_follows_the_article_locale() -> None:
    assert ui_language("zh-Hans") == "zh_Hans"
    assert ui_language("zh-Hant") == "en"
    assert ui_language("pt-BR") == "en"


# Markdown ----------------------------------------------------------------------


def _render(markdown: str) -> str:
    return render_markdown(markdown, POLICY, out_url="/help/en/out")


def test_raw_html_in_markdown_never_becomes_markup() -> None:
    html = _render("<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>\n\nHi <b>there</b>")
    assert "<script" not in html and "<img" not in html and "<b>" not in html
    assert "&lt;script&gt;" in html


def test_links_to_official_domains_stay_links_and_others_go_through_the_warning_page() -> None:
    html = _render("[fees](https://harbor.example/fees) and [login](https://harb0r.io/login)")
    assert '<a href="https://harbor.example/fees"' in html
    assert 'href="/help/en/out?u=https%3A%2F%2Fharb0r.io%2Flogin"' in html
    assert 'class="unverified"' in html


def test_script_links_and_protocol_relative_links_are_not_followed() -> None:
    html = _render("[a](javascript:alert(1)) [b](//evil.example/x) [c](/help/en/a/fees)")
    assert "javascript:" not in html.replace("[a](javascript:alert(1))", "")
    assert "evil.example" not in html
    assert '<a href="/help/en/a/fees"' in html


def test_outside_images_are_replaced_by_their_description() -> None:
    html = _render("![tracker](https://evil.example/p.png) ![logo](/static/logo.png)")
    assert "evil.example" not in html
    assert "tracker" in html
    assert '<img src="/static/logo.png" alt="logo">' in html


def test_tables_and_code_are_rendered() -> None:
    html = _render("| a | b |\n|---|---|\n| 1 | 2 |\n\n```\n<code>\n```")
    assert "<table>" in html and "<td>1</td>" in html
    assert "&lt;code&gt;" in html


def test_plain_text_drops_the_markup() -> None:
    assert plain_text("# Title\n\nSome **bold** `code`") == "Title Some bold code"


# Tokens ------------------------------------------------------------------------


def test_chinese_is_cut_into_words_and_english_is_lower_cased() -> None:
    words = tokenize("我的USDT充值没有到账, Deposit NOT credited")
    assert "usdt" in words and "充值" in words and "到账" in words
    assert "deposit" in words and "credited" in words
    assert "的" not in words and "我" not in words


def test_full_width_letters_match_their_ascii_spelling() -> None:
    assert "usdt" in tokenize("ＵＳＤＴ提币")


# Ranking -----------------------------------------------------------------------


def _index() -> LexicalIndex:
    bundle = read_directory(FIXTURES)
    return LexicalIndex.of(
        [
            (number, a.slug, a.locale, a.title, a.category, list(a.tags), a.body)
            for number, a in enumerate(bundle.articles, start=1)
        ]
    )


def test_a_chinese_question_ranks_the_chinese_version_first() -> None:
    hits = rank(_index(), "提币一直待处理怎么办", "zh-Hans", 3)
    assert [(hit.slug, hit.locale, hit.fallback) for hit in hits[:1]] == [
        ("withdrawal-pending", "zh-Hans", False)
    ]
    assert "安全审核" in hits[0].snippet or "待处理" in hits[0].snippet


def test_an_english_question_on_a_chinese_page_shows_the_chinese_version() -> None:
    hits = rank(_index(), "withdrawal pending", "zh-Hans", 3)
    assert (hits[0].slug, hits[0].locale) == ("withdrawal-pending", "zh-Hans")


def test_an_article_missing_in_the_readers_language_stands_in_and_says_so() -> None:
    hits = rank(_index(), "TRC20 ERC20 wrong network", "zh-Hans", 3)
    assert (hits[0].slug, hits[0].locale, hits[0].fallback) == ("wrong-network", "en", True)


def test_a_question_without_known_words_finds_nothing() -> None:
    assert rank(_index(), "lasagne", "en", 5) == []
    assert rank(_index(), "the of and", "en", 5) == []  # stop words only


def test_the_markdown_strip_keeps_the_words() -> None:
    text = strip_markdown("# Title\n\n| a | b |\n|---|:--|\n\n- **bold** [link](https://x.io) `c`")
    assert text == "Title a b bold link c"
