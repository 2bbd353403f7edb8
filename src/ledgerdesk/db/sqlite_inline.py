"""SQLite statements on the event loop's own thread, instead of a hop to a worker thread.

aiosqlite hands every call (execute, fetch, close cursor...) to a thread and
back; on a local SQLite file that hop costs more than the statement itself,
and with writers serialised it bounds how many transactions a process can do.
Writers are queued in order per process (Database.writer), readers never wait
in WAL mode, so running the calls inline is safe and about three times faster.
The one wait that could block the loop, another process holding the write lock,
is turned into a short busy timeout plus an asynchronous retry (engine.py).

This relies on aiosqlite's ``Connection._execute`` (pinned version); the test
suite runs entirely on it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import aiosqlite

# How long one statement may block the loop on a lock held by another process.
INLINE_BUSY_TIMEOUT_MS = 50


class InlineConnection(aiosqlite.Connection):
    """An aiosqlite connection whose calls run immediately, on the caller's thread."""

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)


def inline_creator(path: str) -> Callable[[], Awaitable[InlineConnection]]:
    """An ``async_creator`` for create_async_engine that opens inline connections."""

    async def create() -> InlineConnection:
        # Opened on aiosqlite's thread, then used from the loop's thread only.
        connector = partial(sqlite3.connect, path, check_same_thread=False)
        connection = InlineConnection(connector, iter_chunk_size=64)
        await connection
        return connection

    return create
