"""Analytics benchmark: the 90-day dashboard over a year of generated activity.

Generates N conversations spread over the 365 days before today (about 10
messages each: customer questions, agent replies, assistant answers in web chat; status
changes, reopens, hand-offs, one SLA clock each, a survey answer for a quarter of
the solved ones), writes them in bulk (COPY on PostgreSQL, executemany on SQLite)
into a freshly migrated throwaway database, then:

1. builds the aggregates with the real code (``do_rebuild_analytics``), timed;
2. times the 90-day dashboard: every figure the /analytics page shows, through
   ``queries.dashboard_data`` (the functions the API uses): the overview with the
   previous period and the backlog, four breakdowns, the agents, the days, hours and
   weekdays (targets: at most 1 s on PostgreSQL with 1,000,000 conversations and
   10,000,000 messages, and on SQLite with 100,000 conversations);
3. times the incremental refresh after a batch of conversations got a new reply.

    .venv/bin/python bench/analytics_bench.py                       # both, full sizes
    .venv/bin/python bench/analytics_bench.py --backend sqlite --sqlite-conversations 5000
    .venv/bin/python bench/analytics_bench.py --backend postgres --postgres-conversations 20000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import Table, func, select, update

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from ledgerdesk.analytics import queries
from ledgerdesk.analytics.actions import do_rebuild_analytics, do_refresh_analytics
from ledgerdesk.analytics.models import Rollup
from ledgerdesk.cli import run_migrations
from ledgerdesk.conversations.models import Conversation, ConversationEvent, Message
from ledgerdesk.db.engine import Database
from ledgerdesk.feedback.models import Survey
from ledgerdesk.sla.models import ConversationSla
from machine import describe
from sla_bench import POSTGRES_ADMIN_DSN, _columns, _sqlite_value

AGENTS = 20
CHANNELS = ("webchat",) * 8 + ("email",) * 6 + ("telegram",) * 3 + ("discord",) * 2 + ("api",)
LANGUAGES = ("en",) * 6 + ("zh-Hans",) * 3 + ("es", "ru", "ko", "ja", "tr", "vi")
CATEGORIES = (
    "deposits",
    "withdrawals",
    "kyc",
    "2fa",
    "fees",
    "staking",
    "p2p",
    "api",
    "security",
    "card",
    "margin",
    "futures",
    "earn",
    "nft",
    "account",
)
PRIORITIES = ("low", "normal", "normal", "normal", "high", "urgent")
HANDOFF_REASONS = ("low_confidence", "security", "customer_request", "legal")
TABLES: dict[str, Table] = {
    "conversations": Conversation.__table__,  # type: ignore[dict-item]
    "messages": Message.__table__,  # type: ignore[dict-item]
    "conversation_events": ConversationEvent.__table__,  # type: ignore[dict-item]
    "conversation_sla": ConversationSla.__table__,  # type: ignore[dict-item]
    "surveys": Survey.__table__,  # type: ignore[dict-item]
}


@dataclass
class Batch:
    rows: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {name: [] for name in TABLES}
    )

    def size(self) -> int:
        return len(self.rows["messages"])


class Generator:
    """Deterministic activity: one conversation at a time, with ids counted here."""

    def __init__(self, conversations: int, end: datetime, messages_per: int, seed: int = 7) -> None:
        self.n = conversations
        self.end = end
        self.messages_per = messages_per
        self.rng = random.Random(seed)
        self.message_id = 0
        self.event_id = 0
        self.clock_id = 0
        self.survey_id = 0

    def batches(self, size: int = 20_000) -> Iterator[Batch]:
        batch = Batch()
        for number in range(1, self.n + 1):
            self._conversation(number, batch)
            if len(batch.rows["conversations"]) >= size:
                yield batch
                batch = Batch()
        if batch.rows["conversations"]:
            yield batch

    def _event(self, batch: Batch, cid: int, kind: str, at: datetime, data: dict[str, Any]) -> None:
        self.event_id += 1
        batch.rows["conversation_events"].append(
            {
                "id": self.event_id,
                "conversation_id": cid,
                "kind": kind,
                "actor_kind": "system",
                "data": data,
                "created_at": at,
            }
        )

    def _message(
        self, batch: Batch, cid: int, kind: str, at: datetime, channel: str, agent: int | None
    ) -> None:
        self.message_id += 1
        batch.rows["messages"].append(
            {
                "id": self.message_id,
                "conversation_id": cid,
                "author_kind": kind,
                "agent_id": agent,
                "customer_id": 1 if kind == "customer" else None,
                "is_internal": False,
                "body": "Where is my withdrawal?" if kind == "customer" else "Let me check.",
                "channel": channel,
                "attachments": [],
                "created_at": at,
            }
        )

    def _conversation(self, cid: int, batch: Batch) -> None:
        rng = self.rng
        created = self.end - timedelta(days=365 * (1 - cid / self.n), seconds=rng.randint(0, 3600))
        channel = rng.choice(CHANNELS)
        agent = rng.randint(1, AGENTS)
        count = max(2, int(rng.gauss(self.messages_per, 3)))
        at = created
        self._message(batch, cid, "customer", at, channel, None)
        first_response: datetime | None = None
        handed = False
        if channel == "webchat" and rng.random() < 0.6:
            at += timedelta(seconds=rng.randint(2, 20))
            self._message(batch, cid, "assistant", at, channel, None)
            count -= 1
            if rng.random() < 0.5:
                handed = True
                self._event(
                    batch, cid, "assistant_handoff", at, {"reason": rng.choice(HANDOFF_REASONS)}
                )
            elif rng.random() < 0.8:
                count = 0  # the assistant answered it alone
        for k in range(count - 1):
            at += timedelta(minutes=rng.expovariate(1 / 45))
            if k % 2 == 0:
                self._message(batch, cid, "agent", at, channel, agent)
                if first_response is None:
                    first_response = at
                    self._event(batch, cid, "status_changed", at, {"from": "new", "to": "open"})
            else:
                self._message(batch, cid, "customer", at, channel, None)
        roll = rng.random()
        status = "solved" if roll < 0.85 else ("closed" if roll < 0.9 else "open")
        if (self.end - created) < timedelta(days=2) and roll < 0.5:
            status = "open"
        solved_at = None
        if status in ("solved", "closed"):
            solved_at = at + timedelta(minutes=rng.randint(5, 600))
            before = "open" if first_response else "new"
            self._event(batch, cid, "status_changed", solved_at, {"from": before, "to": "solved"})
            if rng.random() < 0.05:
                reopened = solved_at + timedelta(hours=rng.randint(1, 48))
                change = "status_changed"
                self._event(batch, cid, change, reopened, {"from": "solved", "to": "open"})
                solved_at = reopened + timedelta(hours=rng.randint(1, 24))
                self._event(batch, cid, change, solved_at, {"from": "open", "to": "solved"})
            if status == "closed":
                self._event(
                    batch, cid, "status_changed", solved_at, {"from": "solved", "to": "closed"}
                )
            at = solved_at
        self.clock_id += 1
        due = created + timedelta(hours=1)
        batch.rows["conversation_sla"].append(
            {
                "id": self.clock_id,
                "conversation_id": cid,
                "metric": "first_response",
                "policy_id": 1,
                "target_seconds": 3600,
                "started_at": created,
                "warn_at": created + timedelta(minutes=48),
                "due_at": due,
                "next_check_at": None,
                "paused_us": 0,
                "stopped_at": first_response,
                "met": None if first_response is None else first_response <= due,
                "breached_at": None if first_response and first_response <= due else due,
            }
        )
        if solved_at is not None and rng.random() < 0.25:
            self.survey_id += 1
            batch.rows["surveys"].append(
                {
                    "id": self.survey_id,
                    "conversation_id": cid,
                    "customer_id": 1,
                    "channel": channel,
                    "status": "answered",
                    "rating": rng.choice((1, 2, 3, 4, 4, 5, 5, 5)),
                    "nonce": f"n{cid}",
                    "scheduled_for": solved_at,
                    "answered_at": solved_at + timedelta(hours=2),
                    "created_at": solved_at,
                    "updated_at": solved_at,
                }
            )
        batch.rows["conversations"].append(
            {
                "id": cid,
                "subject": f"Withdrawal {cid} stuck",
                "channel": channel,
                "customer_id": 1,
                "status": status,
                "priority": rng.choice(PRIORITIES),
                "language": rng.choice(LANGUAGES),
                "assignee_id": agent,
                "custom_fields": {"category": rng.choice(CATEGORIES)},
                "tags": [],
                "risk_flags": [],
                "message_count": 0,
                "assistant_state": "handed_off" if handed else None,
                "created_at": created,
                # Never after the end: the refresh's watermark is the latest updated_at.
                "updated_at": min(at, self.end),
                "first_response_at": first_response,
                "solved_at": solved_at,
            }
        )


async def _base_rows(db: Database) -> None:
    """A customer, the agents and a 24/7 policy, through the ORM."""
    from ledgerdesk.accounts.models import Agent
    from ledgerdesk.customers.models import Customer
    from ledgerdesk.sla.models import SlaPolicy

    async with db.writer() as session:
        session.add(Customer(id=1, name="Bench customer", tier="standard"))
        for number in range(1, AGENTS + 1):
            session.add(
                Agent(
                    id=number,
                    email=f"agent{number}@bench.test",
                    name=f"Agent {number}",
                    password_hash="not-a-hash",  # noqa: S106 (nobody logs in)
                )
            )
        session.add(SlaPolicy(id=1, name="Bench", position=0, first_response_minutes=60))
        await session.commit()


ORDER = ("conversations", "messages", "conversation_events", "conversation_sla", "surveys")


def _column_names(batch: Batch) -> dict[str, list[str]]:
    return {name: _columns(TABLES[name], batch.rows[name][0]) for name in ORDER}


def fill_sqlite(path: Path, generator: Generator) -> dict[str, int]:
    connection = sqlite3.connect(path)
    counts = dict.fromkeys(ORDER, 0)
    columns: dict[str, list[str]] | None = None
    with connection:
        for batch in generator.batches():
            columns = columns or _column_names(batch)
            for name in ORDER:
                names = columns[name]
                statement = (
                    f"INSERT INTO {name} ({', '.join(names)}) "  # noqa: S608 (our names)
                    f"VALUES ({', '.join('?' for _ in names)})"
                )
                connection.executemany(
                    statement,
                    (tuple(_sqlite_value(row.get(c)) for c in names) for row in batch.rows[name]),
                )
                counts[name] += len(batch.rows[name])
    connection.execute("ANALYZE")
    connection.close()
    return counts


async def fill_postgres(dsn: str, generator: Generator) -> dict[str, int]:
    connection = await asyncpg.connect(dsn)
    counts = dict.fromkeys(ORDER, 0)
    try:
        columns: dict[str, list[str]] | None = None

        def pg(value: Any) -> Any:
            return json.dumps(value) if isinstance(value, dict | list) else value

        for batch in generator.batches(50_000):
            columns = columns or _column_names(batch)
            for name in ORDER:
                names = columns[name]
                await connection.copy_records_to_table(
                    name,
                    records=[tuple(pg(row.get(c)) for c in names) for row in batch.rows[name]],
                    columns=names,
                )
                counts[name] += len(batch.rows[name])
        for name in ORDER:
            await connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "  # noqa: S608
                f"(SELECT COALESCE(MAX(id), 1) FROM {name}))"
            )
            await connection.execute(f"VACUUM ANALYZE {name}")
    finally:
        await connection.close()
    return counts


async def _touch(db: Database, changed: int, at: datetime, seed: int = 11) -> None:
    """Give ``changed`` recent conversations an agent reply, as the actions would."""
    async with db.writer() as session:
        top = int(await session.scalar(select(func.max(Conversation.id))) or 0)
        rng = random.Random(seed)
        # Recent conversations, as in a working day: the newest few times ``changed``.
        ids = sorted(rng.sample(range(max(1, top - changed * 3), top + 1), min(changed, top)))
        for cid in ids:
            session.add(
                Message(
                    conversation_id=cid,
                    author_kind="agent",
                    agent_id=1,
                    body="An update on your withdrawal.",
                    channel="email",
                    created_at=at,
                )
            )
        await session.execute(
            update(Conversation).where(Conversation.id.in_(ids)).values(updated_at=at)
        )
        await session.commit()


async def _counts(db: Database) -> dict[str, int]:
    """Row counts of a database generated earlier (``--postgres-database`` reused)."""
    tables = {
        "conversations": Conversation,
        "messages": Message,
        "conversation_events": ConversationEvent,
        "conversation_sla": ConversationSla,
        "surveys": Survey,
    }
    async with db.sessionmaker() as session:
        return {
            name: int(await session.scalar(select(func.count()).select_from(model)) or 0)
            for name, model in tables.items()
        }


async def measure(
    db: Database, backend: str, counts: dict[str, int], args: Any, *, build: bool = True
) -> None:
    if build:
        started = time.perf_counter()
        built = await do_rebuild_analytics(db)
        build_seconds = time.perf_counter() - started
    async with db.sessionmaker() as session:
        rollups = int(await session.scalar(select(func.count()).select_from(Rollup)) or 0)
    today = datetime.now(UTC).date()
    period = queries.parse_range(
        (today - timedelta(days=90)).isoformat(), (today - timedelta(days=1)).isoformat()
    )
    seconds = []
    for _ in range(args.runs + 1):
        async with db.sessionmaker() as session:
            started = time.perf_counter()
            data = await queries.dashboard_data(session, period)
            seconds.append(time.perf_counter() - started)
    seconds = seconds[1:]  # the first run warms the caches
    figures = data["overview"]["figures"]
    async with db.sessionmaker() as session:
        read = int(
            await session.scalar(
                select(func.count())
                .select_from(Rollup)
                .where(Rollup.bucket >= period.previous().start, Rollup.bucket < period.end)
            )
            or 0
        )
    await do_refresh_analytics(db)  # warm up: compiled statements are cached per process
    await _touch(db, args.changed, datetime.now(UTC))
    started = time.perf_counter()
    refreshed = await do_refresh_analytics(db)
    refresh_seconds = time.perf_counter() - started
    print(
        f"{backend}: {counts['conversations']:,} conversations, {counts['messages']:,} messages, "
        f"{counts['conversation_events']:,} events, {counts['conversation_sla']:,} SLA clocks, "
        f"{counts['surveys']:,} surveys"
    )
    if build:
        print(
            f"  build (rebuild): {built.conversations:,} conversations in {build_seconds:.1f} s "
            f"({built.conversations / build_seconds:,.0f}/s); {rollups:,} rollup rows"
        )
    else:
        print(f"  (aggregates built by an earlier run: {rollups:,} rollup rows)")
    print(
        f"  90-day dashboard ({period.first} to {period.last}, with the previous period): "
        f"median {statistics.median(seconds) * 1000:.0f} ms, min {min(seconds) * 1000:.0f} ms, "
        f"max {max(seconds) * 1000:.0f} ms over {len(seconds)} runs; "
        f"{read:,} rollup rows in the two periods"
    )
    print(
        f"    ({figures['conversations']['value']:,} conversations in the period, first response "
        f"{(figures['first_response']['value'] or 0) / 60:.0f} min, CSAT "
        f"{(figures['csat']['value'] or 0) * 100:.1f}%, backlog {figures['backlog']['value']:,})"
    )
    print(
        f"  incremental refresh: {args.changed:,} conversations with a new reply, "
        f"{refreshed.conversations:,} recomputed in {refresh_seconds * 1000:.0f} ms"
    )


async def run_sqlite(conversations: int, args: Any) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "analytics-bench.db"
        url = f"sqlite+aiosqlite:///{path}"
        await asyncio.to_thread(run_migrations, url)
        db = Database(url)
        try:
            await _base_rows(db)
            await db.dispose()
            generator = Generator(conversations, _end(), args.messages_per)
            started = time.perf_counter()
            counts = await asyncio.to_thread(fill_sqlite, path, generator)
            print(f"  (sqlite: rows written in {time.perf_counter() - started:.0f} s)")
            await measure(db, "sqlite", counts, args)
        finally:
            await db.dispose()


async def run_postgres(conversations: int, args: Any) -> None:
    """A throwaway database, or with ``--postgres-database`` one that is kept and reused:
    the 1M build takes many minutes, so the dashboard can be re-timed on a quiet machine."""
    name = args.postgres_database or f"ledgerdesk_analytics_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(args.postgres_dsn)
    exists = bool(await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name))
    if not exists:
        await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    base = args.postgres_dsn.rsplit("/", 1)[0]
    try:
        url = f"{base.replace('postgresql://', 'postgresql+asyncpg://')}/{name}"
        db = Database(url)
        try:
            if exists:
                print(f"  (postgres: reusing database {name})")
                await measure(db, "postgres", await _counts(db), args, build=False)
                return
            await asyncio.to_thread(run_migrations, url)
            await _base_rows(db)
            generator = Generator(conversations, _end(), args.messages_per)
            started = time.perf_counter()
            counts = await fill_postgres(f"{base}/{name}", generator)
            print(f"  (postgres: rows written in {time.perf_counter() - started:.0f} s)")
            await measure(db, "postgres", counts, args)
        finally:
            await db.dispose()
    finally:
        if not args.postgres_database:
            admin = await asyncpg.connect(args.postgres_dsn)
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()


def _end() -> datetime:
    """Activity ends at the last midnight, so "the last 90 days" are full of it."""
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--sqlite-conversations", type=int, default=100_000)
    parser.add_argument("--postgres-conversations", type=int, default=1_000_000)
    parser.add_argument(
        "--messages-per",
        type=int,
        default=12,
        help="mean messages per conversation before the assistant's short ones cut some: "
        "10 gave 8.8 (8.8 million for 1,000,000 conversations), so 12 should give about 10.5",
    )
    parser.add_argument("--changed", type=int, default=1000, help="conversations for the refresh")
    parser.add_argument("--runs", type=int, default=5, help="timed dashboard runs")
    parser.add_argument("--postgres-dsn", default=POSTGRES_ADMIN_DSN)
    parser.add_argument(
        "--postgres-database",
        help="keep the generated database under this name; if it exists, reuse it "
        "(skip generating and building, time the dashboard again); drop it yourself",
    )
    args = parser.parse_args()
    print(describe())
    if args.backend in ("sqlite", "both"):
        await run_sqlite(args.sqlite_conversations, args)
    if args.backend in ("postgres", "both"):
        await run_postgres(args.postgres_conversations, args)


if __name__ == "__main__":
    asyncio.run(main())
