"""The seeded demo's dashboard: a supervisor sees real figures from the demo's activity,
drills into one and exports it."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from ledgerdesk.analytics import queries
from ledgerdesk.app import create_app
from ledgerdesk.db.engine import Database
from ledgerdesk.demo import seed_demo
from ledgerdesk.settings import Settings, load_settings


@pytest.fixture(scope="module")
async def demo(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[Settings, str]]:
    data_dir = tmp_path_factory.mktemp("analytics-demo")
    settings = load_settings(environ={}, data_dir=data_dir, environment="test")
    login_file = Path(data_dir) / "login.txt"
    assert await seed_demo(settings, login_file, only_if_empty=True)
    found = re.search(r"agents: .* / +(\S+)", login_file.read_text())
    assert found
    yield settings, found.group(1)


async def test_a_supervisor_sees_the_demo_figures_drills_in_and_exports(
    demo: tuple[Settings, str],
) -> None:
    settings, password = demo
    db = Database.from_settings(settings)
    try:
        async with db.sessionmaker() as session:
            period = queries.parse_range(None, None, days=30)
            overview = await queries.overview(session, period)
        figures = overview["figures"]
        assert figures["conversations"]["value"] >= 10
        assert figures["first_response"]["count"] >= 1
        assert figures["backlog"]["value"] >= 1
        app = create_app(settings, db=db)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            page = await client.get("/login")
            token = re.search(r'name="form_token" value="([^"]+)"', page.text)
            assert token
            await client.post(
                "/login",
                data={
                    "email": "priya.raman@demo.ledgerdesk.test",
                    "password": password,
                    "form_token": token.group(1),
                    "next": "/inbox",
                },
            )
            dashboard = await client.get("/analytics", params={"days": 30})
            assert dashboard.status_code == 200, dashboard.text
            assert f"{figures['conversations']['value']:,}" in dashboard.text
            drill = await client.get(
                "/analytics/conversations",
                params={**period.as_dict(), "metric": "first_response"},
            )
            assert drill.status_code == 200
            shown = re.search(r'<p id="drill-total"><strong>([\d,]+)</strong>', drill.text)
            assert (
                shown
                and int(shown.group(1).replace(",", "")) == (figures["first_response"]["count"])
            )
            exported = await client.get(
                "/api/v1/analytics/conversations",
                params={**period.as_dict(), "metric": "first_response", "format": "csv"},
            )
            assert exported.status_code == 200
            rows = list(csv.DictReader(io.StringIO(exported.text)))
            assert len(rows) == figures["first_response"]["count"]
    finally:
        await db.dispose()
