"""Recently authenticated API tokens, so a burst of calls costs one database lookup.

An entry lives ``ttl`` seconds. Actions that revoke tokens or change agents
announce ``accounts.changed`` after commit, and the app empties the cache on it;
another process that does not hear the event (until the Redis bus) serves a
stale entry for at most ``ttl`` seconds.
"""

from __future__ import annotations

import time
from dataclasses import replace

from ledgerdesk.accounts.principal import Principal

ACCOUNTS_TOPIC = "accounts"


class PrincipalCache:
    def __init__(self, ttl: float, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, Principal]] = {}

    def get(self, digest: str, ip: str | None) -> Principal | None:
        if self.ttl <= 0:
            return None
        found = self._entries.get(digest)
        if found is None:
            return None
        expires, principal = found
        if expires < time.monotonic():
            del self._entries[digest]
            return None
        return replace(principal, ip=ip)

    def put(self, digest: str, principal: Principal) -> None:
        if self.ttl <= 0:
            return
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[digest] = (time.monotonic() + self.ttl, principal)

    def clear(self) -> None:
        self._entries.clear()
