"""The admins' job page (/admin/jobs): queue health, jobs that failed for good, and
retrying or discarding them, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from ledgerdesk.audit.models import AuditEntry
from ledgerdesk.db.base import utcnow
from ledgerdesk.db.engine import Database
from ledgerdesk.events.bus import MemoryEventBus
from ledgerdesk.jobs.models import CANCELLED, DEAD, DONE, QUEUED, RUNNING, Job
from ledgerdesk.jobs.queries import payload_summary
from ledgerdesk.settings import Settings
from tests.conftest import REDIS_URL, World
from tests.jobs_support import RECORDER, Harness, harness
from tests.test_auth_flow import csrf_of, login

PAGE = "/admin/jobs"


@pytest.fixture
async def sql_jobs(db: Database, settings: Settings, bus: MemoryEventBus) -> AsyncIterator[Harness]:
    async with harness(db, settings, bus, "sql", None) as each:
        yield each


async def add_job(db: Database, **fields: Any) -> Job:
    now = utcnow()
    values: dict[str, Any] = {
        "kind": "webhook.deliver",
        "payload": {},
        "status": QUEUED,
        "run_at": now,
        "attempts": 0,
        "max_attempts": 3,
        "created_at": now,
    }
    values.update(fields)
    if values["status"] == DEAD:
        values.setdefault("finished_at", now)
        values.setdefault("last_error", "RuntimeError: the receiver refused")
        values["attempts"] = values["max_attempts"]
    job = Job(**values)
    async with db.writer() as session:
        session.add(job)
        await session.commit()
    return job


async def job_status(db: Database, job_id: int) -> str:
    async with db.session() as session:
        job = await session.get(Job, job_id)
    assert job is not None
    return job.status


async def audit_actions(db: Database, job_id: int) -> list[str]:
    async with db.session() as session:
        rows = await session.scalars(
            select(AuditEntry.action).where(
                AuditEntry.object_type == "job", AuditEntry.object_id == str(job_id)
            )
        )
        return list(rows.all())


def figure(page: str, name: str) -> str:
    found = re.search(rf'<td id="{name}">(.*?)</td>', page, re.S)
    assert found, f"{name} is not on the page"
    return found.group(1).strip()


def listed_ids(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr id="job-(\d+)">', page)]


async def test_the_queue_figures_match_the_rows(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    now = utcnow()
    await add_job(db, run_at=now - timedelta(minutes=7))
    await add_job(db, run_at=now - timedelta(seconds=5))
    await add_job(db, run_at=now + timedelta(hours=1))
    await add_job(db, run_at=now + timedelta(days=3))
    await add_job(db, run_at=now + timedelta(days=4))
    await add_job(db, status=RUNNING, locked_until=now + timedelta(minutes=1))
    await add_job(db, status=DEAD)
    await add_job(db, status=DONE, finished_at=now)
    await add_job(db, status=CANCELLED, finished_at=now)

    await login(client, "alice@example.org")
    page = await client.get(PAGE)

    assert page.status_code == 200, page.text
    assert figure(page.text, "count-queued") == "2"
    assert figure(page.text, "count-scheduled") == "3"
    assert figure(page.text, "count-running") == "1"
    assert figure(page.text, "count-dead") == "1"
    assert "7 min ago" in figure(page.text, "oldest-queued")
    assert "Backend: SQL" in page.text


async def test_an_empty_queue_says_nothing_is_waiting(
    client: httpx.AsyncClient, world: World
) -> None:
    await login(client, "alice@example.org")
    page = await client.get(PAGE)

    assert figure(page.text, "count-queued") == "0"
    assert "nothing waiting" in figure(page.text, "oldest-queued")
    assert "No job has failed for good." in page.text


async def test_a_failed_job_is_listed_with_its_error_escaped_and_its_secrets_hidden(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    job = await add_job(
        db,
        status=DEAD,
        payload={
            "delivery_id": 4242,
            "webhook_secret": "whsec-DO-NOT-SHOW",
            "auth": {"password": "hunter2-nested"},
            "api_token": "tok-DO-NOT-SHOW",
            "note": "the customer's private words",
        },
        last_error='HTTPError: <script>alert("x")</script> from https://u:pw-in-url@hooks.example',
    )

    await login(client, "alice@example.org")
    page = await client.get(PAGE)

    assert listed_ids(page.text) == [job.id]
    row = page.text.split(f'<tr id="job-{job.id}">', 1)[1].split("</tr>", 1)[0]
    assert "webhook.deliver" in row
    assert "delivery_id=4242" in row
    assert "3 / 3" in row
    assert "&lt;script&gt;alert(" in row
    assert "<script>alert" not in page.text
    for secret in ("whsec-DO-NOT-SHOW", "tok-DO-NOT-SHOW", "hunter2-nested", "pw-in-url"):
        assert secret not in page.text
    assert "private words" not in page.text
    assert "webhook_secret=***" in row


def test_a_payload_summary_shows_ids_and_hides_secrets_and_text() -> None:
    summary = dict(
        payload_summary(
            {
                "conversation_id": 7,
                "delivery_ids": [1, 2],
                "dedup_key": "sla:warn:7",
                "Signature": "abc",
                "refresh-token": "abc",
                "body": "hello",
                "retry": True,
                "nested": {"a": 1},
            }
        )
    )
    assert summary == {
        "conversation_id": "7",
        "delivery_ids": "[1, 2]",
        "dedup_key": "sla:warn:7",
        "Signature": "***",
        "refresh-token": "***",
        "body": "…",
        "retry": "true",
        "nested": "{1}",
    }


async def test_a_long_error_is_shortened(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    await add_job(db, status=DEAD, last_error="E: " + "x" * 900 + "TAIL-NOT-SHOWN")
    await login(client, "alice@example.org")
    page = await client.get(PAGE)
    assert "x" * 200 in page.text
    assert "TAIL-NOT-SHOWN" not in page.text


async def test_a_retried_job_is_queued_again_audited_and_completed_by_a_running_worker(
    client: httpx.AsyncClient, world: World, db: Database, sql_jobs: Harness
) -> None:
    await sql_jobs.start()
    RECORDER.broken = True
    job = await sql_jobs.enqueue("test.record", {"needs_fix": True}, max_attempts=2)
    dead = await sql_jobs.wait_finished(job.id)
    assert dead.status == DEAD and dead.attempts == 2
    await login(client, "alice@example.org")
    page = await client.get(PAGE)
    assert listed_ids(page.text) == [job.id]
    assert "the cause is not fixed yet" in page.text
    csrf = await csrf_of(client, PAGE)

    RECORDER.broken = False
    retried = await client.post(f"{PAGE}/{job.id}/retry", data={"csrf_token": csrf})

    assert retried.status_code == 303
    assert retried.headers["location"] == f"{PAGE}?retried={job.id}"
    finished = await sql_jobs.wait_finished(job.id)
    assert finished.status == DONE
    assert finished.attempts == 1
    assert [run.attempt for run in RECORDER.of(job.id)] == [1, 2, 1]
    assert await audit_actions(db, job.id) == ["job.retried"]
    after = await client.get(retried.headers["location"])
    assert f"Job {job.id} is queued again." in after.text
    assert listed_ids(after.text) == []
    assert figure(after.text, "count-dead") == "0"


async def test_a_retried_job_starts_now_with_its_attempts_reset(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    job = await add_job(db, status=DEAD, run_at=utcnow() - timedelta(days=2), max_attempts=5)
    await login(client, "alice@example.org")
    csrf = await csrf_of(client, PAGE)
    before = utcnow()

    await client.post(f"{PAGE}/{job.id}/retry", data={"csrf_token": csrf})

    async with db.session() as session:
        row = await session.get(Job, job.id)
    assert row is not None
    assert (row.status, row.attempts, row.finished_at) == (QUEUED, 0, None)
    assert row.run_at >= before - timedelta(seconds=1)


async def test_a_discarded_job_leaves_the_list_and_never_runs(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    kept = await add_job(db, status=DEAD, finished_at=utcnow() - timedelta(minutes=1))
    gone = await add_job(db, status=DEAD)
    await login(client, "alice@example.org")
    csrf = await csrf_of(client, PAGE)

    discarded = await client.post(f"{PAGE}/{gone.id}/discard", data={"csrf_token": csrf})

    assert discarded.status_code == 303
    page = await client.get(discarded.headers["location"])
    assert f"Job {gone.id} was discarded." in page.text
    assert listed_ids(page.text) == [kept.id]
    assert await job_status(db, gone.id) == CANCELLED
    assert await audit_actions(db, gone.id) == ["job.discarded"]
    # A second click (another tab) is told, and changes nothing.
    again = await client.post(f"{PAGE}/{gone.id}/retry", data={"csrf_token": csrf})
    assert again.status_code == 303 and "error=" in again.headers["location"]
    shown = await client.get(again.headers["location"])
    assert "has not failed for good" in shown.text
    assert await job_status(db, gone.id) == CANCELLED
    missing = await client.post(f"{PAGE}/999999/discard", data={"csrf_token": csrf})
    assert "does+not+exist" in missing.headers["location"]


async def test_retry_and_discard_need_the_csrf_token(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    job = await add_job(db, status=DEAD)
    await login(client, "alice@example.org")
    await csrf_of(client, PAGE)

    for action in ("retry", "discard"):
        for data in ({}, {"csrf_token": "forged"}):
            refused = await client.post(f"{PAGE}/{job.id}/{action}", data=data)
            assert refused.status_code == 400, (action, data)
            assert "expired" in refused.text
    assert await job_status(db, job.id) == DEAD
    assert await audit_actions(db, job.id) == []


async def test_an_agent_is_refused_the_page_and_the_actions(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    job = await add_job(db, status=DEAD, last_error="RuntimeError: SECRET-ish detail")
    await login(client, "bob@example.org")
    csrf = await csrf_of(client, "/settings")

    page = await client.get(PAGE)
    assert page.status_code == 403
    assert "only admins" in page.text and "SECRET-ish" not in page.text
    for action in ("retry", "discard"):
        refused = await client.post(f"{PAGE}/{job.id}/{action}", data={"csrf_token": csrf})
        assert refused.status_code == 403, action
    assert await job_status(db, job.id) == DEAD


async def test_failed_jobs_page_newest_first_by_cursor_and_filter_by_kind(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    now = utcnow()
    same_moment = now - timedelta(hours=1)
    expected: list[int] = []
    for n in range(30):
        # Eight share one failure time, across the page break: the id breaks the tie.
        at = same_moment if n < 8 else now - timedelta(minutes=n)
        kind = "survey.send" if n % 3 == 0 else "webhook.deliver"
        job = await add_job(db, status=DEAD, kind=kind, finished_at=at)
        expected.append(job.id)
    # n = 8..29 failed n minutes ago; the eight older ones share a time, highest id first.
    newest_first = expected[8:] + sorted(expected[:8], reverse=True)
    await add_job(db, status=DONE, finished_at=now)
    await login(client, "alice@example.org")

    first = await client.get(PAGE)
    seen = listed_ids(first.text)
    assert len(seen) == 25
    following = re.search(r'href="(/admin/jobs\?cursor=[^"]+)"', first.text)
    assert following
    second = await client.get(following.group(1).replace("&amp;", "&"))
    assert second.status_code == 200
    rest = listed_ids(second.text)
    assert not re.search(r'href="/admin/jobs\?cursor=', second.text)
    assert seen + rest == newest_first

    surveys = await client.get(PAGE, params={"kind": "survey.send"})
    assert listed_ids(surveys.text) == [i for i in newest_first if expected.index(i) % 3 == 0]
    assert '<option value="survey.send" selected>' in surveys.text
    unknown = await client.get(PAGE, params={"kind": "no.such-kind"})
    assert unknown.status_code == 200 and listed_ids(unknown.text) == []
    assert '<option value="no.such-kind" selected>' in unknown.text


async def test_a_bad_cursor_or_filter_is_a_clear_4xx(
    client: httpx.AsyncClient, world: World
) -> None:
    await login(client, "alice@example.org")
    for params in (
        {"cursor": "not-a-cursor"},
        {"cursor": "MjAyNi0wMS0wMXwx"},  # a naive time
        {"kind": "x" * 101},
        {"retried": "-1"},
    ):
        page = await client.get(PAGE, params=params)
        assert 400 <= page.status_code < 500, (params, page.status_code)


async def test_the_redis_backend_says_what_the_page_shows_and_cannot_show(
    client: httpx.AsyncClient,
    app: Any,
    settings: Settings,
    world: World,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Only the setting the page reads: a whole app on Redis would open connections.
    redis_settings = settings.model_copy(
        update={"job_queue": "redis", "redis_url": SecretStr(REDIS_URL)}
    )
    monkeypatch.setattr(app.state.ledgerdesk, "settings", redis_settings)
    await add_job(db, status=DEAD)
    await login(client, "alice@example.org")

    page = await client.get(PAGE)

    assert page.status_code == 200
    assert "Backend: Redis (saq)" in page.text
    assert "It cannot show what saq holds in Redis" in page.text
    assert "Backend: SQL" not in page.text
    assert figure(page.text, "count-dead") == "1"
