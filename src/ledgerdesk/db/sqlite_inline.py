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
statement is a direct call.

With nothing left to wait for, even the session's own hop is ceremony: every
``AsyncSession`` call starts a greenlet to run the synchronous session in
(without them, chat_bench's server CPU a message fell from 1.87-1.92 to 1.62 ms).
:class:`InlineSession` calls the synchronous session directly once its
transaction holds a connection (opening one, and SQLite's ``BEGIN IMMEDIATE``
retried while another process writes, may still wait, so they take the usual
path). The connections themselves are opened on the loop's thread, without
aiosqlite's worker thread, so closing one never waits either.

This relies on aiosqlite's ``Connection._execute`` and ``_connection``, on
SQLAlchemy's aiosqlite adapter class and on ``SessionTransaction._connections``
(pinned versions); the test suite runs entirely on it.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import aiosqlite
from greenlet import getcurrent  # type: ignore[import-untyped]
from sqlalchemy import util
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.util import await_only


async def _nothing() -> None:
    return None


# How long one statement may block the loop on a lock held by another process.
INLINE_BUSY_TIMEOUT_MS = 50


# Set while InlineSession runs the synchronous session outside a greenlet: a statement
# then needs no trip through the event loop. Anywhere else (a lazy load from async
# code) the missing greenlet is still an error, as it is on PostgreSQL.
_direct: ContextVar[bool] = ContextVar("ledgerdesk_sqlite_direct", default=False)


class InlineConnection(aiosqlite.Connection):
    """An aiosqlite connection whose calls run immediately, on the caller's thread.

    It is opened and closed on that thread too: aiosqlite's worker thread is never
    started, so nothing it does needs an await.
    """

    def __init__(self, connection: sqlite3.Connection) -> None:
        super().__init__(lambda: connection, iter_chunk_size=64)
        self._connection = connection

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)

    def stop(self) -> asyncio.Future[Any] | None:
        self._running = False
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        return None


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
            if _direct.get() and not getattr(current, "__sqlalchemy_greenlet_provider__", False):
                return  # InlineSession's direct call: nobody checks for an await
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

    def begin(self, statement: str) -> None:
        """Start a transaction (``BEGIN`` or ``BEGIN IMMEDIATE``) with one sqlite3 call."""
        self._sqlite().execute(statement)

    def create_function(self, *args: Any, **kw: Any) -> None:
        self._sqlite().create_function(*args, **kw)

    def close(self) -> None:
        self._connection.stop()


def inline_creator(path: str, dbapi: Callable[[], Any]) -> Callable[[], InlineAdaptedConnection]:
    """A ``creator`` for create_async_engine that opens inline connections.

    Opening a local file is as quick as a statement, so it happens right here, on the
    loop's thread; ``dbapi`` gives the engine's adapted DBAPI module.
    """

    def create() -> InlineAdaptedConnection:
        # check_same_thread off: a connection may be finalised by the garbage collector
        # on another thread; it is only ever used from the loop's.
        connection = InlineConnection(sqlite3.connect(path, check_same_thread=False))
        return InlineAdaptedConnection(dbapi(), connection)

    return create


# AsyncSession runs its calls with these options (buffered results); so does the
# direct path, so the results are the same.
_EXECUTE_OPTIONS = util.immutabledict({"prebuffer_rows": True})


@contextmanager
def _directly() -> Iterator[None]:
    token = _direct.set(True)
    try:
        yield
    finally:
        _direct.reset(token)


class InlineSession(AsyncSession):
    """An AsyncSession on inline SQLite that skips the greenlet once nothing can wait.

    A transaction's first statement opens or checks out a connection and begins
    (``BEGIN IMMEDIATE`` for writers, retried asynchronously while another process
    holds the lock): that goes through AsyncSession as usual. From then on every
    statement, flush, commit and close is a plain call of the synchronous session.
    """

    def _holds_connection(self) -> bool:
        transaction = self.sync_session._transaction
        return transaction is not None and bool(transaction._connections)

    @staticmethod
    def _options(execution_options: Any) -> Any:
        if execution_options:
            return util.immutabledict(execution_options).union(_EXECUTE_OPTIONS)
        return _EXECUTE_OPTIONS

    async def _statement(
        self,
        direct: Callable[..., Any],
        through_greenlet: Callable[..., Awaitable[Any]],
        statement: Any,
        params: Any,
        execution_options: Any,
        bind_arguments: Any,
        kw: dict[str, Any],
    ) -> Any:
        if not self._holds_connection():
            return await through_greenlet(
                statement,
                params,
                execution_options=execution_options,
                bind_arguments=bind_arguments,
                **kw,
            )
        with _directly():
            return direct(
                statement,
                params=params,
                execution_options=self._options(execution_options),
                bind_arguments=bind_arguments,
                **kw,
            )

    async def execute(
        self,
        statement: Any,
        params: Any = None,
        *,
        execution_options: Any = util.EMPTY_DICT,
        bind_arguments: Any = None,
        **kw: Any,
    ) -> Any:
        return await self._statement(
            self.sync_session.execute,
            super().execute,
            statement,
            params,
            execution_options,
            bind_arguments,
            kw,
        )

    async def scalar(
        self,
        statement: Any,
        params: Any = None,
        *,
        execution_options: Any = util.EMPTY_DICT,
        bind_arguments: Any = None,
        **kw: Any,
    ) -> Any:
        return await self._statement(
            self.sync_session.scalar,
            super().scalar,
            statement,
            params,
            execution_options,
            bind_arguments,
            kw,
        )

    async def get(self, entity: Any, ident: Any, **kw: Any) -> Any:
        if not self._holds_connection():
            return await super().get(entity, ident, **kw)
        with _directly():
            return self.sync_session.get(entity, ident, **kw)

    async def flush(self, objects: Any = None) -> None:
        if not self._holds_connection():
            await super().flush(objects)
            return
        with _directly():
            self.sync_session.flush(objects=objects)

    async def commit(self) -> None:
        if not self._holds_connection():
            await super().commit()
            return
        with _directly():
            self.sync_session.commit()

    async def rollback(self) -> None:
        if not self._holds_connection():
            await super().rollback()
            return
        with _directly():
            self.sync_session.rollback()

    async def close(self) -> None:
        # Returning the connection rolls back and closes at most: nothing waits.
        with _directly():
            self.sync_session.close()
