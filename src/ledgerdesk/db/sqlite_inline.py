"""SQLite statements on the event loop's own thread, instead of a hop to a worker thread.

aiosqlite hands every call (execute, fetch, close cursor...) to a thread and
back; on a local SQLite file that hop costs more than the statement itself,
and with writers serialised it bounds how many transactions a process can do.
Writers are queued in order per process (Database.writer), readers never wait
in WAL mode, so running the calls inline is safe and about three times faster.
The one wait that could block the loop, another process holding the write lock,
is turned into a short busy timeout plus an asynchronous retry (engine.py).

Running inline, even the asynchronous layer is ceremony: SQLAlchemy's aiosqlite
adapter turns each cursor call (execute, fetch, close) into a coroutine and a
greenlet switch to the event loop and back, some forty per API request. The
adapter below hands SQLAlchemy the plain ``sqlite3`` cursor instead, so a
statement is a direct call; aiosqlite still opens and closes the connection.

This relies on aiosqlite's ``Connection._execute`` and ``_connection`` and on
SQLAlchemy's aiosqlite adapter class (pinned versions); the test suite runs
entirely on it.
"""

from __future__ import annotations

import sqlite3
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import Any

import aiosqlite
from greenlet import getcurrent  # type: ignore[import-untyped]
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
)
from sqlalchemy.util import await_only


async def _nothing() -> None:
    return None


# How long one statement may block the loop on a lock held by another process.
INLINE_BUSY_TIMEOUT_MS = 50


class InlineConnection(aiosqlite.Connection):
    """An aiosqlite connection whose calls run immediately, on the caller's thread."""

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)


class InlineCursor(AsyncAdapt_aiosqlite_cursor):
    """SQLAlchemy's aiosqlite cursor adapter, calling the plain sqlite3 cursor directly.

    Rows are fetched at once, as the adapter does, so a result read later never holds
    a statement (and a read snapshot) open on the connection.
    """

    __slots__ = ()
    _awaitable_cursor_close = False

    def _make_new_cursor(self, connection: Any) -> Any:
        return connection._conn.cursor()

    def _aenter_cursor(self, cursor: Any) -> Any:
        return cursor

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        self._adapt_connection.yield_once()  # type: ignore[attr-defined]
        cursor: Any = self._cursor  # a plain sqlite3 cursor (typed as an async one)
        if parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        if cursor.description:
            self._rows = deque(cursor.fetchall())
        return cursor

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        self._adapt_connection.yield_once()  # type: ignore[attr-defined]
        cursor: Any = self._cursor
        return cursor.executemany(operation, seq_of_parameters)

    def setinputsizes(self, *inputsizes: Any) -> None:
        return None


class InlineAdaptedConnection(AsyncAdapt_aiosqlite_connection):
    """What SQLAlchemy's pool holds: cursors, commit and rollback go straight to sqlite3."""

    __slots__ = ("_yielded_in",)
    _cursor_cls = InlineCursor

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self._yielded_in: object = None

    def yield_once(self) -> None:
        """One trip through the event loop's side per SQLAlchemy call, not per statement.

        SQLAlchemy's AsyncConnection.execute insists that the call awaited something
        (a check against synchronous drivers); one await of a finished coroutine per
        greenlet satisfies it at the cost of a single switch.
        """
        current = getcurrent()
        if current is not self._yielded_in:
            self._yielded_in = current
            await_only(_nothing())

    def _sqlite(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = self._connection._connection
        if connection is None:
            raise ValueError("Connection closed")
        return connection

    @property
    def isolation_level(self) -> str | None:
        return self._sqlite().isolation_level

    @isolation_level.setter
    def isolation_level(self, value: str | None) -> None:
        self._sqlite().isolation_level = value  # type: ignore[assignment]

    def commit(self) -> None:
        if self._connection._connection:
            self._sqlite().commit()

    def rollback(self) -> None:
        if self._connection._connection:
            self._sqlite().rollback()


def inline_creator(path: str, dbapi: Callable[[], Any]) -> Callable[[], InlineAdaptedConnection]:
    """A ``creator`` for create_async_engine that opens inline connections.

    The pool calls it inside SQLAlchemy's greenlet, where ``await_only`` may wait for
    aiosqlite to open the file; ``dbapi`` gives the engine's adapted DBAPI module.
    """

    def create() -> InlineAdaptedConnection:
        # Opened on aiosqlite's thread, then used from the loop's thread only.
        connector = partial(sqlite3.connect, path, check_same_thread=False)
        connection = InlineConnection(connector, iter_chunk_size=64)
        await_only(connection)
        return InlineAdaptedConnection(dbapi(), connection)

    return create
