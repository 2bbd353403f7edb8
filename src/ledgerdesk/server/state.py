"""What one running process holds: settings, database, event bus, secret box, limiters."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ledgerdesk.accounts.actions import LoginPolicy
from ledgerdesk.accounts.ratelimit import RateLimiter, RateLimits
from ledgerdesk.accounts.secrets import SecretBox
from ledgerdesk.accounts.token_cache import PrincipalCache
from ledgerdesk.channels.webchat.runtime import WebchatRuntime
from ledgerdesk.db.engine import Database
from ledgerdesk.events.bus import EventBus
from ledgerdesk.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class AppState:
    settings: Settings
    db: Database
    bus: EventBus
    box: SecretBox
    secret_key: str
    login_limiter: RateLimiter
    principals: PrincipalCache
    # Web chat: widget rate limiters, the attachment store, the presence clock.
    webchat: WebchatRuntime
    # When each API token was last marked used by this process.
    token_touches: dict[int, datetime] = field(default_factory=dict)

    background: set[asyncio.Task[None]] = field(default_factory=set)
    # Makes the limiters above: in memory, or shared through Redis (accounts/ratelimit.py).
    rate_limits: RateLimits = field(default_factory=RateLimits)

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run small bookkeeping after the request; failures are logged, never raised."""
        task = asyncio.create_task(work)
        self.background.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self.background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task failed", exc_info=task.exception())

    async def drain(self) -> None:
        if self.background:
            await asyncio.gather(*self.background, return_exceptions=True)

    @property
    def login_policy(self) -> LoginPolicy:
        return LoginPolicy(
            max_failures=self.settings.login_max_failures,
            lockout=timedelta(minutes=self.settings.login_lockout_minutes),
            session_ttl=timedelta(hours=self.settings.session_ttl_hours),
        )
