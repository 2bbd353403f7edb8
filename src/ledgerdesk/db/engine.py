"""Engine creation, with SQLite tuned as a production database (WAL, busy timeout)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.util import await_only

from ledgerdesk.db.sqlite_inline import (
    INLINE_BUSY_TIMEOUT_MS,
    InlineAdaptedConnection,
    InlineSession,
    inline_creator,
)
from ledgerdesk.db.write_turn import WriteTurn, write_turn_path
from ledgerdesk.settings import Settings

WRITE_OPTION = "ledgerdesk_write"


_DATABASE_KEYS: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()


def database_key(session: AsyncSession) -> str:
    """The database a session talks to, as a key for per-database caches (a process may
    talk to several: the test suite): its URL as text, rendered once per engine.
    Rendering the URL (with its escaping) on every reply was a tenth of the secret
    and scam scan."""
    engine = session.get_bind().engine
    key = _DATABASE_KEYS.get(engine)
    if key is None:
        key = _DATABASE_KEYS[engine] = str(engine.url)
    return key


def json_text(value: Any) -> str:
    """JSON columns' text, by orjson: the standard library's encoder was a third of
    storing a real-time stream entry (its conversation and message payloads) and
    several percent of a reply (bench/README.md). Keys that are not strings are
    written as strings, as json.dumps writes them; what orjson refuses (an integer
    past 64 bits, a wei amount say) goes to json.dumps, which writes it exactly or
    raises as before. Reading stays with json.loads: orjson reads such an integer
    back as a float.
    """
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(value)


def _tune_sqlite(engine: AsyncEngine, busy_timeout_ms: int, inline: bool) -> None:
    # Inline connections must not block the event loop for long on another process's
    # lock: a short busy timeout per statement, and BEGIN IMMEDIATE retried below.
    statement_timeout_ms = (
        min(busy_timeout_ms, INLINE_BUSY_TIMEOUT_MS) if inline else busy_timeout_ms
    )

    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # aiosqlite's adapter opens transactions itself; let SQLAlchemy control them.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={int(statement_timeout_ms)}")
        # WAL is a property of the file: switch once (that needs the lock), then just check.
        cursor.execute("PRAGMA journal_mode")
        if str(cursor.fetchone()[0]).lower() != "wal":
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA temp_store=MEMORY")
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(conn: Any) -> None:
        # A writing unit of work takes the write lock up front (BEGIN IMMEDIATE), so
        # two writers queue on the busy timeout instead of failing with "database is
        # locked" when a read lock is upgraded. Readers never block in WAL mode.
        statement = "BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE_OPTION) else "BEGIN"
        # Inline, straight to sqlite3: exec_driver_sql's execution context and result
        # cost several times the statement, on every transaction.
        raw = conn.connection.dbapi_connection
        if not isinstance(raw, InlineAdaptedConnection):
            raw = None
        deadline = time.monotonic() + busy_timeout_ms / 1000
        pause = 0.005
        while True:
            try:
                if raw is not None and time.monotonic() < deadline:
                    raw.begin(statement)
                else:  # the last try goes through SQLAlchemy, for its wrapped error
                    conn.exec_driver_sql(statement)
                return
            except sqlite3.Error as exc:
                if "locked" not in str(exc):
                    # Anything else: once more through SQLAlchemy, whose error wraps it.
                    conn.exec_driver_sql(statement)
                    return
            except OperationalError as exc:
                if "locked" not in str(exc.orig) or time.monotonic() >= deadline:
                    raise
            # Another process writes: wait without blocking the event loop.
            await_only(asyncio.sleep(pause))
            pause = min(pause * 2, 0.1)


# A pooled connection unused for this long is pinged before it is handed out.
IDLE_PING_SECONDS = 10.0
_IDLE_SINCE = "ledgerdesk_idle_since"


def _ping_idle_connections(engine: AsyncEngine, idle_seconds: float) -> None:
    """Pessimistic disconnect handling, but only for connections that sat idle.

    ``pool_pre_ping`` costs a round trip on every checkout, which under load is
    about one statement in ten of a write. A connection returned to the pool a
    moment ago is as good as the ping would say; one that sat idle (the database
    may have restarted, a proxy may have cut it) is pinged, and a dead one is
    replaced before anyone uses it, as pre-ping does.
    """
    sync_engine = engine.sync_engine
    dialect = sync_engine.dialect

    @event.listens_for(sync_engine, "checkin")
    def on_checkin(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(sync_engine, "checkout")
    def on_checkout(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        since = record.info.get(_IDLE_SINCE)
        if since is None or time.monotonic() - since < idle_seconds:
            return  # new, or back in the pool only a moment ago
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as error:
            if dialect.is_disconnect(error, dbapi_connection, None):  # type: ignore[arg-type]
                # The pool discards this connection and checks out (or opens) another.
                raise DisconnectionError("an idle pooled connection was dead") from error
            raise


class Database:
    """Owns the engine and the session factory for one process."""

    def __init__(
        self,
        url: str,
        *,
        busy_timeout_ms: int = 5000,
        pool_size: int = 10,
        sqlite_inline: bool = True,
        idle_ping_seconds: float = IDLE_PING_SECONDS,
    ) -> None:
        self.url = url
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        kwargs: dict[str, Any] = {"pool_size": pool_size, "max_overflow": pool_size}
        if self.is_sqlite:
            # A SQLite connection is a file handle and its page cache, not a server
            # process: keep the overflow too. Opened and closed per request past
            # pool_size (16 clients listing), opening one (its PRAGMAs, a cold cache)
            # was a seventh of a read's CPU (bench/README.md).
            kwargs = {"pool_size": 2 * pool_size, "max_overflow": 2 * pool_size}
        inline = False
        # Several processes writing one file take turns (db/write_turn.py).
        self._write_turn: WriteTurn | None = None
        if self.is_sqlite and parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            self._write_turn = WriteTurn(
                write_turn_path(parsed.database), timeout_seconds=busy_timeout_ms / 1000
            )
            inline = sqlite_inline
            if inline:
                kwargs["creator"] = inline_creator(
                    parsed.database, lambda: self.engine.sync_engine.dialect.dbapi
                )
        self.engine: AsyncEngine = create_async_engine(url, json_serializer=json_text, **kwargs)
        if not self.is_sqlite:
            _ping_idle_connections(self.engine, idle_ping_seconds)
        # SQLite has one writer at a time. Queueing this process's writers here, in
        # order, is cheaper and fairer than letting their threads spin on the busy
        # timeout; other processes still meet the busy timeout.
        self._write_lock: asyncio.Lock | None = asyncio.Lock() if self.is_sqlite else None
        if self.is_sqlite:
            _tune_sqlite(self.engine, busy_timeout_ms, inline)
        session_class = InlineSession if inline else AsyncSession
        self.sessionmaker = async_sessionmaker(
            self.engine, class_=session_class, expire_on_commit=False
        )
        self._write_engine = self.engine.execution_options(**{WRITE_OPTION: True})
        self.write_sessionmaker = async_sessionmaker(
            self._write_engine, class_=session_class, expire_on_commit=False
        )
        # SQLite's writers of this process take turns, so one connection serves them
        # all: checking one out of the pool and back for every write cost about as much
        # as the write's own BEGIN and COMMIT.
        self._writer_connection: AsyncConnection | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        return cls(
            settings.database_url_value,
            busy_timeout_ms=settings.sqlite_busy_timeout_ms,
            pool_size=settings.db_pool_size,
            sqlite_inline=settings.sqlite_inline,
        )

    @asynccontextmanager
    async def writer(self) -> AsyncIterator[AsyncSession]:
        """A session for one writing transaction (in order, per process, on SQLite)."""
        if self._write_lock is None:
            async with self.write_sessionmaker() as session:
                yield session
            return
        if self._write_turn is None:  # in memory: no other process can write to it
            async with self._write_lock, self.write_sessionmaker() as session:
                yield session
            return
        async with self._write_lock, self._write_turn():
            connection = await self._held_writer_connection()
            async with self.write_sessionmaker(bind=connection) as session:
                yield session

    async def _held_writer_connection(self) -> AsyncConnection:
        """This process's writing connection, opened again if it was lost."""
        connection = self._writer_connection
        if connection is None or connection.closed:
            # (An invalidated one reconnects by itself on its next BEGIN.)
            connection = self._writer_connection = await self._write_engine.connect()
        elif connection.in_transaction():
            # A unit of work cut short before its session closed: never carry it over.
            await connection.rollback()
        return connection

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session for reads."""
        async with self.sessionmaker() as session:
            yield session

    async def dispose(self) -> None:
        if self._writer_connection is not None:
            connection, self._writer_connection = self._writer_connection, None
            await connection.close()
        await self.engine.dispose()
        if self._write_turn is not None:
            self._write_turn.close()
