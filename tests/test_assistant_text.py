"""Normalisation, tokenisation and language detection (pure functions, no I/O)."""

from __future__ import annotations

from ledgerdesk.assistant.passages import Doc, split_passages
from ledgerdesk.assistant.text import detect_locale, fold_english, normalise, tokenize


def test_chinese_is_segmented_and_english_tokens_inside_it_survive() -> None:
    tokens = tokenize("我的USDT充值没到账，用的是TRC20网络")
    assert "usdt" in tokens
    assert "trc20" in tokens
    assert "deposit" in tokens  # 充值 and "deposit" meet on one token
    assert "network" in tokens
    assert "的" not in tokens  # stop word


def test_synonyms_meet_on_one_token_in_both_languages() -> None:
    assert "twofa" in tokenize("I lost my Google Authenticator")
    assert "twofa" in tokenize("谷歌验证器丢了")
    assert "twofa" in tokenize("reset 2FA")
    assert "memotag" in tokenize("forgot the destination tag")
    assert "memotag" in tokenize("忘记填写备注")
    assert tokenize("TRC-20")[0] == tokenize("tron")[0] == tokenize("波场")[0] == "trc20"
    assert tokenize("ERC20") == tokenize("Ethereum")


def test_english_words_are_folded_and_accents_removed() -> None:
    assert tokenize("Deposits deposited depositing") == ["deposit"] * 3
    assert fold_english("transferred") == "transfer"
    assert fold_english("fees") == "fee"
    assert fold_english("address") == "address"
    assert normalise("Café ＵＳＤＴ") == "cafe usdt"


def test_the_language_is_read_from_the_share_of_chinese_characters() -> None:
    assert detect_locale("how do I reset 2FA") == "en"
    assert detect_locale("我的USDT充值TRC20没到账") == "zh-Hans"
    assert detect_locale("USDT TRC20 withdrawal pending 提现") == "en"
    assert detect_locale("") == "en"


def test_articles_are_cut_into_passages_at_headings() -> None:
    doc = Doc(
        "x",
        "en",
        "Title",
        "Intro **bold** and a [link](https://example.com).\n\n"
        "## Part one\n\nOne.\n\n## Part two\n\nTwo.",
    )
    passages = split_passages(doc)
    assert [p.heading for p in passages] == ["", "Part one", "Part two"]
    assert passages[0].text == "Intro bold and a link (https://example.com)."
    assert passages[2].embedding_text(doc.title) == "Title. Part two. Two."


def test_a_long_section_is_split_between_paragraphs() -> None:
    paragraph = "word " * 100
    doc = Doc("x", "en", "Title", "\n\n".join([paragraph] * 5))
    passages = split_passages(doc)
    assert len(passages) > 1
    assert all(len(p.text) <= 1400 for p in passages)
