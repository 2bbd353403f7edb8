"""The hottest Core statements run straight on the driver inside a transaction that
holds its connection, compiled once: ``sqlite3`` for an inline SQLite session,
asyncpg for PostgreSQL.

A web chat message or an API reply makes a handful of small writes: the message's
INSERT, the conversation's counters, the real-time stream entry. Through
``session.execute`` each one builds an execution context, processes its parameters
and a result, and fires the session's and the engine's hooks: many times the work
SQLite does for such a statement (bench/instructions_bench.py counts what skipping
it saves a request). Inside a
transaction that already holds its connection none of that is needed: the statement
is compiled by SQLAlchemy once per set of parameter names, its bind processors (our
UTC datetimes, JSON) are applied in order, and the ``sqlite3`` connection runs it;
returned values go through the columns' result processors, as a cursor result's do.

On PostgreSQL (``execute_direct``) the statement goes to asyncpg as SQLAlchemy's
asyncpg adapter sends it: the same SQL text (with its casts), through the adapter's
cache of prepared statements, under its lock, in the transaction it began. What is
skipped is the same as on SQLite, plus a greenlet per statement: SQLAlchemy's own
work around a small statement cost about four times asyncpg's on this machine
(bench/README.md). A driver error goes through the connection's usual handling, so
the caller gets the same wrapped error (``IntegrityError``...) and a lost
connection is invalidated as it would be.

The usual path is taken (``run_direct`` and ``execute_direct`` return None) whenever
any of this would change what happens:

- the session is neither an inline SQLite one nor on asyncpg, or its transaction
  holds no connection yet (the first statement begins it, ``BEGIN IMMEDIATE`` may
  wait);
- the session holds unflushed changes (``execute`` would autoflush them first);
- someone listens to the engine's statement events (tests counting statements,
  tracing): they see every statement;
- the statement is ORM-enabled, or needs what only an execution context provides
  (Python-side defaults computed at execution, expanding parameters);
- a result column whose processor depends on the driver's type code (numerics on
  PostgreSQL);
- SQLite raises: SQLite undoes a failed statement, so the caller runs it again the
  usual way and gets SQLAlchemy's wrapped error (``IntegrityError``) as it expects.
  When SQLite rolled the whole transaction back instead (a full disk, an I/O error),
  running it again would run it outside any transaction: the error is raised,
  wrapped, at once.

Like sqlite_inline.py, this reads a few SQLAlchemy internals (the session's
transaction, identity map and compiled statements); the version is pinned and the
suite runs on it.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, CursorResult, Executable
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, InvalidRequestError, MultipleResultsFound
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.compiler import SQLCompiler

from ledgerdesk.db.sqlite_inline import InlineSession


@dataclass(frozen=True, slots=True)
class _Plan:
    sql: str
    # Per positional parameter: the caller's key, or None for a value bound in the
    # statement itself (then ``constant`` holds it); the bind processor or None.
    keys: tuple[str | None, ...]
    constants: tuple[Any, ...]
    processors: tuple[Callable[[Any], Any] | None, ...]
    returns_rows: bool
    # Per returned column: its result processor (UTC datetimes, JSON) or None; empty
    # when no column needs one.
    row_processors: tuple[Callable[[Any], Any] | None, ...]
    # The dialect added ``RETURNING <primary key>`` itself (PostgreSQL's INSERT): the
    # new row's number comes back as a row, where SQLite gives a lastrowid.
    returns_new_key: bool = False


@dataclass(frozen=True, slots=True)
class DirectResult:
    rowcount: int
    lastrowid: int | None
    rows: list[tuple[Any, ...]]

    def scalar_one_or_none(self) -> Any:
        if len(self.rows) > 1:
            raise MultipleResultsFound("Multiple rows were found when one or none was required")
        return self.rows[0][0] if self.rows else None


# (statement, its parameter names, dialect) -> plan, or None: not fit to run directly.
# Keyed by the statement object: meant for statements built once. One built per call
# would only be compiled again each time, and the cache is emptied before it grows big.
_PLANS: dict[tuple[Executable, tuple[str, ...], Dialect], _Plan | None] = {}
_MAX_PLANS = 1000


def _plan(statement: Executable, keys: tuple[str, ...], dialect: Dialect) -> _Plan | None:
    cache_key = (statement, keys, dialect)
    if cache_key in _PLANS:
        return _PLANS[cache_key]
    plan = _compile(statement, keys, dialect)
    if len(_PLANS) >= _MAX_PLANS:
        _PLANS.clear()
    _PLANS[cache_key] = plan
    return plan


def _compile(statement: Executable, keys: tuple[str, ...], dialect: Dialect) -> _Plan | None:
    if statement._propagate_attrs.get("compile_state_plugin") == "orm":
        return None
    # As Connection.execute compiles it: the parameters' names, sorted, as column keys.
    compiled = statement.compile(dialect=dialect, column_keys=list(keys))  # type: ignore[attr-defined]
    if not isinstance(compiled, SQLCompiler) or compiled.positiontup is None:
        return None
    if (
        compiled.insert_prefetch
        or compiled.update_prefetch
        or compiled.literal_execute_params
        or compiled.post_compile_params
    ):
        return None
    # As the cursor result would process them (sqlite3 reports no column types; the
    # processors used here ignore asyncpg's, and those that need it refuse None).
    try:
        row_processors = tuple(
            column.type._cached_result_processor(dialect, None)
            for column in compiled._result_columns
        )
    except (TypeError, ValueError, LookupError, InvalidRequestError):
        return None
    if not any(row_processors):
        row_processors = ()
    given = set(keys)
    names = tuple(compiled.positiontup)
    bind_processors = compiled._bind_processors
    constants: list[Any] = []
    processors: list[Callable[[Any], Any] | None] = []
    for name in names:
        process = bind_processors.get(name)
        if process is not None and not callable(process):
            return None  # a tuple's processors, per element
        processors.append(process)
        if name in given:
            constants.append(None)
            continue
        bind = compiled.binds.get(name)
        if bind is None or bind.required or bind.callable is not None:
            return None  # a parameter the caller must give and did not: let execute say so
        constants.append(bind.value)
    return _Plan(
        sql=compiled.string,
        keys=tuple(name if name in given else None for name in names),
        constants=tuple(constants),
        processors=tuple(processors),
        returns_rows=bool(compiled._result_columns),
        row_processors=row_processors,
        returns_new_key=bool(getattr(compiled, "implicit_returning", None)),
    )


def _held_connection(session: AsyncSession) -> Connection | None:
    """The connection the session's transaction holds, if a statement may skip
    ``execute`` on it now."""
    sync = session.sync_session
    transaction = sync._transaction
    if transaction is None or not transaction._connections:
        return None
    if sync._new or sync._deleted or sync.identity_map._modified:
        return None  # execute would flush these first
    (connection, *_rest) = next(iter(transaction._connections.values()))
    if connection.invalidated or connection.closed:
        return None
    dispatch = connection.dispatch
    if dispatch.before_cursor_execute or dispatch.after_cursor_execute:
        return None
    return connection


def _connection(session: AsyncSession) -> tuple[Connection, sqlite3.Connection] | None:
    if not isinstance(session, InlineSession):
        return None
    connection = _held_connection(session)
    if connection is None:
        return None
    driver = connection.connection.driver_connection
    raw: sqlite3.Connection | None = getattr(driver, "_connection", None)
    if raw is None:
        return None
    return connection, raw


def run_direct(
    session: AsyncSession, statement: Executable, params: Mapping[str, Any]
) -> DirectResult | None:
    """Run one Core statement with one set of parameters on the session's sqlite3
    connection; None when the caller must ``await session.execute(...)`` instead."""
    found = _connection(session)
    if found is None:
        return None
    connection, raw = found
    plan = _plan(statement, tuple(sorted(params)), connection.dialect)
    if plan is None:
        return None
    arguments = _arguments(plan, params)
    try:
        cursor = raw.execute(plan.sql, arguments)
        rows = cursor.fetchall() if plan.returns_rows else []
    except sqlite3.Error as error:
        if raw.in_transaction:
            return None  # only the statement was undone: execute runs it for its error
        raise DBAPIError.instance(
            plan.sql, arguments, error, sqlite3.Error, dialect=connection.dialect
        ) from error
    if plan.row_processors and rows:
        rows = [_processed(plan.row_processors, row) for row in rows]
    return DirectResult(cursor.rowcount, cursor.lastrowid, rows)


def run_direct_many(
    session: AsyncSession, statement: Executable, rows: list[dict[str, Any]]
) -> bool:
    """One ``executemany`` of a Core INSERT or UPDATE on the session's sqlite3
    connection, for rows that all give the same parameters; False when the caller must
    ``await session.execute(statement, rows)`` instead (nothing was written then).

    As with the driver's executemany, the rows before a failing one stay written; the
    error is raised wrapped as ``execute`` would raise it (``IntegrityError``...).
    """
    if not rows:
        return True
    found = _connection(session)
    if found is None:
        return False
    connection, raw = found
    first = rows[0].keys()
    if any(row.keys() != first for row in rows):
        return False
    keys = tuple(sorted(first))
    plan = _plan(statement, keys, connection.dialect)
    if plan is None or plan.returns_rows:
        return False
    columns = tuple(zip(plan.keys, plan.constants, plan.processors, strict=True))
    arguments: list[list[Any]] = []
    for row in rows:
        values = []
        for key, constant, process in columns:
            value = row[key] if key is not None else constant
            values.append(value if process is None else process(value))
        arguments.append(values)
    try:
        raw.executemany(plan.sql, arguments)
    except sqlite3.Error as error:
        raise DBAPIError.instance(
            plan.sql, arguments, error, sqlite3.Error, dialect=connection.dialect
        ) from error
    return True


def _arguments(plan: _Plan, params: Mapping[str, Any]) -> list[Any]:
    arguments = []
    for key, constant, process in zip(plan.keys, plan.constants, plan.processors, strict=True):
        value = params[key] if key is not None else constant
        arguments.append(process(value) if process is not None else value)
    return arguments


def _asyncpg_connection(
    session: AsyncSession,
) -> tuple[Connection, AsyncAdapt_asyncpg_connection] | None:
    if isinstance(session, InlineSession):
        return None
    connection = _held_connection(session)
    if connection is None:
        return None
    adapted = connection.connection.dbapi_connection
    if not isinstance(adapted, AsyncAdapt_asyncpg_connection):
        return None
    return connection, adapted


# The command tag's row count, read as the adapter's cursor reads it.
_ROWCOUNT = re.compile(r"(?:SELECT|UPDATE|DELETE|INSERT \d+) (\d+)")


async def _run_on_asyncpg(
    connection: Connection,
    adapted: AsyncAdapt_asyncpg_connection,
    plan: _Plan,
    arguments: list[Any],
) -> DirectResult:
    try:
        async with adapted._execute_mutex:
            if adapted._transaction is None:  # begun by the first statement, as the cursor does
                await adapted._start_transaction()  # type: ignore[no-untyped-call]
            prepared, _attributes = await adapted._prepare(  # type: ignore[no-untyped-call]
                plan.sql,
                connection.dialect._invalidate_schema_cache_asof,  # type: ignore[attr-defined]
            )
            records = await prepared.fetch(*arguments)
            status = prepared.get_statusmsg()
    except Exception as error:
        try:
            adapted._handle_exception(error)  # the adapter's DBAPI error for asyncpg's
        except Exception as translated:
            dbapi = connection.dialect.loaded_dbapi
            if isinstance(
                translated, dbapi.InvalidCachedStatementError | dbapi.InternalServerError
            ):
                # A schema change made the prepared statements stale: as the dialect's
                # execution context does, so that the next use prepares them again.
                connection.dialect._invalidate_schema_cache()  # type: ignore[attr-defined]
            # Wrapped as execute wraps it; a lost connection is invalidated.
            connection._handle_dbapi_exception(translated, plan.sql, tuple(arguments), None, None)
        raise  # not reached: both of the above raise
    rows = [tuple(record) for record in records]
    if plan.row_processors and rows:
        rows = [_processed(plan.row_processors, row) for row in rows]
    counted = _ROWCOUNT.match(status or "")
    return DirectResult(
        int(counted.group(1)) if counted else -1,
        rows[0][0] if plan.returns_new_key and rows else None,
        [] if plan.returns_new_key else rows,
    )


async def execute_direct(
    session: AsyncSession, statement: Executable, params: Mapping[str, Any]
) -> DirectResult | None:
    """``run_direct`` for SQLite and PostgreSQL sessions alike: one Core statement with
    one set of parameters straight on the driver; None when the caller must ``await
    session.execute(...)`` instead."""
    if isinstance(session, InlineSession):
        return run_direct(session, statement, params)
    found = _asyncpg_connection(session)
    if found is None:
        return None
    connection, adapted = found
    plan = _plan(statement, tuple(sorted(params)), connection.dialect)
    if plan is None:
        return None
    return await _run_on_asyncpg(connection, adapted, plan, _arguments(plan, params))


def _processed(
    processors: tuple[Callable[[Any], Any] | None, ...], row: tuple[Any, ...]
) -> tuple[Any, ...]:
    return tuple(
        value if process is None else process(value)
        for process, value in zip(processors, row, strict=True)
    )


async def scalar_one_or_none(
    session: AsyncSession, statement: Executable, params: Mapping[str, Any]
) -> Any:
    """``(await session.execute(statement, params)).scalar_one_or_none()``, directly
    where it can be."""
    direct = await execute_direct(session, statement, params)
    if direct is not None:
        return direct.scalar_one_or_none()
    return (await session.execute(statement, params)).scalar_one_or_none()


async def rowcount(session: AsyncSession, statement: Executable, params: Mapping[str, Any]) -> int:
    """The number of rows an UPDATE or DELETE matched, directly where it can be."""
    direct = await execute_direct(session, statement, params)
    if direct is not None:
        return direct.rowcount
    result: CursorResult[Any] = await session.execute(statement, params)  # type: ignore[assignment]
    return result.rowcount


async def execute_many(
    session: AsyncSession, statement: Executable, rows: list[dict[str, Any]]
) -> None:
    """``await session.execute(statement, rows)`` for an INSERT or UPDATE of several
    rows, each run directly where it can be.

    As with the driver's executemany, the rows before a failing one stay written: the
    failing row and those after it go through ``execute``, which raises the error.
    """
    for index, row in enumerate(rows):
        if await execute_direct(session, statement, row) is None:
            await session.execute(statement, rows[index:])
            return
