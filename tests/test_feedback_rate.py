"""Survey links are their own credential, so answers are limited per address."""

from __future__ import annotations

import httpx
import pytest

from ledgerdesk.db.engine import Database
from ledgerdesk.events.bus import MemoryEventBus
from ledgerdesk.settings import Settings
from tests.api_support import API
from tests.conftest import World
from tests.feedback_support import survey_of
from tests.test_feedback_web import _email_survey_link


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"survey_answers_per_minute_per_ip": 3})


async def test_answers_over_the_limit_get_a_429_that_keeps_the_text_and_store_nothing(
    client: httpx.AsyncClient, world: World, db: Database, settings: Settings, bus: MemoryEventBus
) -> None:
    conversation_id, token = await _email_survey_link(client, world, db, settings, bus, "en")
    for rating in ("4", "3", "5"):
        page = await client.post(f"/survey/{token}", data={"rating": rating, "comment": "ok"})
        assert page.status_code == 200, page.text

    page = await client.post(f"/survey/{token}", data={"rating": "1", "comment": "Kept words"})

    assert page.status_code == 429
    assert "Too many answers from your address" in page.text and "Kept words" in page.text
    survey = await survey_of(db, conversation_id)
    assert survey is not None and survey.rating == 5, "the refused answer changed nothing"
    as_json = await client.post(f"{API}/feedback/surveys/{token}", json={"rating": 1})
    assert as_json.status_code == 429
    assert as_json.json()["error"]["code"] == "rate_limited"
    assert int(as_json.headers["retry-after"]) >= 1
    read = await client.get(f"/survey/{token}")
    assert read.status_code == 200, "reading the page is not limited"
