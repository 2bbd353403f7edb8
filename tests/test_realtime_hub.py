"""The stream hub: one read per new entry for every connection, and still exactly once.

These drive a connection's delivery loop against a socket stand-in, so the hub's
edge cases (a slow client, a resume ahead of the hub) can be forced precisely.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from ledgerdesk.db.engine import Database
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.events.bus import Event, MemoryEventBus
from ledgerdesk.realtime import hub as hub_module
from ledgerdesk.realtime import outbox
from ledgerdesk.realtime import queries as queries_module
from ledgerdesk.realtime.connection import RealtimeConnection
from ledgerdesk.realtime.hub import Feed, StreamHub
from ledgerdesk.realtime.queries import Audience, read_rows, stream_head
from tests.direct_support import record_direct

AGENT = Audience(customer_id=None)


class Socket:
    """Records the frames sent; holds them at a gate while ``gate`` is clear."""

    def __init__(self, *, open_gate: bool = True) -> None:
        self.frames: list[dict[str, Any]] = []
        self.closed: tuple[int, str] | None = None
        self.gate = asyncio.Event()
        if open_gate:
            self.gate.set()

    async def send_text(self, text: str) -> None:
        await self.gate.wait()
        self.frames.append(json.loads(text))

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)

    @property
    def ids(self) -> list[int]:
        return [frame["id"] for frame in self.frames]


def _connection(
    db: Database, hub: StreamHub, audience: Audience, cursor: int
) -> RealtimeConnection:
    made = RealtimeConnection.__new__(RealtimeConnection)
    made.websocket = Socket()  # type: ignore[assignment]
    made.state = SimpleNamespace(db=db)  # type: ignore[assignment]
    made.hub = hub
    made.audience = audience
    made.feed = Feed(audience, cursor)
    made._send_lock = asyncio.Lock()
    return made


def _socket(connection: RealtimeConnection) -> Socket:
    socket = connection.websocket
    assert isinstance(socket, Socket)
    return socket


async def _append(
    db: Database,
    bus: MemoryEventBus | None,
    number: int,
    *,
    customer_id: int | None = None,
    team_id: int | None = None,
    for_customer: bool = True,
) -> int:
    async with db.writer() as session, UnitOfWork(session, bus) as uow:
        outbox.append(
            uow,
            kind="test",
            data={"n": number, "view": "agent"},
            customer_data={"n": number, "view": "customer"} if for_customer else None,
            customer_id=customer_id,
            team_id=team_id,
        )
        await uow.commit()
    async with db.sessionmaker() as session:
        return await stream_head(session)


async def _until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110 (polling state the hub changes)
            await asyncio.sleep(0.01)


async def test_each_connection_gets_what_its_audience_may_see_once_in_order(db: Database) -> None:
    bus = MemoryEventBus()
    hub = StreamHub(db, bus)
    agent = _connection(db, hub, Audience(customer_id=None, hidden_team_ids=frozenset({5})), 0)
    mei = _connection(db, hub, Audience(customer_id=1), 0)
    ola = _connection(db, hub, Audience(customer_id=2), 0)
    tasks = [asyncio.create_task(c._deliver()) for c in (agent, mei, ola)]
    try:
        await _until(lambda: hub.live == 3)
        private = await _append(db, bus, 1, customer_id=1, team_id=5)
        note = await _append(db, bus, 2, customer_id=2, for_customer=False)
        public = await _append(db, bus, 3, customer_id=1)
        await _until(lambda: len(_socket(agent).frames) == 2 and len(_socket(mei).frames) == 2)
        await asyncio.sleep(0.1)  # nothing more arrives
        assert _socket(agent).ids == [note, public]
        assert {f["data"]["view"] for f in _socket(agent).frames} == {"agent"}
        assert _socket(mei).ids == [private, public]
        assert {f["data"]["view"] for f in _socket(mei).frames} == {"customer"}
        assert _socket(mei).frames[0] == {
            "type": "event",
            "id": private,
            "kind": "test",
            "data": {"n": 1, "view": "customer"},
        }
        assert _socket(ola).frames == []
    finally:
        for task in tasks:
            task.cancel()
        for connection in (agent, mei, ola):
            assert connection.feed is not None
            hub.leave(connection.feed)
    assert hub.position is None  # the last connection to leave stopped the reading


async def test_a_connection_that_falls_behind_reads_for_itself_and_misses_nothing(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hub_module, "MAX_PENDING", 3)
    bus = MemoryEventBus()
    hub = StreamHub(db, bus)
    slow = _connection(db, hub, AGENT, 0)
    socket = _socket(slow)
    socket.gate.clear()  # the client reads nothing for now
    feed = slow.feed
    assert feed is not None
    task = asyncio.create_task(slow._deliver())
    try:
        await _until(lambda: hub.live == 1)
        ids = [await _append(db, bus, n) for n in range(12)]
        await _until(lambda: hub.position == ids[-1])
        assert feed.lagging and hub.live == 0  # dropped, holding at most MAX_PENDING
        assert len(feed.pending) <= 3
        socket.gate.set()
        await _until(lambda: len(socket.frames) >= len(ids))
        await _until(lambda: hub.live == 1)  # caught up from the database and joined again
        more = await _append(db, bus, 99)
        await _until(lambda: len(socket.frames) == len(ids) + 1)
        assert socket.ids == [*ids, more]
    finally:
        task.cancel()
        hub.leave(feed)


async def test_a_resume_ahead_of_the_hub_gets_no_entry_twice(db: Database) -> None:
    bus = MemoryEventBus()
    hub = StreamHub(db, bus)
    await hub.start()
    # Written without a notification: this process's hub has not read them yet.
    first = await _append(db, None, 1)
    second = await _append(db, None, 2)
    third = await _append(db, None, 3)
    assert hub.position is not None and hub.position < first
    # The client saw up to ``second`` through another process.
    resumed = _connection(db, hub, AGENT, second)
    task = asyncio.create_task(resumed._deliver())
    try:
        await _until(lambda: hub.live == 1)
        await bus.publish(Event("stream.appended", (outbox.AGENTS_TOPIC,), {"last_id": third}))
        await _until(lambda: hub.position == third)
        await asyncio.sleep(0.1)
        assert _socket(resumed).ids == [third]
    finally:
        task.cancel()
        assert resumed.feed is not None
        hub.leave(resumed.feed)


async def test_a_lost_notification_is_made_up_by_the_next(db: Database) -> None:
    bus = MemoryEventBus()
    hub = StreamHub(db, bus)
    listener = _connection(db, hub, AGENT, 0)
    task = asyncio.create_task(listener._deliver())
    try:
        await _until(lambda: hub.live == 1)
        quiet = await _append(db, None, 1)  # its notification never arrives
        loud = await _append(db, bus, 2)
        await _until(lambda: len(_socket(listener).frames) == 2)
        assert _socket(listener).ids == [quiet, loud]
    finally:
        task.cancel()
        assert listener.feed is not None
        hub.leave(listener.feed)


async def test_a_lost_notification_with_nothing_after_it_is_read_within_the_poll(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis reconnecting can lose the last notification of a quiet moment."""
    monkeypatch.setattr(hub_module, "POLL_SECONDS", 0.2)
    bus = MemoryEventBus()
    hub = StreamHub(db, bus)
    listener = _connection(db, hub, AGENT, 0)
    task = asyncio.create_task(listener._deliver())
    try:
        await _until(lambda: hub.live == 1)
        quiet = await _append(db, None, 1)  # its notification never arrives, nor any other
        await _until(lambda: len(_socket(listener).frames) == 1, seconds=3.0)
        assert _socket(listener).ids == [quiet]
    finally:
        task.cancel()
        assert listener.feed is not None
        hub.leave(listener.feed)


class _SlowToSubscribe(MemoryEventBus):
    """A bus whose subscription is confirmed only when ``confirmed`` is set, as Redis's
    takes a round trip; the hub must not read the stream's head before that."""

    def __init__(self) -> None:
        super().__init__()
        self.confirmed = asyncio.Event()

    async def start(self) -> None:
        await self.confirmed.wait()


async def test_the_hub_reads_the_head_only_once_the_bus_hears_other_processes(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hub_module, "POLL_SECONDS", 3600.0)  # no poll to hide a miss
    bus = _SlowToSubscribe()
    hub = StreamHub(db, bus)
    starting = asyncio.create_task(hub.start())
    await asyncio.sleep(0.05)
    assert not starting.done() and hub.position is None, "waits for the subscription"
    bus.confirmed.set()
    await asyncio.wait_for(starting, 5)
    assert hub.position is not None
    hub._stop()


class _Unreachable:
    """A database stand-in whose every read fails, as when the server is away."""

    class engine:  # mimics Database.engine
        @staticmethod
        def connect() -> Any:
            raise ConnectionRefusedError("database away")


async def test_a_failed_catch_up_read_closes_the_connection_so_the_client_resumes(
    db: Database,
) -> None:
    bus = MemoryEventBus()
    hub = StreamHub(db, bus)
    await _append(db, bus, 1)
    behind = _connection(db, hub, AGENT, 0)
    behind.state = SimpleNamespace(db=_Unreachable())  # type: ignore[assignment]
    await asyncio.wait_for(behind._deliver(), 5)
    closed = _socket(behind).closed
    assert closed is not None and closed[0] == 1011
    assert _socket(behind).frames == [] and hub.live == 0
    hub.leave(Feed(AGENT, 0))  # stops the reading the catch-up started


async def test_read_rows_from_a_session_is_the_read_from_a_connection(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hub reads through a session straight from the driver: the same rows."""
    taken = record_direct(monkeypatch, queries_module)
    first = await _append(db, None, 1, customer_id=None, team_id=None)
    await _append(db, None, 2, for_customer=False)
    await _append(db, None, 3)
    async with db.engine.connect() as connection:
        expected = await read_rows(connection, first - 1)
    async with db.session() as session:
        found = await read_rows(session, first - 1)
        limited = await read_rows(session, first - 1, limit=2)
    assert [row.id for row in expected] == [first, first + 1, first + 2]
    assert found == expected
    assert limited == expected[:2]
    assert json.loads(found[0].data_json) == {"n": 1, "view": "agent"}
    assert found[1].customer_json is None
    assert taken == [True, True]
