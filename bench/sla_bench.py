"""SLA benchmark: one function per measurement, each printing its figures.

``measure_sweep``: the SLA sweep among N open conversations, each with a running
clock (PostgreSQL 1,000,000, target under 2 s per sweep; SQLite 100,000, target
under 1 s). Clocks fall due evenly over time, so each sweep, run every simulated
``--interval`` seconds, finds what fell due since the last one: ``--due-share`` of
the clocks reach their warning time and as many (warned three sweeps earlier)
their due time. Each breach runs the policy's escalation (a "notify": an internal
system note, a bus event and stream entries). The first sweeps fill the pipeline
and are not timed; then ``--runs`` sweeps are timed (median, min, max), each the
whole task: its transactions, escalations and commits.

Rows are written in bulk (COPY on PostgreSQL, executemany on SQLite), straight
into a freshly migrated database that the benchmark creates and drops.

    .venv/bin/python bench/sla_bench.py                      # both backends, full sizes
    .venv/bin/python bench/sla_bench.py --backend sqlite --sqlite-rows 20000 --runs 3

``measure_rule_evaluation``: 200 automation rules against a stream of events. Two
figures: matching alone (the 200 compiled rules against each event's facts, no
I/O; target 20,000 events/s), and the whole ``do_run_rules`` call as the
conversation actions make it (with the conversation they changed, already loaded;
the benchmark reads each unit of work's conversations in one query and reports that
time apart), in units of work on a fresh SQLite file: the cached enabled rules, the
customer's tier when a candidate rule asks for it, the firing rows and the actions
of the rules that match (0.4 of the 200 per event), and the commit; target 1,000
events/s. It also
prints the share of the yardstick's speed and this process's CPU time per event,
which stay comparable when other processes load the machine.

    .venv/bin/python bench/sla_bench.py --measure rules
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from ledgerdesk.cli import run_migrations
from ledgerdesk.conversations.models import Conversation
from ledgerdesk.db.engine import Database
from ledgerdesk.events.bus import MemoryEventBus
from ledgerdesk.sla.models import ConversationSla
from ledgerdesk.sla.tasks import run_sla_sweep
from machine import describe

POSTGRES_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
# Sweeps that only fill the pipeline (warnings before the first breaches come due).
WARMUP_SWEEPS = 4
WARN_TO_DUE_SWEEPS = 3


@dataclass
class SweepFigures:
    backend: str
    rows: int
    seconds: list[float]
    warned: list[int]
    breached: list[int]

    def report(self) -> None:
        median = statistics.median(self.seconds)
        print(
            f"{self.backend}: {self.rows:,} open conversations with running clocks; "
            f"{len(self.seconds)} timed sweeps"
        )
        print(
            f"  per sweep: median {median * 1000:.0f} ms, min {min(self.seconds) * 1000:.0f} ms, "
            f"max {max(self.seconds) * 1000:.0f} ms"
        )
        print(
            f"  rows per sweep: warned {statistics.median(self.warned):,.0f}, "
            f"breached (and escalated) {statistics.median(self.breached):,.0f}"
        )


# Data ---------------------------------------------------------------------------


def _conversation_row(number: int, customer_id: int, policy_created: datetime) -> dict[str, Any]:
    return {
        "id": number,
        "subject": f"Withdrawal {number} stuck",
        "channel": "api",
        "customer_id": customer_id,
        "status": "open",
        "priority": "normal",
        "custom_fields": {},
        "tags": [],
        "risk_flags": [],
        "message_count": 1,
        "created_at": policy_created,
        "updated_at": policy_created,
    }


def _clock_times(number: int, rows: int, args: argparse.Namespace) -> tuple[datetime, datetime]:
    # Warning times spread evenly, so each interval sees rows * due_share of them.
    span = args.interval / args.due_share
    warn_at = T0 + timedelta(seconds=(number * 7919 % rows) / rows * span)
    return warn_at, warn_at + timedelta(seconds=WARN_TO_DUE_SWEEPS * args.interval)


def _columns(table: Any, known: dict[str, Any]) -> list[str]:
    names = []
    for column in table.columns:
        if column.name in known:
            names.append(column.name)
        elif not column.nullable and column.server_default is None:
            raise SystemExit(f"the benchmark does not fill {table.name}.{column.name}")
    return names


def _rows(rows: int, args: argparse.Namespace) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for number in range(1, rows + 1):
        warn_at, due_at = _clock_times(number, rows, args)
        conversation = _conversation_row(number, 1, T0 - timedelta(hours=1))
        clock = {
            "id": number,
            "conversation_id": number,
            "metric": "resolution",
            "policy_id": 1,
            "target_seconds": 8 * 3600,
            "started_at": T0 - timedelta(hours=1),
            "warn_at": warn_at,
            "due_at": due_at,
            "next_check_at": warn_at,
            "paused_us": 0,
        }
        yield conversation, clock


async def _base_rows(db: Database) -> None:
    """One customer and one policy (24/7, notify on breach), through the ORM."""
    from ledgerdesk.customers.models import Customer
    from ledgerdesk.sla.models import SlaPolicy

    async with db.writer() as session:
        session.add(Customer(id=1, name="Bench customer", tier="standard"))
        session.add(
            SlaPolicy(
                id=1,
                name="Bench",
                position=0,
                is_active=True,
                conditions={},
                resolution_minutes=8 * 60,
                warn_share=0.8,
                escalations=[{"type": "notify"}],
            )
        )
        await session.commit()


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, dict | list):
        return json.dumps(value)
    return value


def fill_sqlite(path: Path, rows: int, args: argparse.Namespace) -> None:
    connection = sqlite3.connect(path)
    conversation_table = Conversation.__table__
    clock_table = ConversationSla.__table__
    first_conversation, first_clock = next(_rows(1, args))
    conversation_columns = _columns(conversation_table, first_conversation)
    clock_columns = _columns(clock_table, first_clock)
    insert_conversation = (
        f"INSERT INTO conversations ({', '.join(conversation_columns)}) "  # noqa: S608 (our names)
        f"VALUES ({', '.join('?' for _ in conversation_columns)})"
    )
    insert_clock = (
        f"INSERT INTO conversation_sla ({', '.join(clock_columns)}) "  # noqa: S608
        f"VALUES ({', '.join('?' for _ in clock_columns)})"
    )
    batch_conversations: list[tuple[Any, ...]] = []
    batch_clocks: list[tuple[Any, ...]] = []
    with connection:
        for conversation, clock in _rows(rows, args):
            batch_conversations.append(
                tuple(_sqlite_value(conversation[c]) for c in conversation_columns)
            )
            batch_clocks.append(tuple(_sqlite_value(clock[c]) for c in clock_columns))
            if len(batch_clocks) >= 50_000:
                connection.executemany(insert_conversation, batch_conversations)
                connection.executemany(insert_clock, batch_clocks)
                batch_conversations.clear()
                batch_clocks.clear()
        connection.executemany(insert_conversation, batch_conversations)
        connection.executemany(insert_clock, batch_clocks)
    connection.execute("ANALYZE")
    connection.close()


async def fill_postgres(dsn: str, rows: int, args: argparse.Namespace) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        first_conversation, first_clock = next(_rows(1, args))
        conversation_columns = _columns(Conversation.__table__, first_conversation)
        clock_columns = _columns(ConversationSla.__table__, first_clock)

        def pg(value: Any) -> Any:
            return json.dumps(value) if isinstance(value, dict | list) else value

        conversations = []
        clocks = []
        for conversation, clock in _rows(rows, args):
            conversations.append(tuple(pg(conversation[c]) for c in conversation_columns))
            clocks.append(tuple(pg(clock[c]) for c in clock_columns))
        await connection.copy_records_to_table(
            "conversations", records=conversations, columns=conversation_columns
        )
        await connection.copy_records_to_table(
            "conversation_sla", records=clocks, columns=clock_columns
        )
        for table in ("conversations", "conversation_sla"):
            await connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {rows})"
            )
        await connection.execute("VACUUM ANALYZE conversations")
        await connection.execute("VACUUM ANALYZE conversation_sla")
    finally:
        await connection.close()


# Measurements -------------------------------------------------------------------


async def _timed_sweeps(
    db: Database, backend: str, rows: int, args: argparse.Namespace
) -> SweepFigures:
    bus = MemoryEventBus()
    heard: list[int] = []
    bus.add_listener({"sla"}, lambda _event: heard.append(1))
    figures = SweepFigures(backend, rows, [], [], [])
    for k in range(1, WARMUP_SWEEPS + args.runs + 1):
        now = T0 + timedelta(seconds=k * args.interval)
        started = time.perf_counter()
        result = await run_sla_sweep(db, now, bus=bus)
        elapsed = time.perf_counter() - started
        if k > WARMUP_SWEEPS:
            figures.seconds.append(elapsed)
            figures.warned.append(result.warned)
            figures.breached.append(result.breached)
    return figures


async def measure_sweep(backend: str, rows: int, args: argparse.Namespace) -> SweepFigures:
    """Time the SLA sweep among ``rows`` open conversations on one backend."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "sla-bench.db"
            url = f"sqlite+aiosqlite:///{path}"
            await asyncio.to_thread(run_migrations, url)
            db = Database(url)
            try:
                await _base_rows(db)
                await db.dispose()
                started = time.perf_counter()
                await asyncio.to_thread(fill_sqlite, path, rows, args)
                print(f"  (sqlite: {rows:,} rows written in {time.perf_counter() - started:.0f} s)")
                return await _timed_sweeps(db, backend, rows, args)
            finally:
                await db.dispose()
    name = f"ledgerdesk_sla_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(args.postgres_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    base = args.postgres_dsn.rsplit("/", 1)[0]
    try:
        url = f"{base.replace('postgresql://', 'postgresql+asyncpg://')}/{name}"
        await asyncio.to_thread(run_migrations, url)
        db = Database(url)
        try:
            await _base_rows(db)
            started = time.perf_counter()
            await fill_postgres(f"{base}/{name}", rows, args)
            print(f"  (postgres: {rows:,} rows written in {time.perf_counter() - started:.0f} s)")
            return await _timed_sweeps(db, backend, rows, args)
        finally:
            await db.dispose()
    finally:
        admin = await asyncpg.connect(args.postgres_dsn)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


# Rule evaluation ----------------------------------------------------------------------

RULE_WORDS = [
    "withdrawal",
    "deposit",
    "提现",
    "充值",
    "kyc",
    "hacked",
    "refund",
    "fee",
    "stuck",
    "2fa",
]


def _rule_specs(n: int) -> list[dict[str, Any]]:
    """``n`` rules of one trigger, shaped like real ones: a tier or priority test and a
    keyword or a tag, with all/any; each adds a tag when it matches."""
    specs = []
    for i in range(n):
        word = RULE_WORDS[i % len(RULE_WORDS)] + ("" if i < len(RULE_WORDS) else f"-{i}")
        conditions: list[dict[str, Any]] = [
            {"field": "text", "op": "contains_any", "value": [word, word.upper()]},
            {"field": "priority", "op": "any_of", "value": ["high", "urgent"]}
            if i % 3 == 0
            else {"field": "tier", "op": "is", "value": "vip"},
        ]
        if i % 4 == 0:
            conditions.append({"field": "tags", "op": "has_none", "value": [f"done-{i}"]})
        specs.append(
            {
                "trigger": "message.received",
                "match": "all",
                "conditions": conditions,
                "actions": [{"type": "add_tags", "tags": [f"r{i}"]}],
            }
        )
    return specs


def _texts(n: int) -> list[str]:
    base = [
        "Hello, my withdrawal has been stuck for two hours, please help",
        "我的提现还没有到账，已经等了很久",
        "How do I reset 2fa on my account?",
        "Where is my deposit? The transaction is confirmed on chain.",
        "hi",
    ]
    return [f"{base[i % len(base)]} #{i}" for i in range(n)]


async def measure_rule_evaluation(args: argparse.Namespace) -> None:
    from ledgerdesk.automation.conditions import Facts, RuleSet, compile_rule, matching
    from ledgerdesk.automation.schemas import RuleSpec

    specs = _rule_specs(200)
    rules = [compile_rule(i, RuleSpec.model_validate(spec)) for i, spec in enumerate(specs)]
    texts = _texts(args.rule_events)
    tiers, priorities = ["vip", "standard", "standard"], ["normal", "high", "urgent", "low"]
    events = [
        Facts(
            channel="webchat",
            language="en",
            priority=priorities[i % 4],
            tier=tiers[i % 3],
            status="open",
            tags=frozenset({"seen"}),
            text=text,
        )
        for i, text in enumerate(texts)
    ]
    rule_set = RuleSet(rules)
    started = time.perf_counter()
    matched = sum(len(rule_set.matching(facts)) for facts in events)
    elapsed = time.perf_counter() - started
    # The keyword index must not change the answer: every rule tried on a sample.
    assert all(rule_set.matching(f) == matching(rules, f) for f in events[:500])
    print(
        json.dumps(
            {
                "measure": "rule_evaluation.matching",
                "rules": len(rules),
                "events": len(events),
                "matches_per_event": round(matched / len(events), 2),
                "seconds": round(elapsed, 3),
                "events_per_second": round(len(events) / elapsed),
                "target_events_per_second": 20_000,
            }
        )
    )
    await _rule_evaluation_in_db(specs, args.rule_db_events)


async def _rule_evaluation_in_db(specs: list[dict[str, Any]], n_events: int) -> None:
    from ledgerdesk.automation.actions import do_save_rule
    from ledgerdesk.automation.engine import do_run_rules
    from ledgerdesk.automation.schemas import RuleIn
    from ledgerdesk.conversations.models import Message
    from ledgerdesk.customers.models import Customer
    from ledgerdesk.db.uow import UnitOfWork

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'rules.db'}"
        await asyncio.to_thread(run_migrations, url)
        db = Database(url)
        try:
            async with db.writer() as session, UnitOfWork(session) as uow:
                for i, spec in enumerate(specs):
                    await do_save_rule(uow, actor=None, data=RuleIn(name=f"rule {i}", **spec))
                customers = [
                    Customer(name=f"c{i}", tier="vip" if i % 3 == 0 else "standard")
                    for i in range(3)
                ]
                session.add_all(customers)
                await session.flush()
                conversations = [
                    Conversation(
                        subject=f"s{i}",
                        channel="webchat",
                        customer_id=customers[i % 3].id,
                        priority=["normal", "high", "urgent", "low"][i % 4],
                        language="en",
                    )
                    for i in range(200)
                ]
                session.add_all(conversations)
                await uow.commit()
            ids = [c.id for c in conversations]
            texts = _texts(n_events)
            fired = 0
            # The conversation actions call do_run_rules with the conversation they just
            # changed, already loaded; so each unit of work's conversations are read
            # first, in one query, and timed apart (``load_seconds``) from the rules.
            in_rules = load = 0.0
            cpu_in_rules = 0.0
            started, cpu_started = time.perf_counter(), time.process_time()
            for chunk in range(0, n_events, 100):
                async with db.writer() as session, UnitOfWork(session) as uow:
                    load_started = time.perf_counter()
                    wanted = {ids[i % len(ids)] for i in range(chunk, min(chunk + 100, n_events))}
                    loaded = await session.scalars(
                        select(Conversation).where(Conversation.id.in_(wanted))
                    )
                    by_id = {c.id: c for c in loaded}
                    load += time.perf_counter() - load_started
                    rules_started, rules_cpu = time.perf_counter(), time.process_time()
                    for i in range(chunk, min(chunk + 100, n_events)):
                        conversation = by_id[ids[i % len(ids)]]
                        # A stand-in for the message just stored (its id keys the firing).
                        message = Message(id=10_000_000 + i, author_kind="customer", body=texts[i])
                        result = await do_run_rules(
                            uow, conversation, "message.received", message=message
                        )
                        fired += len(result.fired)
                    await uow.commit()
                    in_rules += time.perf_counter() - rules_started
                    cpu_in_rules += time.process_time() - rules_cpu
            elapsed = time.perf_counter() - started
            cpu = time.process_time() - cpu_started
            # A yardstick for this machine at this moment: the same number of one-row
            # reads by primary key, in the same units of work.
            started, cpu_started = time.perf_counter(), time.process_time()
            for chunk in range(0, n_events, 100):
                async with db.writer() as session:
                    for i in range(chunk, min(chunk + 100, n_events)):
                        await session.execute(
                            select(Conversation.id).where(Conversation.id == ids[i % len(ids)])
                        )
                    await session.commit()
            baseline = time.perf_counter() - started
            baseline_cpu = time.process_time() - cpu_started
        finally:
            await db.dispose()
    print(
        json.dumps(
            {
                "measure": "rule_evaluation.unit_of_work",
                "backend": "sqlite",
                "rules": len(specs),
                "events": n_events,
                "fired_per_event": round(fired / n_events, 2),
                # The rules and the commit of their writes: what a message pays for them.
                "seconds": round(in_rules, 3),
                "events_per_second": round(n_events / in_rules),
                "target_events_per_second": 1_000,
                # With the caller's conversation reads (one query per unit of work).
                "load_seconds": round(load, 3),
                "events_per_second_with_load": round(n_events / elapsed),
                "yardstick_primary_key_reads_per_second": round(n_events / baseline),
                # Comparable on a busy machine: the share of the yardstick's speed, and
                # this process's CPU time (other processes' load does not count in it).
                "events_per_second_over_yardstick": round(baseline / in_rules, 3),
                "cpu_ms_per_event": round(cpu_in_rules * 1000 / n_events, 3),
                "cpu_ms_per_event_with_load": round(cpu * 1000 / n_events, 3),
                "yardstick_cpu_ms_per_read": round(baseline_cpu * 1000 / n_events, 3),
            }
        )
    )


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--measure", choices=["sweep", "rules", "all"], default="all")
    parser.add_argument("--rule-events", type=int, default=20_000, help="events, matching alone")
    parser.add_argument("--rule-db-events", type=int, default=2_000, help="events, in the database")
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--sqlite-rows", type=int, default=100_000)
    parser.add_argument("--postgres-rows", type=int, default=1_000_000)
    parser.add_argument(
        "--due-share",
        type=float,
        default=0.002,
        help="share of clocks reaching their warning time per sweep (as many breach)",
    )
    parser.add_argument("--interval", type=float, default=60, help="simulated seconds per sweep")
    parser.add_argument("--runs", type=int, default=7, help="timed sweeps")
    parser.add_argument("--postgres-dsn", default=POSTGRES_ADMIN_DSN)
    args = parser.parse_args()
    print(describe())
    if args.measure in ("sweep", "all"):
        backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
        for backend in backends:
            rows = args.sqlite_rows if backend == "sqlite" else args.postgres_rows
            (await measure_sweep(backend, rows, args)).report()
    if args.measure in ("rules", "all"):
        await measure_rule_evaluation(args)


if __name__ == "__main__":
    asyncio.run(main())
