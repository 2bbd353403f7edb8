"""Writers in several processes on one SQLite file take turns through an OS file lock.

SQLite lets one connection write at a time. A second process's ``BEGIN IMMEDIATE``
fails with "database is locked" and is retried after a pause (engine.py), so under
load from two processes a writer sleeps 5-100 ms while the lock was free for most of
that time, and its requests' p99 shows it. An ``flock`` on a file beside the database
hands the turn over the moment its holder lets go: a process that finds it taken
waits for it in a thread, and its event loop goes on serving meanwhile.

The file lock only orders our own writers. SQLite's lock still guards the data: a
writer that does not take the turn (the sqlite3 shell, a migration) stays correct,
and a writer that waited for the turn longer than the busy timeout goes on to
SQLite's lock, its busy timeout (a second one, so at worst twice the setting in
all) and its usual error. Within one process, ``Database.writer`` already
queues writers in order, so at most one of them waits here at a time.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

try:
    import fcntl
except ImportError:  # not on Windows: writers there meet SQLite's busy timeout alone
    fcntl = None  # type: ignore[assignment]

# Waits given up (timeout, cancelled request) finish in the background; a few threads
# keep one such wait from delaying the next process-wide turn.
_WAITING_THREADS = 4


def write_turn_path(database: str) -> Path:
    """The lock file of a SQLite database file (beside its -wal and -shm files)."""
    return Path(f"{database}-writelock")


def _close_when_done(descriptor: int, _waited: object) -> None:
    # Closing the descriptor gives the lock back if the wait took it after all.
    os.close(descriptor)


class WriteTurn:
    """One process's access to the turn to write; use ``async with turn():``."""

    def __init__(self, path: Path, timeout_seconds: float) -> None:
        self.path = path
        self.timeout_seconds = timeout_seconds
        self._shared: int | None = None
        self._executor: ThreadPoolExecutor | None = None

    def _open(self) -> int:
        return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[None]:
        """Hold the turn for the block (or, past the timeout, go on without it)."""
        descriptor = await self._acquire() if fcntl is not None else None
        try:
            yield
        finally:
            if descriptor is not None:
                self._release(descriptor)

    async def _acquire(self) -> int | None:
        if self._shared is None:
            self._shared = self._open()
        try:
            fcntl.flock(self._shared, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return self._shared
        except BlockingIOError:
            pass
        # Another process writes. Wait on a descriptor of this wait's own: flock locks
        # of two descriptors conflict even within one process, so a wait given up below
        # can neither take nor free the turn of the next writer here.
        own = self._open()
        if self._executor is None:
            self._executor = ThreadPoolExecutor(_WAITING_THREADS, "sqlite-write-turn")
        waiting: Future[None] = self._executor.submit(fcntl.flock, own, fcntl.LOCK_EX)
        waited = asyncio.wrap_future(waiting)
        try:
            await asyncio.wait_for(asyncio.shield(waited), self.timeout_seconds)
        except BaseException as exc:  # timed out, or cancelled: the request is gone
            waiting.add_done_callback(partial(_close_when_done, own))
            if isinstance(exc, TimeoutError):
                return None  # SQLite's busy timeout decides from here
            raise
        return own

    def _release(self, descriptor: int) -> None:
        if descriptor == self._shared:
            fcntl.flock(descriptor, fcntl.LOCK_UN)
        else:
            os.close(descriptor)

    def close(self) -> None:
        if self._shared is not None:
            os.close(self._shared)
            self._shared = None
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
