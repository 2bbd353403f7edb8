"""Macros: the small template syntax (no I/O), language choice, the API and rendering."""

from __future__ import annotations

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledgerdesk.errors import InvalidInput
from ledgerdesk.macros.template import (
    VARIABLES,
    pick_language,
    render,
    variables_in,
)
from tests.api_support import API, assert_error
from tests.automation_support import open_conversation
from tests.conftest import World


def test_variables_are_filled_and_a_missing_one_takes_its_fallback() -> None:
    text = 'Hi {{ customer.first_name | "there" }}, about {{conversation.number}}.'
    assert variables_in(text) == ["customer.first_name", "conversation.number"]
    filled = render(text, {"customer.first_name": "Dana", "conversation.number": "#7"})
    assert filled == "Hi Dana, about #7."
    assert render(text, {"conversation.number": "#7"}) == "Hi there, about #7."
    assert render("{{ agent.name }}", {}) == ""


@pytest.mark.parametrize(
    "text",
    [
        "{{ customer.__class__ }}",
        "{{ customer.name.upper }}",
        "{{ config }}",
        "{{ customer.name }",
        "{% if x %}",
        "{{ 1 + 1 }}",
    ],
)
def test_anything_but_a_known_variable_is_refused(text: str) -> None:
    if "{%" in text:
        # Jinja statements are plain text here: no braces pair, nothing runs.
        assert variables_in(text) == []
        assert render(text, {}) == text
        return
    with pytest.raises(InvalidInput):
        variables_in(text)


@given(st.text(alphabet=st.characters(blacklist_characters="{}"), max_size=200))
def test_text_without_braces_passes_through_unchanged(text: str) -> None:
    assert variables_in(text) == []
    assert render(text, {name: "X" for name in VARIABLES}) == text


@given(st.text(max_size=50))
def test_a_value_is_inserted_verbatim_and_never_evaluated(value: str) -> None:
    assert render("<{{ customer.name }}>", {"customer.name": value}) == (
        f"<{value}>" if value.strip() else "<>"
    )


@pytest.mark.parametrize(
    ("wanted", "chosen"),
    [
        ("zh-Hans", "zh-Hans"),
        ("zh-CN", "zh-Hans"),
        ("zh", "zh-Hans"),
        ("en-GB", "en"),
        ("fr", "en"),
        (None, "en"),
    ],
)
def test_the_language_version_follows_the_conversation_with_english_as_fallback(
    wanted: str | None, chosen: str
) -> None:
    assert pick_language({"en": "a", "zh-Hans": "b"}, wanted) == chosen


def test_without_english_the_first_version_is_the_fallback() -> None:
    assert pick_language({"ja": "a", "zh-Hans": "b"}, "fr") == "ja"


async def test_admins_write_macros_agents_render_them_in_the_conversation_language(
    client: httpx.AsyncClient, world: World
) -> None:
    payload = {
        "name": "Withdrawal delay",
        "bodies": {
            "en": "Hi {{customer.first_name}}, {{agent.first_name}} here about "
            "{{conversation.number}}.",
            "zh-Hans": "{{customer.name}}您好，我是{{agent.name}}，关于 {{conversation.number}}。",
        },
    }
    refused = await client.post(f"{API}/macros", json=payload, headers=world.bob.headers)
    assert_error(refused, 403)
    created = await client.post(f"{API}/macros", json=payload, headers=world.alice.headers)
    assert created.status_code == 201, created.text
    macro_id = created.json()["id"]
    listed = await client.get(f"{API}/macros", headers=world.bob.headers)
    assert [m["name"] for m in listed.json()] == ["Withdrawal delay"]
    dana = await world.make_customer("Dana Li")
    zh = await open_conversation(client, world.alice.headers, dana.id, "提现", language="zh-CN")
    en = await open_conversation(client, world.alice.headers, dana.id, "hi", language="en")
    as_bob = {"conversation_id": zh["id"]}
    out = await client.post(
        f"{API}/macros/{macro_id}/render", json=as_bob, headers=world.bob.headers
    )
    assert out.status_code == 200, out.text
    assert out.json() == {
        "macro_id": macro_id,
        "language": "zh-Hans",
        "body": f"Dana Li您好，我是Bob Agent，关于 #{zh['id']}。",
    }
    out = await client.post(
        f"{API}/macros/{macro_id}/render",
        json={"conversation_id": en["id"]},
        headers=world.bob.headers,
    )
    assert out.json()["body"] == f"Hi Dana, Bob here about #{en['id']}."


async def test_a_macro_with_an_unknown_variable_or_no_text_is_a_422(
    client: httpx.AsyncClient, world: World
) -> None:
    bad = await client.post(
        f"{API}/macros",
        json={"name": "x", "bodies": {"en": "Hi {{ customer.password }}"}},
        headers=world.alice.headers,
    )
    assert bad.status_code == 422 and "customer.password" in bad.text
    empty = await client.post(
        f"{API}/macros", json={"name": "x", "bodies": {}}, headers=world.alice.headers
    )
    assert empty.status_code == 422
    bad_language = await client.post(
        f"{API}/macros",
        json={"name": "x", "bodies": {"english!": "hi"}},
        headers=world.alice.headers,
    )
    assert bad_language.status_code == 422
    missing = await client.post(
        f"{API}/macros/999999/render", json={"conversation_id": 1}, headers=world.bob.headers
    )
    assert_error(missing, 404)


async def test_an_agent_cannot_render_a_macro_into_a_conversation_they_cannot_see(
    client: httpx.AsyncClient, world: World
) -> None:
    created = await client.post(
        f"{API}/macros",
        json={"name": "m", "bodies": {"en": "{{customer.email}}"}},
        headers=world.alice.headers,
    )
    dana = await world.make_customer("Dana", email="dana@secret.example")
    hidden = await open_conversation(
        client, world.alice.headers, dana.id, "x", team_id=world.security.id
    )
    out = await client.post(
        f"{API}/macros/{created.json()['id']}/render",
        json={"conversation_id": hidden["id"]},
        headers=world.bob.headers,
    )
    assert_error(out, 404)
