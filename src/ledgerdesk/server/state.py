"""What one running process holds: settings, database, event bus, secret box, limiters."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ledgerdesk.accounts.actions import LoginPolicy
from ledgerdesk.accounts.ratelimit import MemoryRateLimiter
from ledgerdesk.accounts.secrets import SecretBox
from ledgerdesk.db.engine import Database
from ledgerdesk.events.bus import EventBus
from ledgerdesk.settings import Settings


@dataclass
class AppState:
    settings: Settings
    db: Database
    bus: EventBus
    box: SecretBox
    secret_key: str
    login_limiter: MemoryRateLimiter
    # When each API token was last marked used by this process.
    token_touches: dict[int, datetime] = field(default_factory=dict)

    @property
    def login_policy(self) -> LoginPolicy:
        return LoginPolicy(
            max_failures=self.settings.login_max_failures,
            lockout=timedelta(minutes=self.settings.login_lockout_minutes),
            session_ttl=timedelta(hours=self.settings.session_ttl_hours),
        )
