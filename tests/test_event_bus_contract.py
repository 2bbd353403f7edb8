"""One contract for every event bus backend, run against the memory bus and Redis.

Redis is the machine's own server (redis://127.0.0.1:6379/0, or
LEDGERDESK_TEST_REDIS_URL). Without it the Redis half is skipped with the reason,
except under CI=true, where a missing service fails the run instead.

Subscriptions start when their consumer first waits on them, so tests do not
sleep and hope: they publish probe events until the subscriber has heard one on
each topic, and they end negative checks with a marker event (order is kept, so
anything that was going to arrive arrived before the marker).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from redis.asyncio import Redis

from ledgerdesk.events.bus import Event, EventBus, MemoryEventBus
from ledgerdesk.events.factory import create_event_bus
from ledgerdesk.events.redis_bus import EventBusUnavailable, RedisEventBus
from tests.conftest import REDIS_URL, require_redis

PROBE = "test.probe"
MARKER = "test.marker"
TIMEOUT = 5.0


@pytest.fixture
async def redis_url() -> str:
    return await require_redis()


@pytest.fixture
def prefix() -> str:
    """A channel prefix of this test's own, so parallel runs never hear each other."""
    return f"ledgerdesk-test:{uuid.uuid4().hex}:"


@pytest.fixture(params=["memory", "redis"])
async def event_bus(request: pytest.FixtureRequest, prefix: str) -> AsyncIterator[EventBus]:
    # Not called ``bus``: tests/conftest.py has a ``bus`` fixture for the app.
    if request.param == "memory":
        bus: EventBus = MemoryEventBus()
    else:
        await require_redis()
        bus = RedisEventBus(REDIS_URL, channel_prefix=prefix)
    try:
        yield bus
    finally:
        await bus.close()


class Collector:
    """Consumes one subscription in its own task, as a websocket handler would."""

    def __init__(self, bus: EventBus, topics: set[str]) -> None:
        self.topics = set(topics)
        self.events: list[Event] = []
        self.probed: set[str] = set()
        self.ended = False
        self._arrived = asyncio.Event()
        self._bus = bus
        self.task = asyncio.create_task(self._consume())

    async def _consume(self) -> None:
        async for event in self._bus.subscribe(self.topics):
            if event.kind == PROBE:
                self.probed.update(self.topics.intersection(event.topics))
            else:
                self.events.append(event)
            self._arrived.set()
        self.ended = True

    @property
    def kinds(self) -> list[str]:
        return [event.kind for event in self.events]

    async def wait_until(self, condition: Callable[[], bool]) -> None:
        async with asyncio.timeout(TIMEOUT):
            while not condition():
                if self.task.done():
                    self.task.result()  # raises what ended the subscription
                    pytest.fail("the subscription ended while a test was waiting on it")
                self._arrived.clear()
                await asyncio.wait(
                    [asyncio.ensure_future(self._arrived.wait()), self.task],
                    return_when=asyncio.FIRST_COMPLETED,
                )

    async def wait_for_marker(self) -> None:
        await self.wait_until(lambda: MARKER in self.kinds)

    async def probe(self, publisher: EventBus) -> None:
        """Publish probes until this subscriber has heard one on each of its topics."""
        self.probed.clear()
        async with asyncio.timeout(TIMEOUT):
            while not self.topics <= self.probed:
                for topic in self.topics - self.probed:
                    await publisher.publish(Event(PROBE, (topic,)))
                await asyncio.sleep(0.01)

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


class Collectors:
    """Starts live subscriptions and stops whatever is left of them after the test."""

    def __init__(self) -> None:
        self.started: list[Collector] = []

    async def __call__(self, bus: EventBus, *topics: str) -> Collector:
        collector = Collector(bus, set(topics))
        self.started.append(collector)
        await collector.probe(bus)
        return collector


@pytest.fixture
async def listening() -> AsyncIterator[Collectors]:
    collectors = Collectors()
    yield collectors
    for collector in collectors.started:
        await collector.stop()


class Heard:
    """A listener that records what it was called with (probes apart)."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.probes = 0
        self._arrived = asyncio.Event()

    def __call__(self, event: Event) -> None:
        if event.kind == PROBE:
            self.probes += 1
        else:
            self.events.append(event)
        self._arrived.set()

    @property
    def kinds(self) -> list[str]:
        return [event.kind for event in self.events]

    async def wait_until(self, condition: Callable[[], bool]) -> None:
        async with asyncio.timeout(TIMEOUT):
            while not condition():
                self._arrived.clear()
                await self._arrived.wait()


async def eventually(condition: Callable[[], Any]) -> None:
    async with asyncio.timeout(TIMEOUT):
        while not await condition():  # noqa: ASYNC110 (outside state, e.g. PUBSUB NUMSUB)
            await asyncio.sleep(0.01)


async def subscriber_count(bus: EventBus, topic: str) -> int:
    """How many live subscriptions hear ``topic``: the resources a subscription holds."""
    if isinstance(bus, MemoryEventBus):
        return sum(topic in topics for topics, _ in bus._subscribers)
    assert isinstance(bus, RedisEventBus)
    async with Redis.from_url(REDIS_URL) as client:
        [(_, count)] = await client.pubsub_numsub(bus.channel(topic))
        return int(count)


async def started(bus: RedisEventBus) -> None:
    """Wait until the bus's listeners hear other processes."""
    async with asyncio.timeout(TIMEOUT):
        await bus.start()


async def marker(bus: EventBus, topic: str) -> None:
    await bus.publish(Event(MARKER, (topic,)))


# -- the contract -------------------------------------------------------------


async def test_a_subscriber_gets_the_events_of_its_topics_and_no_others(
    event_bus: EventBus, listening: Collectors
) -> None:
    inbox = await listening(event_bus, "inbox")

    await event_bus.publish(Event("conversation.created", ("inbox", "conversation:1")))
    await event_bus.publish(Event("message.created", ("conversation:1",)))
    await event_bus.publish(Event("agent.updated", ("accounts",)))
    await marker(event_bus, "inbox")
    await inbox.wait_for_marker()

    assert inbox.kinds == ["conversation.created", MARKER]


async def test_an_event_on_two_subscribed_topics_arrives_once(
    event_bus: EventBus, listening: Collectors
) -> None:
    both = await listening(event_bus, "inbox", "conversation:7")

    await event_bus.publish(Event("conversation.assigned", ("inbox", "conversation:7")))
    await event_bus.publish(Event("conversation.closed", ("conversation:7", "inbox")))
    await marker(event_bus, "conversation:7")
    await both.wait_for_marker()

    assert both.kinds == ["conversation.assigned", "conversation.closed", MARKER]


async def test_events_arrive_in_the_order_they_were_published(
    event_bus: EventBus, listening: Collectors
) -> None:
    collector = await listening(event_bus, "inbox", "conversation:3")
    topic_sets = [("inbox",), ("conversation:3",), ("inbox", "conversation:3"), ("other",)]

    for n in range(60):
        await event_bus.publish(Event("numbered", topic_sets[n % 4], {"n": n}))
    await marker(event_bus, "inbox")
    await collector.wait_for_marker()

    numbers = [event.data["n"] for event in collector.events if event.kind == "numbered"]
    assert numbers == [n for n in range(60) if n % 4 != 3]


async def test_every_subscriber_gets_every_event(
    event_bus: EventBus, listening: Collectors
) -> None:
    first = await listening(event_bus, "inbox")
    second = await listening(event_bus, "inbox")
    third = await listening(event_bus, "inbox", "accounts")

    await event_bus.publish(Event("conversation.created", ("inbox",), {"id": 1}))
    await event_bus.publish(Event("conversation.created", ("inbox",), {"id": 2}))
    await marker(event_bus, "inbox")
    for collector in (first, second, third):
        await collector.wait_for_marker()

    for collector in (first, second, third):
        assert [event.data.get("id") for event in collector.events] == [1, 2, None]


async def test_event_data_arrives_as_it_was_sent(
    event_bus: EventBus, listening: Collectors
) -> None:
    collector = await listening(event_bus, "conversation:9")
    event = Event(
        "message.created",
        ("conversation:9",),
        {
            "text": "Grüße — where is my 0.5 BTC? 👀",
            "amount": "0.50000000",
            "count": 3,
            "ratio": 0.25,
            "internal": False,
            "agent": None,
            "nested": {"tags": ["withdrawal", "urgent"], "ids": [1, 2]},
        },
    )

    await event_bus.publish(event)
    await collector.wait_until(lambda: len(collector.events) == 1)

    assert collector.events == [event]


async def test_closing_a_subscription_stops_delivery_and_frees_it(
    event_bus: EventBus,
) -> None:
    subscription = event_bus.subscribe({"inbox"})
    first = asyncio.ensure_future(anext(subscription))
    async with asyncio.timeout(TIMEOUT):
        while not first.done():
            await event_bus.publish(Event(PROBE, ("inbox",)))
            await asyncio.wait([first], timeout=0.01)
    assert first.result().kind == PROBE
    assert await subscriber_count(event_bus, "inbox") == 1

    await subscription.aclose()

    await eventually(lambda: _count_is(event_bus, "inbox", 0))
    await event_bus.publish(Event("conversation.created", ("inbox",)))
    with pytest.raises(StopAsyncIteration):
        await anext(subscription)


async def _count_is(bus: EventBus, topic: str, expected: int) -> bool:
    return await subscriber_count(bus, topic) == expected


async def test_cancelling_the_consumer_stops_delivery_and_frees_its_subscription(
    event_bus: EventBus, listening: Collectors
) -> None:
    leaving = await listening(event_bus, "inbox")
    staying = await listening(event_bus, "inbox")
    assert await subscriber_count(event_bus, "inbox") == 2

    leaving.task.cancel()
    await asyncio.gather(leaving.task, return_exceptions=True)
    await eventually(lambda: _count_is(event_bus, "inbox", 1))
    await event_bus.publish(Event("conversation.created", ("inbox",)))
    await marker(event_bus, "inbox")
    await staying.wait_for_marker()

    assert leaving.events == []
    assert staying.kinds == ["conversation.created", MARKER]


async def test_listeners_are_called_once_for_the_events_of_their_topics(
    event_bus: EventBus,
) -> None:
    accounts = Heard()
    both = Heard()
    event_bus.add_listener({"accounts"}, accounts)
    event_bus.add_listener({"accounts", "inbox"}, both)

    await event_bus.publish(Event("token.revoked", ("accounts",)))
    await event_bus.publish(Event("conversation.created", ("inbox",)))
    await event_bus.publish(Event("agent.deactivated", ("accounts", "inbox")))

    # Local listeners have run by the time publish returns, on every backend.
    assert accounts.kinds == ["token.revoked", "agent.deactivated"]
    assert both.kinds == ["token.revoked", "conversation.created", "agent.deactivated"]


async def test_publishing_with_nobody_listening_is_fine(event_bus: EventBus) -> None:
    await event_bus.publish(Event("conversation.created", ("inbox", "conversation:1")))
    await event_bus.publish(Event("housekeeping.done", ()))


async def test_close_ends_subscriptions(event_bus: EventBus, listening: Collectors) -> None:
    collector = await listening(event_bus, "inbox")

    await event_bus.close()

    async with asyncio.timeout(1):
        await collector.task
    assert collector.ended
    assert await subscriber_count(event_bus, "inbox") == 0


async def test_the_factory_picks_the_backend_from_the_redis_url(prefix: str) -> None:
    memory = create_event_bus(None)
    redis_bus = create_event_bus(REDIS_URL, channel_prefix=prefix)  # connects on first use only
    try:
        assert isinstance(memory, MemoryEventBus)
        assert isinstance(redis_bus, RedisEventBus)
        assert redis_bus.channel("inbox") == f"{prefix}inbox"
    finally:
        await memory.close()
        await redis_bus.close()


# -- Redis only: several processes, and Redis going away ------------------------


async def test_an_event_published_by_one_process_reaches_subscribers_and_listeners_of_another(
    redis_url: str, prefix: str, listening: Collectors
) -> None:
    # Two buses with separate connection pools are what two processes have.
    here = RedisEventBus(redis_url, channel_prefix=prefix)
    there = RedisEventBus(redis_url, channel_prefix=prefix)
    try:
        heard_here, heard_there = Heard(), Heard()
        here.add_listener({"accounts"}, heard_here)
        there.add_listener({"accounts"}, heard_there)
        await started(here)
        await started(there)
        subscriber_there = Collector(there, {"accounts"})
        listening.started.append(subscriber_there)
        await subscriber_there.probe(here)

        await here.publish(Event("token.revoked", ("accounts",), {"token_id": 5}))
        await subscriber_there.wait_until(lambda: len(subscriber_there.events) == 1)
        await heard_there.wait_until(lambda: len(heard_there.events) == 1)
        # By the time "here" hears a marker from "there", Redis has brought it its own
        # event too (Redis keeps order), and it must have skipped it.
        await marker(there, "accounts")
        await heard_here.wait_until(lambda: MARKER in heard_here.kinds)
        await subscriber_there.wait_for_marker()

        assert subscriber_there.events == [
            Event("token.revoked", ("accounts",), {"token_id": 5}),
            Event(MARKER, ("accounts",)),
        ]
        assert heard_there.kinds == ["token.revoked", MARKER]
        assert heard_here.kinds == ["token.revoked", MARKER]
    finally:
        await here.close()
        await there.close()


async def test_a_listener_added_later_hears_other_processes_too(
    redis_url: str, prefix: str
) -> None:
    here = RedisEventBus(redis_url, channel_prefix=prefix, listener_poll_seconds=0.05)
    there = RedisEventBus(redis_url, channel_prefix=prefix)
    try:
        early, late = Heard(), Heard()
        here.add_listener({"accounts"}, early)
        await started(here)
        here.add_listener({"teams"}, late)
        await started(here)

        await there.publish(Event("team.renamed", ("teams",)))
        await late.wait_until(lambda: late.kinds == ["team.renamed"])

        assert early.events == []
    finally:
        await here.close()
        await there.close()


async def test_publishing_without_redis_raises_a_clear_error(prefix: str) -> None:
    with socket.socket() as sock:  # a port that nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    bus = RedisEventBus(f"redis://:hunter2@127.0.0.1:{port}/0", channel_prefix=prefix)
    heard = Heard()
    bus.add_listener({"accounts"}, heard)
    try:
        with pytest.raises(EventBusUnavailable, match=f"127.0.0.1:{port}") as raised:
            await bus.publish(Event("token.revoked", ("accounts",)))
        assert "hunter2" not in str(raised.value)
        assert heard.kinds == ["token.revoked"]  # this process still heard its own change
    finally:
        await bus.close()


async def test_a_subscriber_keeps_waiting_and_warns_while_redis_is_unreachable(
    prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    bus = RedisEventBus(
        f"redis://127.0.0.1:{port}/0", channel_prefix=prefix, reconnect_min_seconds=0.01
    )
    collector = Collector(bus, {"inbox"})
    try:
        with caplog.at_level(logging.WARNING, logger="ledgerdesk.events.redis_bus"):
            async with asyncio.timeout(TIMEOUT):
                # It tried, waited and tried again; log records come with no event to await.
                while len(caplog.records) < 2:  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
        assert "lost Redis" in caplog.records[0].getMessage()
        assert not collector.task.done()
    finally:
        await collector.stop()
        await bus.close()


async def test_subscriptions_and_listeners_recover_when_redis_drops_their_connections(
    redis_url: str, prefix: str, listening: Collectors
) -> None:
    name = f"ledgerdesk-test-{uuid.uuid4().hex[:12]}"
    bus = RedisEventBus(
        redis_url, channel_prefix=prefix, client_name=name, reconnect_min_seconds=0.01
    )
    other = RedisEventBus(redis_url, channel_prefix=prefix)
    try:
        heard = Heard()
        bus.add_listener({"accounts"}, heard)
        await started(bus)
        collector = await listening(bus, "inbox")

        async with Redis.from_url(redis_url, decode_responses=True) as admin:
            ours = [c["id"] for c in await admin.client_list() if c.get("name") == name]
            for client_id in ours:
                await admin.client_kill_filter(_id=client_id)
        assert len(ours) >= 2  # the subscription's connection and the listeners'

        await collector.probe(other)
        async with asyncio.timeout(TIMEOUT):
            while heard.probes == 0:
                await other.publish(Event(PROBE, ("accounts",)))
                await asyncio.sleep(0.01)
        await other.publish(Event("conversation.created", ("inbox",)))
        await other.publish(Event("token.revoked", ("accounts",)))
        await collector.wait_until(lambda: collector.kinds == ["conversation.created"])
        await heard.wait_until(lambda: heard.kinds == ["token.revoked"])
    finally:
        await bus.close()
        await other.close()
