"""One real-time client over a WebSocket: hello, snapshot or resume, events, acks, heartbeats.

The protocol is described in docs/realtime.md. Delivery goes by stream ids: a
connection first reads what it missed from the stream table itself (after the
client's last id, up to the position of this process's stream hub), then joins the
hub, which reads each new entry once for every connection (realtime/hub.py). A
reconnect that resumes from the client's last id gets exactly what it missed, in
order, once.

Access is checked again whenever accounts change (a token revoked, an agent
deactivated or given another role, two customers merged; ``accounts.changed`` on
the bus, from any process): a connection whose credentials no longer work is
closed with 4401, one whose access changed with 4409, after which clients
reconnect and resume with what they may now see.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import WebSocket, WebSocketDisconnect
from pydantic import ValidationError
from starlette.websockets import WebSocketDisconnected

from ledgerdesk.accounts.principal import Principal
from ledgerdesk.accounts.token_cache import ACCOUNTS_TOPIC
from ledgerdesk.channels.webchat.presence import touch_agent_presence
from ledgerdesk.errors import LedgerdeskError
from ledgerdesk.events.bus import Event
from ledgerdesk.realtime import frames
from ledgerdesk.realtime.commands import handle_send, handle_typing
from ledgerdesk.realtime.hub import Feed, StreamHub
from ledgerdesk.realtime.queries import BATCH, Audience, audience_of, read_after, stream_head
from ledgerdesk.server.state import AppState

log = logging.getLogger(__name__)

HELLO_TIMEOUT = 10.0
PING_INTERVAL = 20.0
STALE_AFTER = 60.0
MAX_FRAME_CHARS = 64 * 1024
# Connections re-check their access within this many seconds of an accounts change,
# spread out so thousands of them do not query the database at the same instant.
RECHECK_SPREAD_SECONDS = 1.0

# WebSocket close codes (4000-4999 are the application's own).
CLOSE_PROTOCOL = 4400
CLOSE_UNAUTHENTICATED = 4401
CLOSE_STALE = 4408
CLOSE_ACCESS_CHANGED = 4409
CLOSE_SERVER_ERROR = 1011


class Closing(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class RealtimeConnection:
    def __init__(
        self,
        websocket: WebSocket,
        state: AppState,
        authenticate: Any,
        hub: StreamHub,
    ) -> None:
        self.websocket = websocket
        self.state = state
        self.hub = hub
        self._authenticate = authenticate
        self.principal: Principal | None = None
        self.audience: Audience | None = None
        self.feed: Feed | None = None
        self.last_seen = time.monotonic()
        self._send_lock = asyncio.Lock()
        self._token: str | None = None
        self._recheck: asyncio.Task[None] | None = None

    async def send(self, frame: dict[str, Any]) -> None:
        async with self._send_lock:
            await self.websocket.send_json(frame)

    async def send_text(self, text: str) -> None:
        async with self._send_lock:
            await self.websocket.send_text(text)

    async def run(self) -> None:
        await self.websocket.accept()
        try:
            hello = await self._receive_hello()
            self._token = hello.token
            self.principal = await self._authenticate(self.websocket, hello.token)
            async with self.state.db.sessionmaker() as session:
                self.audience = await audience_of(session, self.principal)
                head = await stream_head(session)
            # Stream entries come through the hub; the bus brings typing and access changes.
            subscription = self.state.bus.subscribe({_typing_topic(self), ACCOUNTS_TOPIC})
            try:
                await self._start(hello, head)
                await self._serve(subscription)
            finally:
                if self._recheck is not None:
                    self._recheck.cancel()
                if self.feed is not None:
                    self.hub.leave(self.feed)
                await _close_quietly(subscription)
        except Closing as closing:
            with contextlib.suppress(Exception):
                await self.websocket.close(closing.code, closing.reason)
        except (WebSocketDisconnect, WebSocketDisconnected):
            # The client left; a send after another task saw it go raises the latter.
            pass

    async def _receive_hello(self) -> frames.Hello:
        try:
            raw = await asyncio.wait_for(self.websocket.receive_text(), HELLO_TIMEOUT)
        except TimeoutError:
            raise Closing(CLOSE_PROTOCOL, "send a hello frame first") from None
        try:
            return frames.Hello.model_validate_json(_bounded(raw))
        except ValidationError as exc:
            raise Closing(CLOSE_PROTOCOL, f"bad hello: {frames.describe(exc)}"[:120]) from None

    async def _start(self, hello: frames.Hello, head: int) -> None:
        assert self.principal is not None and self.audience is not None
        if hello.last_event_id is None:
            cursor = head
        else:
            if hello.last_event_id > head:
                raise Closing(CLOSE_PROTOCOL, "last_event_id is ahead of the stream")
            cursor = hello.last_event_id
        self.feed = Feed(self.audience, cursor)
        await touch_agent_presence(self.state, self.principal)  # web chat: "agents online"
        await self.send(
            {
                "type": "ready",
                "last_event_id": cursor,
                "resumed": hello.last_event_id is not None,
                "heartbeat_seconds": PING_INTERVAL,
                "you": _describe(self.principal),
            }
        )

    async def _serve(self, subscription: AsyncIterator[Event]) -> None:
        tasks = [
            asyncio.create_task(self._listen(subscription)),
            asyncio.create_task(self._deliver()),
            asyncio.create_task(self._heartbeat()),
        ]
        try:
            await self._receive_loop()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _listen(self, subscription: AsyncIterator[Event]) -> None:
        async for event in subscription:
            if event.kind == "typing":
                await self._forward_typing(event)
            elif (
                event.kind == "accounts.changed"
                and self._concerns(event)
                and (self._recheck is None or self._recheck.done())
            ):
                self._recheck = asyncio.create_task(self._recheck_access())

    def _concerns(self, event: Event) -> bool:
        """A change named for one agent (a logout, a team joined) concerns only that
        agent's connections; any other change concerns every connection."""
        agent_id = event.data.get("agent_id")
        return agent_id is None or (
            self.principal is not None and self.principal.agent_id == agent_id
        )

    async def _recheck_access(self) -> None:
        """Authenticate again as at the start; close if that fails or access changed."""
        await asyncio.sleep(random.uniform(0, RECHECK_SPREAD_SECONDS))  # noqa: S311 (spread, not security)
        assert self.principal is not None and self.audience is not None
        try:
            principal = await self._authenticate(self.websocket, self._token)
            async with self.state.db.sessionmaker() as session:
                audience = await audience_of(session, principal)
        except Closing as closing:
            await self._close(closing.code, closing.reason)
            return
        except Exception:
            # The database away for a moment: keep the connection, check at the next change.
            log.warning("could not check a real-time connection's access again", exc_info=True)
            return
        if _access(principal) != _access(self.principal) or audience != self.audience:
            await self._close(CLOSE_ACCESS_CHANGED, "your access changed; reconnect")

    async def _close(self, code: int, reason: str) -> None:
        log.info("closing a real-time connection: %s", reason)
        with contextlib.suppress(Exception):
            await self.websocket.close(code, reason)

    async def _deliver(self) -> None:
        try:
            await self._deliver_forever()
        except (WebSocketDisconnect, WebSocketDisconnected):
            pass  # the receive loop hears the close too
        except Exception:
            # The database away during a catch-up read, say: close, and the client
            # resumes from its last id on the next connection; nothing is lost.
            log.warning("real-time delivery failed; closing the connection", exc_info=True)
            await self._close(CLOSE_SERVER_ERROR, "delivery failed; reconnect and resume")

    async def _deliver_forever(self) -> None:
        feed = self.feed
        assert feed is not None
        while True:
            await self._catch_up(feed)
            while True:
                while feed.pending:
                    await self.send_text(feed.pending.popleft())
                if feed.lagging:
                    break  # fell behind: the rest comes from the database
                feed.ready.clear()
                await feed.ready.wait()

    async def _catch_up(self, feed: Feed) -> None:
        """Send what this connection may see after its cursor, read from the database,
        until it has reached the hub's position; then join the hub."""
        feed.lagging = False
        while True:
            await self.hub.start()
            # No await between reading the position and joining: nothing can slip between.
            if self.hub.try_join(feed):
                return
            target = self.hub.position
            if target is None:
                continue  # the hub stopped in between; start it again
            async with self.state.db.engine.connect() as connection:
                entries = await read_after(connection, feed.audience, feed.cursor, up_to=target)
            for entry in entries:
                await self.send_text(entry.text)
                feed.cursor = entry.id
            if len(entries) < BATCH:
                feed.cursor = max(feed.cursor, target)

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(PING_INTERVAL)
            if time.monotonic() - self.last_seen > STALE_AFTER:
                await self._close(CLOSE_STALE, "no heartbeat")
                return
            await self.send({"type": "ping", "at": time.time()})

    async def _receive_loop(self) -> None:
        while True:
            raw = await self.websocket.receive_text()
            self.last_seen = time.monotonic()
            try:
                frame = frames.parse_client_frame(_bounded(raw))
            except ValidationError as exc:
                await self.send({"type": "error", "error": frames.describe(exc)})
                continue
            except Closing as closing:
                await self.send({"type": "error", "error": closing.reason})
                continue
            await self._handle(frame)

    async def _handle(self, frame: frames.ClientFrame) -> None:
        assert self.principal is not None
        if isinstance(frame, frames.Ping | frames.Pong):
            await touch_agent_presence(self.state, self.principal)  # at most every 20 s
            if isinstance(frame, frames.Ping):
                await self.send({"type": "pong", "at": time.time()})
        elif isinstance(frame, frames.Send):
            try:
                ack = await handle_send(self.state, self.principal, frame)
            except LedgerdeskError as exc:
                await self.send(
                    {
                        "type": "error",
                        "client_id": frame.client_id,
                        "error": exc.message,
                        "code": exc.code,
                    }
                )
                return
            await self.send(ack)
        elif isinstance(frame, frames.Typing):
            try:
                await handle_typing(self.state, self.principal, frame)
            except LedgerdeskError as exc:
                await self.send({"type": "error", "error": exc.message, "code": exc.code})

    async def _forward_typing(self, event: Event) -> None:
        assert self.audience is not None and self.principal is not None
        data = event.data
        if data.get("sender") == _describe(self.principal):
            return  # not our own
        if self.audience.customer_id is not None:
            if (
                data.get("customer_id") != self.audience.customer_id
                or data.get("sender_kind") != "agent"
            ):
                return
            await self.send(
                {
                    "type": "typing",
                    "conversation_id": data["conversation_id"],
                    "typing": data["typing"],
                    "who": "agent",
                }
            )
            return
        if not self.audience.may_see_team(data.get("team_id")):
            return
        await self.send(
            {
                "type": "typing",
                **{k: data[k] for k in ("conversation_id", "typing")},
                **({"viewing": bool(data["viewing"])} if "viewing" in data else {}),
                "who": data.get("sender_kind"),
                "name": data.get("name"),
                "sender": data.get("sender"),
            }
        )


def _access(principal: Principal) -> tuple[object, ...]:
    """What decides what a connection may see and do."""
    agent = principal.agent
    return (
        principal.customer_id,
        principal.token_id,
        principal.scopes,
        agent.id if agent is not None else None,
        agent.role if agent is not None else None,
    )


def _typing_topic(connection: RealtimeConnection) -> str:
    audience = connection.audience
    assert audience is not None
    return (
        "typing:agents"
        if audience.customer_id is None
        else f"typing:customer:{audience.customer_id}"
    )


def _describe(principal: Principal) -> str:
    if principal.customer_id is not None:
        return f"customer:{principal.customer_id}"
    return f"agent:{principal.agent_id}"


def _bounded(raw: str) -> str:
    if len(raw) > MAX_FRAME_CHARS:
        raise Closing(CLOSE_PROTOCOL, f"frame larger than {MAX_FRAME_CHARS} characters")
    return raw


async def _close_quietly(subscription: AsyncIterator[Event]) -> None:
    closer = getattr(subscription, "aclose", None)
    if closer is not None:
        with contextlib.suppress(Exception):
            await closer()
