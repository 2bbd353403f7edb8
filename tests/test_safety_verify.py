"""Is it really us? Normalising channels, the public verify API and page, its rate limit."""

from __future__ import annotations

import httpx
import pytest

from ledgerdesk.app import create_app
from ledgerdesk.db.engine import Database
from ledgerdesk.events.bus import MemoryEventBus
from ledgerdesk.safety.verify import (
    Channel,
    NotUnderstood,
    find_match,
    normalise_channel,
    parse_question,
)
from ledgerdesk.settings import Settings, load_settings
from tests.api_support import API, assert_error
from tests.conftest import World

OFFICIAL = [
    ("domain", "harbor.example", "Our website"),
    ("email", "Support@Harbor-Mail.example", "Support mailbox"),
    ("telegram", "https://t.me/HarborSupport", "Telegram support"),
    ("x", "@HarborExchange", ""),
    ("discord", "discord.gg/HarborEx", ""),
    ("phone", "+44 (20) 7946-0000", "London desk"),
    ("website", "https://medium.com/@Harbor", "Our blog"),
]


# Pure: the normal forms ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "raw", "normal"),
    [
        ("domain", "https://Harbor.Example/", "harbor.example"),
        ("domain", "bücher.example", "xn--bcher-kva.example"),
        ("email", "mailto:Support@Harbor.Example", "support@harbor.example"),
        ("telegram", "@HarborSupport", "harborsupport"),
        ("telegram", "t.me/HarborSupport", "harborsupport"),
        ("x", "https://twitter.com/HarborEx", "harborex"),
        ("discord", "https://discord.com/invite/AbCd", "discord.gg/AbCd"),
        ("discord", "@Harbor.Support", "harbor.support"),
        ("phone", "0044 20 7946 0000", "+442079460000"),
        ("website", "https://Medium.com/@Harbor/", "medium.com/@harbor"),
    ],
)
def test_each_kind_has_one_normal_form(kind: str, raw: str, normal: str) -> None:
    assert normalise_channel(kind, raw) == normal


@pytest.mark.parametrize(
    ("kind", "raw", "words"),
    [
        ("phone", "020 7946 0000", "international form"),
        ("telegram", "not a handle!", "Telegram username"),
        ("x", "@this_handle_is_far_too_long", "at most 15"),
        ("email", "nobody@", "email address"),
        ("domain", "exa mple", "not a"),
        ("discord", "https://evil.example/invite", "discord.gg"),
    ],
)
def test_bad_values_are_refused_with_a_reason(kind: str, raw: str, words: str) -> None:
    with pytest.raises(NotUnderstood, match=words):
        normalise_channel(kind, raw)


def _channels() -> list[Channel]:
    return [Channel(kind, normalise_channel(kind, value), note) for kind, value, note in OFFICIAL]


@pytest.mark.parametrize(
    ("query", "kind", "official_value"),
    [
        ("@HarborSupport", "handle", "harborsupport"),
        ("t.me/harborsupport", "telegram", "harborsupport"),
        ("https://t.me/s/HarborSupport", "telegram", "harborsupport"),
        ("tg://resolve?domain=HarborSupport", "telegram", "harborsupport"),
        ("https://support.harbor.example/x", "website", "harbor.example"),
        ("HARBOR.EXAMPLE", "domain", "harbor.example"),
        ("support@harbor-mail.example", "email", "support@harbor-mail.example"),
        ("desk@harbor.example", "email", "harbor.example"),
        ("+44 20 7946 0000", "phone", "+442079460000"),
        ("x.com/HarborExchange", "x", "harborexchange"),
        ("https://medium.com/@harbor/our-fees", "website", "medium.com/@harbor"),
    ],
)
def test_customers_questions_find_the_official_channel(
    query: str, kind: str, official_value: str
) -> None:
    question = parse_question(query)
    match = find_match(question, _channels())
    assert question.kind == kind
    assert match is not None and match.value == official_value


@pytest.mark.parametrize(
    "query",
    [
        "@HarborSupport_Help",
        "t.me/harborsupport1",
        "https://harbor.example.evil.example/login",
        "https://harbor-example.com",
        "xn--hrbor-9qa.example",
        "support@harbor-mail.example.evil.example",
        "+44 20 7946 0001",
        "https://medium.com/@harbor-official",
        "discord.gg/harborex",
        "https://harbor.example@evil.example/login",
        "https://evil.example\\@harbor.example/login",
    ],
)
def test_lookalikes_are_not_official(query: str) -> None:
    assert find_match(parse_question(query), _channels()) is None


def test_an_empty_or_unreadable_question_is_refused() -> None:
    for query in ("", "   ", "two words here", "a" * 301):
        with pytest.raises(NotUnderstood):
            parse_question(query)


# The API --------------------------------------------------------------------------------


async def _register(client: httpx.AsyncClient, world: World) -> None:
    for kind, value, note in OFFICIAL:
        response = await client.post(
            f"{API}/safety/official-channels",
            json={"kind": kind, "value": value, "note": note},
            headers=world.alice.headers,
        )
        assert response.status_code == 201, response.text


async def test_the_verify_api_answers_official_with_the_match_and_advice_in_both_languages(
    client: httpx.AsyncClient, world: World
) -> None:
    await _register(client, world)
    response = await client.get(f"{API}/verify", params={"q": "@HarborSupport"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["query"] == "@HarborSupport"
    assert body["official"] is True
    assert body["kind"] == "telegram"
    assert body["match"] == {
        "kind": "telegram",
        "value": "harborsupport",
        "note": "Telegram support",
    }
    assert "official channel" in body["advice"]["en"]
    assert "官方渠道" in body["advice"]["zh-Hans"]


async def test_the_verify_api_answers_not_official_for_an_unknown_channel(
    client: httpx.AsyncClient, world: World
) -> None:
    await _register(client, world)
    response = await client.get(f"{API}/verify", params={"q": "t.me/HarborSupportDesk"})
    body = response.json()
    assert response.status_code == 200
    assert (body["official"], body["match"], body["kind"]) == (False, None, "telegram")
    assert "NOT" in body["advice"]["en"] and "不是" in body["advice"]["zh-Hans"]


async def test_the_configured_official_domains_count_without_registering(
    db: Database, tmp_path: object, settings: Settings
) -> None:
    configured = load_settings(
        environ={},
        data_dir=settings.data_dir,
        environment="test",
        secret_key=settings.secret_key_value(),
        database_url=settings.database_url_value,
        official_domains="harbor.example",
    )
    app = create_app(configured, db=db, bus=MemoryEventBus())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        inside = await http.get(f"{API}/verify", params={"q": "https://app.harbor.example/login"})
        outside = await http.get(f"{API}/verify", params={"q": "https://harbor.example.io"})
    assert inside.json()["official"] is True
    assert inside.json()["match"]["value"] == "harbor.example"
    assert outside.json()["official"] is False


async def test_the_verify_api_refuses_what_it_cannot_read(client: httpx.AsyncClient) -> None:
    assert_error(await client.get(f"{API}/verify", params={"q": "two words"}), 422, "one")
    assert_error(await client.get(f"{API}/verify", params={"q": ""}), 422)
    assert_error(await client.get(f"{API}/verify"), 422)


async def test_the_verify_api_is_rate_limited_per_address(db: Database, settings: Settings) -> None:
    limited = load_settings(
        environ={},
        data_dir=settings.data_dir,
        environment="test",
        secret_key=settings.secret_key_value(),
        database_url=settings.database_url_value,
        verify_per_minute_per_ip=3,
    )
    app = create_app(limited, db=db, bus=MemoryEventBus())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        answers = [
            (await client.get(f"{API}/verify", params={"q": "harbor.example"})).status_code
            for _ in range(3)
        ]
        refused = await client.get(f"{API}/verify", params={"q": "harbor.example"})
        message = await client.post(f"{API}/verify/message", json={"text": "hello"})
        page = await client.get("/verify", params={"q": "harbor.example"})
        keys = await client.get(f"{API}/verify/keys")
    assert answers == [200, 200, 200]
    assert_error(refused, 429, "too many")
    assert int(refused.headers["retry-after"]) >= 1
    assert_error(message, 429)
    assert page.status_code == 429 and "too many" in page.text
    assert keys.status_code == 200, "the public keys are not limited"


# The page -------------------------------------------------------------------------------


async def test_the_verify_page_answers_in_english_and_chinese(
    client: httpx.AsyncClient, world: World
) -> None:
    await _register(client, world)
    page = await client.get("/verify")
    assert page.status_code == 200
    assert "Is it really us?" in page.text and 'name="q"' in page.text
    official = await client.get("/verify", params={"q": "@HarborExchange"})
    assert 'data-official="true"' in official.text
    chinese = await client.get(
        "/verify", params={"q": "t.me/harbor_support_team"}, headers={"Accept-Language": "zh-CN"}
    )
    assert 'data-official="false"' in chinese.text
    assert "不是我们的官方渠道" in chinese.text
    switched = await client.get("/verify", params={"lang": "zh_Hans"})
    assert '<html lang="zh-Hans">' in switched.text


async def test_the_verify_page_shows_what_it_cannot_read_on_the_page(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/verify", params={"q": "two words"})
    assert page.status_code == 200
    assert 'id="verify-error"' in page.text


async def test_a_lookalike_or_denylisted_domain_gets_a_sharper_warning(
    client: httpx.AsyncClient, world: World
) -> None:
    await _register(client, world)
    added = await client.post(
        f"{API}/safety/denylist",
        json={"kind": "domain", "value": "harbor-login.example"},
        headers=world.alice.headers,
    )
    assert added.status_code == 201, added.text
    scam = (
        await client.get(f"{API}/verify", params={"q": "https://x.harbor-login.example"})
    ).json()
    assert (scam["official"], scam["known_scam"]) == (False, True)
    assert "known scams" in scam["advice"]["en"]
    query = {"q": "https://harbor.example.account-check.com/login"}
    fake = (await client.get(f"{API}/verify", params=query)).json()
    assert fake["official"] is False and fake["known_scam"] is False
    assert fake["lookalike_of"] == "harbor.example"  # from the link detector (safety/links.py)
    assert "imitates harbor.example" in fake["advice"]["en"]
