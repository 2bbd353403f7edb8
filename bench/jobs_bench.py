"""Durable jobs: throughput of a worker, and the wait from commit to start.

For each database (a SQLite file, a fresh PostgreSQL database) and each queue
(the SQL worker; the relay and saq on Redis), in this one process:

1. throughput: enqueue N no-op jobs (100 per transaction), start one worker with
   concurrency C, time until all are done;
2. latency: with the worker idle, commit one job at a time and measure from the
   commit to the handler's start (the bus wake-up path), p50 and p99.

    .venv/bin/python bench/jobs_bench.py --jobs 2000 --latency 200
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
from pydantic import SecretStr
from sqlalchemy import func, select

from ledgerdesk.cli import run_migrations
from ledgerdesk.db.engine import Database
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.events.bus import MemoryEventBus
from ledgerdesk.jobs import JobContext, do_enqueue_job, job_handler
from ledgerdesk.jobs.models import DONE, Job
from ledgerdesk.jobs.service import create_job_runner
from ledgerdesk.settings import load_settings
from machine import describe

POSTGRES_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"
_started: dict[int, float] = {}
_waiting: dict[int, asyncio.Event] = {}


@job_handler("bench.noop")
async def noop(ctx: JobContext, payload: dict[str, Any]) -> None:
    _started[ctx.job_id] = time.perf_counter()
    if ctx.job_id in _waiting:
        _waiting[ctx.job_id].set()


async def _done(db: Database) -> int:
    async with db.session() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(Job)
                .where(Job.kind == "bench.noop", Job.status == DONE)
            )
            or 0
        )


async def run_one(url: str, queue: str, jobs: int, latency: int, concurrency: int) -> None:
    db = Database(url)
    bus = MemoryEventBus()
    settings = load_settings(
        environ={},
        environment="test",
        secret_key="bench-secret-key-that-is-long-enough-0123456789",  # noqa: S106
        database_url=url,
    ).model_copy(
        update={
            "job_queue": queue,
            "job_concurrency": concurrency,
            "redis_url": SecretStr(REDIS_URL),
            "redis_channel_prefix": f"ldbench-{uuid.uuid4().hex[:8]}:",
        }
    )
    try:
        for start in range(0, jobs, 100):
            async with db.writer() as session, UnitOfWork(session) as uow:
                for n in range(start, min(start + 100, jobs)):
                    await do_enqueue_job(uow, "bench.noop", {"n": n})
                await uow.commit()
        runner = create_job_runner(settings, db, bus)
        began = time.perf_counter()
        await runner.start()
        while await _done(db) < jobs:  # noqa: ASYNC110 (the rows are the measure)
            await asyncio.sleep(0.25)  # polling less often steals less of the worker's CPU
        elapsed = time.perf_counter() - began
        print(f"  throughput: {jobs} jobs in {elapsed:.2f} s = {jobs / elapsed:,.0f} jobs/s")

        waits: list[float] = []
        for _ in range(latency):
            async with db.writer() as session, UnitOfWork(session, bus) as uow:
                job = await do_enqueue_job(uow, "bench.noop")
                started = _waiting[job.id] = asyncio.Event()
                committed = time.perf_counter()
                await uow.commit()
            await started.wait()
            waits.append(_started[job.id] - committed)
        waits.sort()
        if waits:
            p99 = waits[min(len(waits) - 1, int(len(waits) * 0.99))]
            print(
                f"  commit-to-start: p50 {statistics.median(waits) * 1000:.1f} ms, "
                f"p99 {p99 * 1000:.1f} ms ({latency} jobs one at a time)"
            )
        await runner.stop()
    finally:
        await db.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--latency", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--queue", choices=["sql", "redis", "both"], default="both")
    args = parser.parse_args()
    print(describe())
    databases = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    queues = ["sql", "redis"] if args.queue == "both" else [args.queue]
    for database in databases:
        for queue in queues:
            print(f"{database}, {queue} queue, concurrency {args.concurrency}:")
            if database == "sqlite":
                with tempfile.TemporaryDirectory() as tmp:
                    url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
                    await asyncio.to_thread(run_migrations, url)
                    await run_one(url, queue, args.jobs, args.latency, args.concurrency)
                continue
            name = f"ledgerdesk_jobs_bench_{uuid.uuid4().hex[:8]}"
            admin = await asyncpg.connect(POSTGRES_DSN)
            await admin.execute(f'CREATE DATABASE "{name}"')
            try:
                url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
                await asyncio.to_thread(run_migrations, url)
                await run_one(url, queue, args.jobs, args.latency, args.concurrency)
            finally:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                await admin.close()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
