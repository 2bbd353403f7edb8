"""The Redis backend of the event bus: the same interface, shared by every process.

Each topic is one Redis pub/sub channel, ``<prefix><topic>`` (prefix ``ledgerdesk:``
by default; tests pass their own so parallel runs never hear each other). An event
travels as JSON: ``kind``, ``topics``, ``data``, plus an id and the id of the bus
that sent it. Event data must therefore be JSON-safe (strings, numbers, booleans,
None, lists and dicts of those) — that is the contract of ``Event.data`` for every
backend; the memory bus just does not enforce it, this one raises ``TypeError``.

Delivery is Redis pub/sub: at most once, to whoever is subscribed at that moment.
When a subscriber's connection breaks it reconnects with backoff (logging a
warning each time), but events published during the gap are lost. That is
acceptable by design: the realtime layer resumes from the database
(``last_event_id``), the bus only tells it that something new is there.

Listeners (``add_listener``) exist to hear other processes, e.g. to drop a cache
everywhere when accounts change. One background task per bus reads the channels
of all listener topics; it starts lazily because it needs a running loop (from
``add_listener`` when a loop runs, else on the first ``publish``/``subscribe``),
or eagerly with ``await bus.start()``, which also waits until it is subscribed.
Events this bus publishes reach its own listeners exactly once: directly, inside
``publish``, so a process sees its own change at once even with Redis down; the
background task skips copies that carry its own bus id.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import RedisError

from ledgerdesk.events.bus import Event, Listener

log = logging.getLogger(__name__)

DEFAULT_CHANNEL_PREFIX = "ledgerdesk:"
# Errors after which a reader drops its connection and starts over. OSError covers
# sockets failing underneath redis-py; RedisError includes its ConnectionError.
_CONNECTION_ERRORS = (RedisError, OSError)


class EventBusError(RuntimeError):
    """The event bus could not do what was asked."""


class EventBusUnavailable(EventBusError):
    """Redis could not be reached; the event was not sent to other processes."""


class EventBusClosed(EventBusError):
    """The bus was closed; publishing on it is a bug in the caller."""


@dataclass(frozen=True, slots=True)
class _Envelope:
    id: str
    origin: str
    event: Event


class _RecentIds:
    """The ids of the last few multi-topic events one reader has delivered.

    An event goes to each of its topics' channels, so a reader subscribed to two
    of them receives two copies, one right after the other. Remembering recent
    ids lets it drop the second. Only events that can arrive more than once here
    are remembered, so ``size`` counts those, which keeps the window wide.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._ids: dict[str, None] = {}  # insertion-ordered: the oldest goes first

    def first_time(self, event_id: str) -> bool:
        if event_id in self._ids:
            return False
        self._ids[event_id] = None
        if len(self._ids) > self._size:
            del self._ids[next(iter(self._ids))]
        return True


def _redacted(url: str) -> str:
    """The URL without its password, fit for logs and error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def _encode(envelope: _Envelope) -> str:
    event = envelope.event
    body = {
        "id": envelope.id,
        "origin": envelope.origin,
        "kind": event.kind,
        "topics": list(event.topics),
        "data": event.data,
    }
    try:
        return json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"data of event {event.kind!r} is not JSON-safe: {exc}") from exc


def _decode(raw: Any) -> _Envelope | None:
    try:
        body = json.loads(raw)
        event_id, origin = body["id"], body["origin"]
        kind, topics, data = body["kind"], body["topics"], body["data"]
    except (TypeError, ValueError, KeyError) as exc:
        log.warning("dropping a malformed event message: %r (%s)", raw, exc)
        return None
    if not (
        isinstance(event_id, str)
        and isinstance(origin, str)
        and isinstance(kind, str)
        and isinstance(topics, list)
        and all(isinstance(topic, str) for topic in topics)
        and isinstance(data, dict)
    ):
        log.warning("dropping a malformed event message: %r", raw)
        return None
    return _Envelope(event_id, origin, Event(kind, tuple(topics), data))


def _put_dropping_oldest(queue: asyncio.Queue[Event | None], item: Event | None) -> None:
    # Like the memory bus: a stalled subscriber loses its oldest event, never blocks others.
    if queue.full():
        queue.get_nowait()
    queue.put_nowait(item)


class RedisEventBus:
    """Fan-out across processes through Redis pub/sub (see the module docstring).

    No connection is made until the bus is used, so creating one never fails on
    a Redis outage; ``publish`` then raises ``EventBusUnavailable``, which the
    unit of work logs (the change itself is already committed).
    """

    def __init__(
        self,
        url: str,
        *,
        channel_prefix: str = DEFAULT_CHANNEL_PREFIX,
        queue_size: int = 1000,
        listener_poll_seconds: float = 1.0,
        reconnect_min_seconds: float = 0.1,
        reconnect_max_seconds: float = 5.0,
        recent_ids: int = 1024,
        client_name: str | None = None,
    ) -> None:
        self._redis = Redis.from_url(
            url,
            decode_responses=True,
            socket_connect_timeout=5,
            # Few, short retries: a publish after commit must not hold a request for
            # long when Redis is down; readers reconnect in their own loop instead.
            retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), retries=2),
            client_name=client_name,
        )
        self._url = _redacted(url)
        self._prefix = channel_prefix
        self._queue_size = queue_size
        self._listener_poll = listener_poll_seconds
        self._reconnect_min = reconnect_min_seconds
        self._reconnect_max = reconnect_max_seconds
        self._recent_ids = recent_ids
        self._origin = uuid.uuid4().hex  # this bus's id: its listener task skips its own events
        self._listeners: list[tuple[frozenset[str], Listener]] = []
        self._listener_task: asyncio.Task[None] | None = None
        self._listener_confirmed: set[str] = set()  # channels Redis confirmed for the listeners
        self._listener_synced = asyncio.Event()
        self._readers: set[asyncio.Task[None]] = set()
        self._closed = False

    def channel(self, topic: str) -> str:
        """The Redis channel that carries ``topic``."""
        return self._prefix + topic

    # -- publishing ----------------------------------------------------------

    async def publish(self, event: Event) -> None:
        """Call local listeners, then send the event once to each of its topics' channels.

        Raises ``EventBusUnavailable`` when Redis cannot be reached, ``TypeError``
        when the data is not JSON-safe (before anyone is told anything).
        """
        if self._closed:
            raise EventBusClosed(f"event {event.kind!r} published on a closed event bus")
        envelope = _Envelope(uuid.uuid4().hex, self._origin, event)
        payload = _encode(envelope)
        self._ensure_listener_task()
        self._call_listeners(event)
        channels = [self.channel(topic) for topic in dict.fromkeys(event.topics)]
        if not channels:
            return
        try:
            # One round trip, and the copies leave in order, so every subscriber sees
            # this bus's events in publish order whichever channel carried them.
            async with self._redis.pipeline(transaction=False) as pipe:
                for channel in channels:
                    pipe.publish(channel, payload)
                await pipe.execute()
        except _CONNECTION_ERRORS as exc:
            raise EventBusUnavailable(
                f"could not publish event {event.kind!r} to Redis at {self._url}: {exc}"
            ) from exc

    # -- listeners -----------------------------------------------------------

    def add_listener(self, topics: set[str], listener: Listener) -> None:
        """Call ``listener`` (quick, synchronous) for events on these topics, from any process."""
        self._listeners.append((frozenset(topics), listener))
        self._update_listener_synced()
        self._ensure_listener_task()

    async def start(self) -> None:
        """Start hearing other processes now and wait until every listener topic is subscribed.

        Optional: without it the listener task starts on first use. It waits as
        long as Redis is away (the task keeps reconnecting), so bound it with
        ``asyncio.timeout`` where a deadline matters, e.g. at process startup.
        """
        self._ensure_listener_task()
        if self._listener_task is not None:
            await self._listener_synced.wait()

    def _listener_topics(self) -> set[str]:
        return {topic for topics, _ in self._listeners for topic in topics}

    def _listener_channels(self) -> set[str]:
        return {self.channel(topic) for topic in self._listener_topics()}

    def _update_listener_synced(self) -> None:
        if self._listener_channels() <= self._listener_confirmed:
            self._listener_synced.set()
        else:
            self._listener_synced.clear()

    def _on_listener_confirmed(self, channels: set[str]) -> None:
        self._listener_confirmed = set(channels)
        self._update_listener_synced()

    def _call_listeners(self, event: Event) -> None:
        for topics, listener in list(self._listeners):
            if topics.intersection(event.topics):
                try:
                    listener(event)
                except Exception:  # one broken listener must not stop the others or the publish
                    log.exception("event listener %r failed on %s", listener, event.kind)

    def _ensure_listener_task(self) -> None:
        if self._closed or not self._listeners:
            return
        if self._listener_task is not None and not self._listener_task.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # not in a loop yet (e.g. app construction): started on first use
        self._listener_task = loop.create_task(
            self._read(
                "the event listeners",
                channels=self._listener_channels,
                topics=self._listener_topics,
                deliver=self._call_listeners,
                poll=self._listener_poll,  # to pick up topics of listeners added later
                skip_own=True,
                on_confirmed=self._on_listener_confirmed,
            ),
            name="ledgerdesk-event-listeners",
        )
        self._listener_task.add_done_callback(_report_crash)

    # -- subscriptions -------------------------------------------------------

    async def subscribe(self, topics: set[str]) -> AsyncIterator[Event]:
        """Yield events on these topics, each once, in publish order per publisher.

        Each subscription has its own pub/sub connection, read by a task of the
        bus into a bounded queue. Closing the generator or cancelling its
        consumer releases the connection; ``close()`` ends the iteration.
        """
        if self._closed:
            return
        wanted = frozenset(topics)
        channels = {self.channel(topic) for topic in wanted}
        queue: asyncio.Queue[Event | None] = asyncio.Queue(self._queue_size)
        self._ensure_listener_task()
        reader = asyncio.create_task(
            self._read(
                f"a subscription to {sorted(wanted)}",
                channels=lambda: channels,
                topics=lambda: set(wanted),
                deliver=lambda event: _put_dropping_oldest(queue, event),
                poll=None,
                skip_own=False,
            ),
            name="ledgerdesk-event-subscription",
        )
        # When the reader stops for any reason (the bus closed, a bug), the iteration ends.
        reader.add_done_callback(lambda _: _put_dropping_oldest(queue, None))
        self._readers.add(reader)
        try:
            while (event := await queue.get()) is not None:
                yield event
            if not reader.cancelled() and (error := reader.exception()) is not None:
                raise error
        finally:
            self._readers.discard(reader)
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)

    # -- reading -------------------------------------------------------------

    async def _read(
        self,
        what: str,
        *,
        channels: Callable[[], set[str]],
        topics: Callable[[], set[str]],
        deliver: Callable[[Event], None],
        poll: float | None,
        skip_own: bool,
        on_confirmed: Callable[[set[str]], None] | None = None,
    ) -> None:
        """Read the wanted channels until cancelled, reconnecting with backoff."""
        recent = _RecentIds(self._recent_ids)
        backoff = self._reconnect_min
        while True:
            pubsub = self._redis.pubsub()
            requested: set[str] = set()
            confirmed: set[str] = set()
            if on_confirmed is not None:
                on_confirmed(confirmed)
            try:
                while True:
                    missing = channels() - requested
                    if missing:
                        await pubsub.subscribe(*sorted(missing))
                        requested |= missing
                    if not requested:  # nothing to hear (yet): no connection either
                        await asyncio.sleep(poll if poll is not None else 3600)
                        continue
                    message = await pubsub.get_message(timeout=poll)
                    if message is None:
                        continue
                    if message["type"] == "subscribe":
                        backoff = self._reconnect_min  # Redis answered: the connection is good
                        confirmed.add(message["channel"])
                        if on_confirmed is not None:
                            on_confirmed(confirmed)
                        continue
                    if message["type"] != "message":
                        continue
                    envelope = _decode(message["data"])
                    if envelope is None or (skip_own and envelope.origin == self._origin):
                        continue
                    matching = topics().intersection(envelope.event.topics)
                    if len(matching) > 1 and not recent.first_time(envelope.id):
                        continue  # the copy that came on another of our channels
                    deliver(envelope.event)
            except _CONNECTION_ERRORS as exc:
                log.warning(
                    "%s lost Redis at %s (%s); reconnecting in %.2fs, "
                    "events published meanwhile are not delivered",
                    what,
                    self._url,
                    exc,
                    backoff,
                )
            finally:
                await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py leaves it untyped
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self._reconnect_max)

    # -- closing -------------------------------------------------------------

    async def close(self) -> None:
        """End every subscription, stop the listener task and close the connections."""
        if self._closed:
            return
        self._closed = True
        tasks = list(self._readers)
        if self._listener_task is not None:
            tasks.append(self._listener_task)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._listeners.clear()
        await self._redis.aclose()


def _report_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and (error := task.exception()) is not None:
        log.error("%s stopped on an unexpected error", task.get_name(), exc_info=error)
