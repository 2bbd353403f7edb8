"""The console's assistant panel: suggested articles with scores and links and a draft
reply for the last customer message, what the assistant did, and who may see it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from ledgerdesk.app import create_app
from ledgerdesk.db.engine import Database
from ledgerdesk.events.bus import MemoryEventBus
from ledgerdesk.knowledge.transfer import import_directory
from ledgerdesk.settings import Settings
from tests.api_support import API
from tests.assistant_fixtures import write_kb
from tests.conftest import World
from tests.test_auth_flow import login


@pytest.fixture
def app(settings: Settings, db: Database, bus: MemoryEventBus, tmp_path: Path):  # type: ignore[no-untyped-def]
    """The application with a BM25-only assistant (replaces conftest's ``app``)."""
    return create_app(settings.model_copy(update={"assistant_dense": False}), db=db, bus=bus)


@pytest.fixture
async def kb(db: Database, tmp_path: Path) -> None:
    await import_directory(db, write_kb(tmp_path / "kb"))


async def _conversation(client: httpx.AsyncClient, world: World, body: str, **extra: Any) -> int:
    customer = await world.make_customer("Wang Fang")
    response = await client.post(
        f"{API}/conversations",
        json={"customer": {"id": customer.id}, "body": body, **extra},
        headers=world.alice.headers,
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def test_the_conversation_page_loads_the_assistant_panel_after_itself(
    client: httpx.AsyncClient, world: World, kb: None
) -> None:
    number = await _conversation(client, world, "I forgot the memo for my XRP deposit")
    await login(client, "bob@example.org")
    page = await client.get(f"/conversations/{number}")
    assert f'hx-get="/conversations/{number}/assistant"' in page.text


async def test_the_panel_suggests_articles_and_a_draft_to_insert(
    client: httpx.AsyncClient, world: World, kb: None
) -> None:
    number = await _conversation(client, world, "I forgot the memo for my XRP deposit")
    await login(client, "bob@example.org")
    panel = await client.get(f"/conversations/{number}/assistant")
    assert panel.status_code == 200, panel.text
    assert '<a href="/help/en/a/missing-memo-tag"' in panel.text
    assert "I forgot the memo or tag on my deposit" in panel.text
    assert 'id="assistant-draft"' in panel.text and "data-insert-draft" in panel.text
    draft = panel.text.split('id="assistant-draft"', 1)[1].split("</textarea>", 1)[0]
    assert "memo" in draft.lower() and "/help/en/a/missing-memo-tag" in draft


async def test_a_chinese_question_gets_the_chinese_article(
    client: httpx.AsyncClient, world: World, kb: None
) -> None:
    number = await _conversation(client, world, "充值忘记填写Memo了怎么办")
    await login(client, "bob@example.org")
    panel = await client.get(f"/conversations/{number}/assistant")
    assert panel.status_code == 200
    assert "/help/zh-Hans/a/missing-memo-tag" in panel.text


async def test_a_case_for_a_person_gets_no_draft(
    client: httpx.AsyncClient, world: World, kb: None
) -> None:
    number = await _conversation(client, world, "My account was hacked, funds stolen")
    await login(client, "bob@example.org")
    panel = await client.get(f"/conversations/{number}/assistant")
    assert panel.status_code == 200
    assert 'id="assistant-draft"' not in panel.text
    assert "needs_human:account_compromised" in panel.text


async def test_a_viewer_sees_suggestions_but_cannot_insert(
    client: httpx.AsyncClient, world: World, kb: None
) -> None:
    number = await _conversation(client, world, "I forgot the memo for my XRP deposit")
    await login(client, "victor@example.org")
    panel = await client.get(f"/conversations/{number}/assistant")
    assert panel.status_code == 200
    assert "missing-memo-tag" in panel.text and "data-insert-draft" not in panel.text


async def test_a_conversation_of_a_private_team_stays_hidden(
    client: httpx.AsyncClient, world: World, kb: None
) -> None:
    number = await _conversation(
        client, world, "I forgot the memo for my XRP deposit", team_id=world.security.id
    )
    await login(client, "bob@example.org")
    panel = await client.get(f"/conversations/{number}/assistant")
    assert panel.status_code == 404
    assert "missing-memo-tag" not in panel.text


async def test_the_panel_needs_a_login(client: httpx.AsyncClient, world: World, kb: None) -> None:
    number = await _conversation(client, world, "I forgot the memo for my XRP deposit")
    panel = await client.get(f"/conversations/{number}/assistant")
    assert panel.status_code in (302, 303, 401)
    assert "missing-memo-tag" not in panel.text


async def test_without_any_article_the_panel_says_so(
    client: httpx.AsyncClient, world: World
) -> None:
    number = await _conversation(client, world, "I forgot the memo for my XRP deposit")
    await login(client, "bob@example.org")
    panel = await client.get(f"/conversations/{number}/assistant")
    assert panel.status_code == 200, panel.text
    assert "No article matches the last customer message." in panel.text
    assert 'id="assistant-draft"' not in panel.text
