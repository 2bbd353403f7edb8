"""POST /api/v1/assistant/answer: shape, auth, bad input, rate limit, index refresh."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from ledgerdesk.app import create_app
from ledgerdesk.db.engine import Database
from ledgerdesk.events.bus import MemoryEventBus
from ledgerdesk.knowledge.transfer import import_directory
from ledgerdesk.settings import Settings
from tests.api_support import API, assert_error, bearer
from tests.assistant_fixtures import write_kb
from tests.conftest import World

URL = f"{API}/assistant/answer"


def _lexical(settings: Settings, **changes: object) -> Settings:
    # Most API tests need no dense vectors: the route, not the model, is under test.
    return settings.model_copy(update={"assistant_dense": False, **changes})


@pytest.fixture
async def kb(db: Database, tmp_path: Path) -> Path:
    directory = write_kb(tmp_path / "kb")
    await import_directory(db, directory)
    return directory


@pytest.fixture
async def http(
    settings: Settings, db: Database, bus: MemoryEventBus, kb: Path
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(_lexical(settings), db=db, bus=bus)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def test_an_agent_gets_the_answer_in_the_documented_shape(
    http: httpx.AsyncClient, world: World
) -> None:
    response = await http.post(
        URL, json={"question": "forgot the memo for my XRP deposit"}, headers=world.bob.headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"answer", "sources", "confidence", "handoff", "reason"}
    assert body["handoff"] is False
    assert body["reason"] is None
    assert 0 <= body["confidence"] <= 1
    assert body["sources"][0] == {
        "slug": "missing-memo-tag",
        "locale": "en",
        "title": "I forgot the memo or tag on my deposit",
        "score": body["sources"][0]["score"],
    }
    assert "/help/en/a/missing-memo-tag" in body["answer"]


async def test_a_customer_token_may_ask_and_a_hand_off_says_why(
    http: httpx.AsyncClient, world: World
) -> None:
    customer = await world.make_customer()
    token = await world.customer_token(customer)
    response = await http.post(
        URL, json={"question": "转人工", "locale": "zh-Hans"}, headers=bearer(token)
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["handoff"] is True
    assert body["reason"] == "needs_human:human_requested"
    assert "人工客服" in body["answer"]


async def test_anonymous_callers_are_refused(http: httpx.AsyncClient, kb: Path) -> None:
    response = await http.post(URL, json={"question": "deposit"})
    assert_error(response, 401)


async def test_a_token_without_the_conversation_scope_is_refused(
    http: httpx.AsyncClient, world: World
) -> None:
    customer = await world.make_customer()
    token = await world.customer_token(customer, scopes=["conversations:write"])
    response = await http.post(URL, json={"question": "deposit"}, headers=bearer(token))
    assert_error(response, 403, "conversations:read")


@pytest.mark.parametrize(
    ("payload", "word"),
    [
        ({}, "question"),
        ({"question": ""}, "question"),
        ({"question": "   "}, "question"),
        ({"question": "x" * 2001}, "question"),
        ({"question": "deposit", "locale": "not a locale"}, "locale"),
        ({"question": "deposit", "extra": 1}, "extra"),
        ({"question": 42}, "question"),
    ],
)
async def test_bad_questions_get_a_422_naming_the_field(
    http: httpx.AsyncClient, world: World, payload: dict[str, object], word: str
) -> None:
    response = await http.post(URL, json=payload, headers=world.bob.headers)
    error = assert_error(response, 422)
    assert word in str(error["details"]) + error["message"]


async def test_questions_are_rate_limited_per_caller(
    settings: Settings, db: Database, bus: MemoryEventBus, kb: Path, world: World
) -> None:
    app = create_app(_lexical(settings, assistant_answers_per_minute=2), db=db, bus=bus)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        for _ in range(2):
            ok = await http.post(URL, json={"question": "deposit"}, headers=world.bob.headers)
            assert ok.status_code == 200
        refused = await http.post(URL, json={"question": "deposit"}, headers=world.bob.headers)
        assert_error(refused, 429, "too many questions")
        # Another caller has a budget of their own.
        other = await http.post(URL, json={"question": "deposit"}, headers=world.carol.headers)
        assert other.status_code == 200


async def test_the_index_is_rebuilt_after_an_article_changes(
    http: httpx.AsyncClient, world: World, db: Database, bus: MemoryEventBus, tmp_path: Path
) -> None:
    question = {"question": "how do I enable the anti-phishing code", "locale": "en"}
    before = (await http.post(URL, json=question, headers=world.bob.headers)).json()
    assert "anti-phishing-code" not in [s["slug"] for s in before["sources"]]

    extra = tmp_path / "more"
    extra.mkdir()
    (extra / "anti-phishing-code.en.md").write_text(
        "---\ntitle: Set an anti-phishing code\nslug: anti-phishing-code\nlocale: en\n"
        "category: security\ntags: [phishing]\n---\n\n"
        "An anti-phishing code appears in every genuine email we send you.\n",
        encoding="utf-8",
    )
    await import_directory(db, extra, bus=bus)  # announces knowledge.article_changed

    after = (await http.post(URL, json=question, headers=world.bob.headers)).json()
    assert after["sources"][0]["slug"] == "anti-phishing-code"
