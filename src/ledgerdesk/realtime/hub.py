"""One reader of the stream per process, fanning each new entry out to the connections.

Without it every connection read the stream table itself after each notification:
with one agent and one customer online that was two queries per message, with a
hundred agents a hundred. The hub reads each new entry once (in batches under
load), makes each view's frame text once, and hands it to every connection whose
audience may see it.

Exactly once, in order, is kept by positions:

- ``position`` is the id up to which the hub has read the stream and handed every
  entry to the connections that were *live* at that moment. It only moves between
  awaits, after the entries up to it were handed out.
- A connection starts (and restarts) in *catch-up*: it reads the entries it may
  see after its own cursor, up to the hub's position, from the database itself.
  When its cursor has reached the position (checked with no await before joining),
  it joins the live set, and from then on gets every later entry from the hub.
  The hub never hands a connection an entry at or below its cursor, so a hello
  that resumes ahead of this process's hub (it saw entries on another process)
  gets no duplicates.
- A connection that falls behind (its client reads slower than the stream grows)
  is dropped from the live set after ``MAX_PENDING`` frames; it sends what it has,
  then catches up from the database again. Memory stays bounded per connection.

The hub hears ``stream.appended`` through a bus listener (every append carries the
agents' topic), from this process or, with Redis, any other. Its reading task runs
while connections are live and stops with the last one. With Redis it starts only
once the listener's subscription is confirmed, then reads the stream's head: an
append committed after that read is always heard. A notification lost anyway (Redis
reconnecting) costs at most ``POLL_SECONDS``: the hub also reads when it has heard
nothing for that long.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque

from ledgerdesk.db.engine import Database
from ledgerdesk.events.bus import Event, EventBus
from ledgerdesk.realtime.outbox import AGENTS_TOPIC
from ledgerdesk.realtime.queries import BATCH, Audience, StreamRow, read_rows, stream_head

log = logging.getLogger(__name__)

# Frames one connection may have waiting before it is moved back to reading for itself.
MAX_PENDING = 1000
# Seconds between the starts of two reads of the stream, at the least.
READ_INTERVAL = 0.005
# After a failed read (the database away for a moment), try again this much later.
RETRY_SECONDS = 0.5
# With nothing heard for this long, read anyway (a lost notification).
POLL_SECONDS = 2.0
# How long the first connection waits for the bus to confirm its subscription.
SUBSCRIBE_TIMEOUT = 5.0


class Feed:
    """One connection's place in the stream and the frames waiting for it."""

    __slots__ = ("audience", "cursor", "lagging", "pending", "ready")

    def __init__(self, audience: Audience, cursor: int) -> None:
        self.audience = audience
        # Every entry up to here that this audience may see was sent or is pending.
        self.cursor = cursor
        self.pending: deque[str] = deque()
        # Set by the hub when pending overflowed: catch up from the database.
        self.lagging = False
        self.ready = asyncio.Event()

    def push(self, entry_id: int, text: str) -> None:
        self.pending.append(text)
        self.cursor = entry_id
        self.ready.set()


class StreamHub:
    def __init__(self, db: Database, bus: EventBus) -> None:
        self._db = db
        self.position: int | None = None  # None: not reading (no live connection)
        self._agents: set[Feed] = set()
        self._customers: dict[int, set[Feed]] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._starting = asyncio.Lock()
        self._reading = False
        self._bus = bus
        bus.add_listener({AGENTS_TOPIC}, self._heard)

    # Joining and leaving -------------------------------------------------------------

    @property
    def live(self) -> int:
        return len(self._agents) + sum(len(feeds) for feeds in self._customers.values())

    async def start(self) -> None:
        """Make sure the hub reads (its position is then known)."""
        if self._task is not None:
            return
        async with self._starting:
            if self._task is not None:
                return
            await self._listening()
            async with self._db.engine.connect() as connection:
                self.position = await stream_head(connection)
            self._task = asyncio.create_task(self._run(), name="ledgerdesk-stream-hub")

    def try_join(self, feed: Feed) -> bool:
        """Join the live set if the feed has caught up with the hub (no await inside)."""
        if self.position is None or self._task is None or feed.cursor < self.position:
            return False
        if feed.audience.customer_id is None:
            self._agents.add(feed)
        else:
            self._customers.setdefault(feed.audience.customer_id, set()).add(feed)
        return True

    def leave(self, feed: Feed) -> None:
        """A connection ends: forget it; the last one stops the reading."""
        self._drop(feed)
        if not self._agents and not self._customers:
            self._stop()

    def _stop(self) -> None:
        task, self._task = self._task, None
        self.position = None
        if task is not None and not self._reading:
            task.cancel()  # waiting for a notification; a read in progress finishes first

    async def _listening(self) -> None:
        """Wait until the bus delivers other processes' notifications (Redis: the
        subscription is confirmed); a head read before that could miss an append."""
        start = getattr(self._bus, "start", None)
        if start is None:
            return  # in-process bus: listeners hear every publish at once
        try:
            async with asyncio.timeout(SUBSCRIBE_TIMEOUT):
                await start()
        except TimeoutError:
            log.warning(
                "the event bus did not confirm its subscription within %.0f s; the "
                "real-time stream is read every %.0f s until it does",
                SUBSCRIBE_TIMEOUT,
                POLL_SECONDS,
            )

    # Reading ----------------------------------------------------------------------

    def _heard(self, event: Event) -> None:
        if event.kind != "stream.appended":
            return
        last_id = event.data.get("last_id")
        if isinstance(last_id, int) and self.position is not None and last_id <= self.position:
            return  # read already
        self._wake.set()

    async def _run(self) -> None:
        me = asyncio.current_task()
        loop = asyncio.get_running_loop()
        while self._task is me:
            try:
                async with asyncio.timeout(POLL_SECONDS):
                    await self._wake.wait()
            except TimeoutError:
                pass  # nothing heard for a while: read anyway, a notification may be lost
            self._wake.clear()
            self._reading = True
            began = loop.time()
            try:
                await self._read_new(me)
            except Exception:
                log.warning("reading the real-time stream failed; trying again", exc_info=True)
                await asyncio.sleep(RETRY_SECONDS)
                self._wake.set()
            finally:
                self._reading = False
            # At most one read per READ_INTERVAL: under load the entries of several
            # commits come in one read, for a few milliseconds of latency at most.
            pause = READ_INTERVAL - (loop.time() - began)
            if pause > 0 and self._task is me:
                await asyncio.sleep(pause)

    async def _read_new(self, me: asyncio.Task[None] | None) -> None:
        while self._task is me and self.position is not None:
            if self._db.is_sqlite:  # a session: read straight from sqlite3 (read_rows)
                async with self._db.session() as session:
                    rows = await read_rows(session, self.position)
            else:
                async with self._db.engine.connect() as connection:
                    rows = await read_rows(connection, self.position)
            if self._task is not me or self.position is None:
                return  # stopped while reading: nobody is live
            lagging: list[Feed] = []
            for row in rows:
                if row.id > self.position:
                    self._hand_out(row, lagging)
                    self.position = row.id
            for feed in lagging:
                self._drop(feed)
            if len(rows) < BATCH:
                return

    def _hand_out(self, row: StreamRow, lagging: list[Feed]) -> None:
        if self._agents:
            text: str | None = None
            for feed in self._agents:
                if row.id > feed.cursor and feed.audience.may_see_team(row.team_id):
                    if text is None:
                        text = row.agent_frame()
                    _give(feed, row.id, text, lagging)
        if row.customer_id is not None and row.customer_json is not None:
            feeds = self._customers.get(row.customer_id)
            if feeds:
                customer_text = row.customer_frame()
                assert customer_text is not None
                for feed in feeds:
                    if row.id > feed.cursor:
                        _give(feed, row.id, customer_text, lagging)

    def _drop(self, feed: Feed) -> None:
        """Stop holding frames for a feed that fell behind; it reads for itself from its
        cursor (and joins again once it has caught up). The hub keeps reading."""
        if feed.audience.customer_id is None:
            self._agents.discard(feed)
        else:
            feeds = self._customers.get(feed.audience.customer_id)
            if feeds is not None:
                feeds.discard(feed)
                if not feeds:
                    del self._customers[feed.audience.customer_id]
        feed.lagging = True
        feed.ready.set()


def _give(feed: Feed, entry_id: int, text: str, lagging: list[Feed]) -> None:
    if feed.lagging:
        return  # over its limit earlier in this batch: the database has the rest
    if len(feed.pending) >= MAX_PENDING:
        feed.lagging = True
        lagging.append(feed)
        return
    feed.push(entry_id, text)
