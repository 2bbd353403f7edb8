"""Unit of work: one transaction, plus what must happen only after it commits.

Actions (``do_*``) stage rows and events on a unit of work; the caller commits
once. Events are published only after the commit succeeded, so
nobody is ever told about a change that was rolled back.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ledgerdesk.events.bus import Event, EventBus

log = logging.getLogger(__name__)

BeforeCommit = Callable[["UnitOfWork"], Awaitable[None]]


class UnitOfWork:
    def __init__(self, session: AsyncSession, bus: EventBus | None = None) -> None:
        self.session = session
        self.bus = bus
        self._events: list[Event] = []
        self._before_commit: dict[str, BeforeCommit] = {}
        self._staged: dict[str, list[Any]] = {}

    def staged(self, key: str) -> list[Any]:
        """A list that lives until this transaction ends (commit or rollback)."""
        return self._staged.setdefault(key, [])

    def before_commit(self, key: str, callback: BeforeCommit) -> None:
        """Run ``callback`` once, last thing before the commit (registering a key twice is
        a no-op). For rows that must be written as late as possible, like an outbox."""
        self._before_commit.setdefault(key, callback)

    def emit(self, event: Event) -> None:
        self._events.append(event)

    async def commit(self) -> None:
        hooks, self._before_commit = self._before_commit, {}
        for hook in hooks.values():
            await hook(self)
        self._staged.clear()
        await self.session.commit()
        events, self._events = self._events, []
        if self.bus is not None:
            for event in events:
                try:
                    await self.bus.publish(event)
                except Exception:  # the change is committed; a lost notification is logged
                    log.exception("publishing %s failed", event.kind)

    async def rollback(self) -> None:
        self._events.clear()
        self._before_commit.clear()
        self._staged.clear()
        await self.session.rollback()

    async def __aenter__(self) -> UnitOfWork:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            await self.rollback()
        await self.session.close()
