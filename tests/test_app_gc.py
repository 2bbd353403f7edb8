"""A served app moves its start-up objects out of the collector's full collections."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledgerdesk.app import create_app
from ledgerdesk.db.engine import Database
from ledgerdesk.events.bus import MemoryEventBus
from ledgerdesk.settings import Settings, load_settings


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # the rest of the suite collects as usual


async def test_start_up_freezes_what_it_loaded(
    unfrozen: None, tmp_path: Path, database_url: str, db: Database
) -> None:
    settings: Settings = load_settings(
        environ={},
        data_dir=tmp_path,
        environment="development",
        secret_key="test-secret-key-that-is-long-enough-0123456789",
        database_url=database_url,
        job_worker_in_server=False,
    )
    app = create_app(settings, db=db, bus=MemoryEventBus())
    assert gc.get_freeze_count() == 0
    async with app.router.lifespan_context(app):
        frozen = gc.get_freeze_count()
    # Everything alive at start-up, the app included: tens of thousands of objects.
    assert frozen > 10_000


async def test_the_suite_itself_is_left_alone(
    unfrozen: None, settings: Settings, db: Database
) -> None:
    app = create_app(settings, db=db, bus=MemoryEventBus())
    async with app.router.lifespan_context(app):
        assert gc.get_freeze_count() == 0
