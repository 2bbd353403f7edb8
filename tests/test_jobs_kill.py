"""kill -9 a worker in the middle of a job: after a restart the job completes, and
its side effect happened once.

The worker is a real subprocess: ``ledgerdesk serve`` with its embedded worker on
a SQLite file or on PostgreSQL, and ``ledgerdesk worker`` on the Redis queue. The
test handler (tests/jobs_support.py, imported through LEDGERDESK_JOB_MODULES)
logs each attempt, writes its side effect keyed by the job id, then pauses on
the first attempt; the test kills the process during that pause.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from ledgerdesk.cli import run_migrations
from ledgerdesk.db.engine import Database
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.jobs import do_enqueue_job
from ledgerdesk.jobs.models import DEAD, DONE, RUNNING
from tests.conftest import (
    _create_postgres_database,
    _drop_postgres_database,
    require_redis,
)
from tests.jobs_support import SIDE_EFFECT_TABLES, wait_for_job

REPO_ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Deployment:
    command: str  # "serve" or "worker"
    db: Database
    env: dict[str, str]
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    async def start(self) -> subprocess.Popen[bytes]:
        port = _free_port()
        args = [sys.executable, "-m", "ledgerdesk.cli", self.command]
        if self.command == "serve":
            args += ["--port", str(port)]
        process = subprocess.Popen(  # noqa: ASYNC220, S603 (our own CLI)
            args, env=self.env, cwd=REPO_ROOT
        )
        self.processes.append(process)
        if self.command == "serve":
            await _wait_up(f"http://127.0.0.1:{port}", process)
        return process

    async def rows(self, sql: str, **params: object) -> list[tuple[object, ...]]:
        async with self.db.session() as session:
            return [tuple(row) for row in (await session.execute(text(sql), params)).all()]


async def _wait_up(url: str, process: subprocess.Popen[bytes]) -> None:
    # Generous: a loaded CI machine takes a while to import and start the app.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 90
    async with httpx.AsyncClient() as http:
        while loop.time() < deadline:
            if process.poll() is not None:
                raise AssertionError(f"the server exited with {process.returncode}")
            try:
                if (await http.get(f"{url}/healthz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("the server did not start within 90 s")


@pytest.fixture(
    params=[
        ("serve", "sqlite", "sql"),
        ("serve", "postgres", "sql"),
        ("worker", "postgres", "redis"),
    ],
    ids=["serve-sqlite", "serve-postgres", "worker-redis-postgres"],
)
async def deployment(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Deployment]:
    command, database, queue = request.param
    redis_url = await require_redis() if queue == "redis" else None
    pg_name = None
    if database == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'kill.db'}"
    else:
        pg_name, url = await _create_postgres_database()
    await asyncio.to_thread(run_migrations, url)
    db = Database(url)
    async with db.writer() as session:
        for statement in SIDE_EFFECT_TABLES:
            await session.execute(text(statement))
        await session.commit()
    env = {
        **os.environ,
        "LEDGERDESK_ENVIRONMENT": "production",
        "LEDGERDESK_SECRET_KEY": secrets.token_urlsafe(48),
        "LEDGERDESK_DATABASE_URL": url,
        "LEDGERDESK_DATA_DIR": str(tmp_path),
        "LEDGERDESK_LOG_LEVEL": "warning",
        "LEDGERDESK_JOB_QUEUE": queue,
        "LEDGERDESK_JOB_MODULES": "tests.jobs_support",
        "LEDGERDESK_JOB_POLL_SECONDS": "0.2",
        "LEDGERDESK_JOB_LEASE_SECONDS": "1",
        "LEDGERDESK_JOB_RETRY_BASE_SECONDS": "0.1",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
    }
    if redis_url is not None:
        env["LEDGERDESK_REDIS_URL"] = redis_url
        env["LEDGERDESK_REDIS_CHANNEL_PREFIX"] = f"ldkill-{uuid.uuid4().hex[:8]}:"
    each = Deployment(command, db, env)
    try:
        yield each
    finally:
        for process in each.processes:
            if process.poll() is None:
                process.terminate()
        for process in each.processes:
            await asyncio.to_thread(process.wait, 30)
        await db.dispose()
        if pg_name is not None:
            await _drop_postgres_database(pg_name)


# Two process starts each: a loaded machine needs more than the suite's 120 s.
@pytest.mark.timeout(400)
async def test_a_job_killed_midway_completes_after_a_restart_with_its_side_effect_once(
    deployment: Deployment,
) -> None:
    first = await deployment.start()
    async with deployment.db.writer() as session, UnitOfWork(session) as uow:
        job = await do_enqueue_job(
            uow, "test.side-effect", {"pause": 120, "note": "refund for ticket #1042"}
        )
        await uow.commit()

    # The first attempt has written its side effect and is pausing: kill it now.
    async with asyncio.timeout(90):
        while not await deployment.rows(
            "SELECT 1 FROM test_job_effects WHERE job_id = :id", id=job.id
        ):
            assert first.poll() is None, f"the worker exited with {first.returncode}"
            await asyncio.sleep(0.05)
    os.kill(first.pid, signal.SIGKILL)
    assert await asyncio.to_thread(first.wait, 30) == -signal.SIGKILL
    (status,) = (await deployment.rows("SELECT status FROM jobs WHERE id = :id", id=job.id))[0]
    assert status == RUNNING

    second = await deployment.start()
    finished = await wait_for_job(deployment.db, job.id, (DONE, DEAD), within=90)

    assert finished.status == DONE
    assert finished.attempts == 2
    attempts = await deployment.rows(
        "SELECT attempt, pid FROM test_job_attempts WHERE job_id = :id ORDER BY attempt", id=job.id
    )
    assert attempts == [(1, first.pid), (2, second.pid)]
    effects = await deployment.rows(
        "SELECT note FROM test_job_effects WHERE job_id = :id", id=job.id
    )
    assert effects == [("refund for ticket #1042",)]
