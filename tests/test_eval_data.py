"""The demo help center and the assistant's evaluation sets are well-formed data.

Both are written by hand, so this checks what a typo would break: front matter that
disagrees with the file name, an article too short to quote, a question whose expected
article does not exist, an id used twice, a set that lost one of its categories.
No I/O beyond reading the files in the repository.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
KB_DIR = ROOT / "src" / "ledgerdesk" / "demo_data" / "helpcenter"
EVAL_DIR = ROOT / "eval"
QUESTION_FILES = ("assistant_questions.jsonl", "assistant_validation.jsonl")
LOCALES = {"en", "zh-Hans"}
CATEGORIES = {
    "getting-started",
    "account-security",
    "deposits",
    "withdrawals",
    "networks-and-fees",
    "verification",
    "trading",
    "p2p",
    "earn",
    "fraud-and-scams",
    "api",
}
QUESTION_CATEGORIES = {"answerable", "needs_human", "out_of_scope"}
FILE_NAME = re.compile(r"^(?P<slug>[a-z0-9]+(?:-[a-z0-9]+)*)\.(?P<locale>en|zh-Hans)\.md$")
FRONT_MATTER = re.compile(r"\A---\n(?P<meta>.*?)\n---\n(?P<body>.*)\Z", re.DOTALL)
CJK = re.compile(r"[\u4e00-\u9fff]")


def _articles() -> list[tuple[Path, dict[str, Any], str]]:
    out = []
    for path in sorted(KB_DIR.glob("*.md")):
        match = FRONT_MATTER.match(path.read_text(encoding="utf-8"))
        assert match, f"{path.name}: no YAML front matter between --- lines"
        meta = yaml.safe_load(match["meta"])
        assert isinstance(meta, dict), f"{path.name}: front matter is not a mapping"
        out.append((path, meta, match["body"]))
    return out


ARTICLES = _articles()
SLUGS = {meta["slug"] for _, meta, _ in ARTICLES}


def _questions(name: str) -> list[dict[str, Any]]:
    lines = (EVAL_DIR / name).read_text(encoding="utf-8").splitlines()
    rows = []
    for number, line in enumerate(lines, start=1):
        assert line.strip(), f"{name}:{number}: blank line"
        row = json.loads(line)
        assert isinstance(row, dict), f"{name}:{number}: not an object"
        rows.append(row)
    return rows


def test_the_help_center_has_at_least_44_articles_in_both_languages() -> None:
    locales_by_slug: dict[str, set[str]] = {}
    for _, meta, _ in ARTICLES:
        locales_by_slug.setdefault(meta["slug"], set()).add(meta["locale"])
    assert len(locales_by_slug) >= 44
    assert len(ARTICLES) >= 88
    single = sorted(slug for slug, locales in locales_by_slug.items() if len(locales) == 1)
    assert 2 <= len(single) <= 3, single
    # The single-locale articles are deliberate; the eval README names them.
    readme = (EVAL_DIR / "README.md").read_text(encoding="utf-8")
    for slug in single:
        assert f"`{slug}`" in readme, f"{slug} is single-locale but not listed in eval/README.md"


@pytest.mark.parametrize("path,meta,body", ARTICLES, ids=[p.name for p, _, _ in ARTICLES])
def test_every_article_front_matter_matches_its_file_name_and_is_complete(
    path: Path, meta: dict[str, Any], body: str
) -> None:
    name = FILE_NAME.match(path.name)
    assert name, f"{path.name} is not <slug>.<en|zh-Hans>.md"
    assert meta.get("slug") == name["slug"]
    assert meta.get("locale") == name["locale"]
    assert isinstance(meta.get("title"), str) and meta["title"].strip()
    assert meta.get("category") in CATEGORIES
    tags = meta.get("tags")
    assert isinstance(tags, list) and tags and all(isinstance(t, str) and t for t in tags)
    assert len(re.findall(r"^## \S", body, re.MULTILINE)) >= 2, "needs ## sections to quote"


@pytest.mark.parametrize("path,meta,body", ARTICLES, ids=[p.name for p, _, _ in ARTICLES])
def test_every_article_is_long_enough_to_answer_from_and_in_its_own_language(
    path: Path, meta: dict[str, Any], body: str
) -> None:
    cjk = len(CJK.findall(body))
    if meta["locale"] == "en":
        words = len(re.findall(r"[A-Za-z0-9][A-Za-z0-9'’.-]*", body))
        assert 300 <= words <= 700, f"{path.name}: {words} words"
        assert cjk == 0
    else:
        assert cjk >= 400, f"{path.name}: {cjk} Chinese characters"


def test_the_same_slug_has_the_same_category_in_every_locale() -> None:
    category: dict[str, set[str]] = {}
    for _, meta, _ in ARTICLES:
        category.setdefault(meta["slug"], set()).add(meta["category"])
    assert {slug: c for slug, c in category.items() if len(c) > 1} == {}


@pytest.mark.parametrize("name", QUESTION_FILES)
def test_every_question_line_is_complete_and_points_at_an_existing_article(name: str) -> None:
    for row in _questions(name):
        assert set(row) == {"id", "question", "locale", "expected", "category"}, row
        assert isinstance(row["question"], str) and row["question"].strip(), row
        assert row["locale"] in LOCALES, row
        assert row["category"] in QUESTION_CATEGORIES, row
        if row["category"] == "answerable":
            assert row["expected"] in SLUGS, row
            assert (KB_DIR / f"{row['expected']}.en.md").exists() or (
                KB_DIR / f"{row['expected']}.zh-Hans.md"
            ).exists()
        else:
            assert row["expected"] is None, row


def test_question_ids_are_unique_across_both_sets_and_no_question_is_in_both() -> None:
    rows = [row for name in QUESTION_FILES for row in _questions(name)]
    ids = Counter(row["id"] for row in rows)
    assert [i for i, n in ids.items() if n > 1] == []
    texts = Counter(row["question"].strip().lower() for row in rows)
    assert [t for t, n in texts.items() if n > 1] == []


@pytest.mark.parametrize(("name", "minimum"), [(QUESTION_FILES[0], 260), (QUESTION_FILES[1], 110)])
def test_each_set_has_its_size_and_every_kind_of_question_in_both_languages(
    name: str, minimum: int
) -> None:
    rows = _questions(name)
    assert len(rows) >= minimum
    kinds = Counter((row["category"], row["locale"]) for row in rows)
    for category in QUESTION_CATEGORIES:
        for locale in LOCALES:
            assert kinds[(category, locale)] > 0, (category, locale)
    null_share = sum(row["expected"] is None for row in rows) / len(rows)
    assert 0.15 <= null_share <= 0.3, null_share


def test_questions_are_paraphrases_not_article_titles() -> None:
    titles = {meta["title"].strip().lower() for _, meta, _ in ARTICLES}
    rows = [row for name in QUESTION_FILES for row in _questions(name)]
    assert [row["id"] for row in rows if row["question"].strip().lower() in titles] == []
