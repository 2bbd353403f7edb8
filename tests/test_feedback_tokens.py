"""Survey link tokens, without I/O: what we sign comes back; any change, another key,
a cut or a made-up token is refused as a forgery; a genuine old token as expired."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ledgerdesk.feedback.tokens import BadToken, ExpiredToken, make_token, read_token

KEY = "k" * 48
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def _token(conversation_id: int = 42, nonce: str = "n0nce-AbC_123xyz", days: int = 30) -> str:
    return make_token(KEY, conversation_id, nonce, NOW + timedelta(days=days))


def test_a_token_gives_back_its_conversation_nonce_and_expiry() -> None:
    content = read_token(KEY, _token(), now=NOW)
    assert content.conversation_id == 42
    assert content.nonce == "n0nce-AbC_123xyz"
    assert content.expires_at == NOW + timedelta(days=30)


def test_the_token_is_url_safe_and_short() -> None:
    token = _token(conversation_id=2**62)
    assert len(token) < 120
    assert all(c.isalnum() or c in "._-" for c in token)


@pytest.mark.parametrize("part", [1, 2, 3, 4])
def test_changing_any_part_of_a_token_makes_it_a_forgery(part: int) -> None:
    pieces = _token().split(".")
    original = pieces[part]
    for changed in {original[:-1] + ("2" if original[-1] != "2" else "3"), "9" + original[1:]}:
        pieces[part] = changed
        with pytest.raises(BadToken, match="not valid"):
            read_token(KEY, ".".join(pieces), now=NOW)


def test_a_token_signed_with_another_key_is_a_forgery() -> None:
    other = make_token("another key " * 4, 42, "n0nce-AbC_123xyz", NOW + timedelta(days=1))
    with pytest.raises(BadToken):
        read_token(KEY, other, now=NOW)


def test_an_old_genuine_token_is_expired_but_an_old_forgery_is_still_a_forgery() -> None:
    token = _token(days=1)
    assert read_token(KEY, token, now=NOW + timedelta(hours=23)).conversation_id == 42
    with pytest.raises(ExpiredToken):
        read_token(KEY, token, now=NOW + timedelta(days=1))
    forged = token[:-1] + ("A" if token[-1] != "A" else "B")
    with pytest.raises(BadToken):
        read_token(KEY, forged, now=NOW + timedelta(days=2))


@pytest.mark.parametrize(
    "junk",
    [
        "",
        "v1",
        "v2.42.n0nce-AbC_123xyz.1800000000." + "A" * 43,
        "v1.0.n0nce-AbC_123xyz.1800000000." + "A" * 43,
        "v1.-4.n0nce-AbC_123xyz.1800000000." + "A" * 43,
        "v1.42.short.1800000000." + "A" * 43,
        "v1.42.n0nce AbC 123xyz.1800000000." + "A" * 43,
        "v1.42.n0nce-AbC_123xyz.1800000000." + "A" * 42,
        "v1.42.n0nce-AbC_123xyz.1800000000." + "A" * 43 + "\n",
        "v1.42.n0nce-AbC_123xyz.18e8." + "A" * 43,
        "x" * 10_000,
        "v1.４２.n0nce-AbC_123xyz.1800000000." + "A" * 43,
    ],
)
def test_malformed_tokens_are_refused_as_forgeries(junk: str) -> None:
    with pytest.raises(BadToken):
        read_token(KEY, junk, now=NOW)


def test_a_naive_expiry_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        make_token(KEY, 1, "n0nce-AbC_123xyz", datetime(2030, 1, 1))
