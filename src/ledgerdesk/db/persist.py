"""Store a new ORM object with one Core INSERT, or change a few columns of a loaded one
with one UPDATE, instead of a unit-of-work flush.

A flush sorts the session's pending objects, plans a batch per mapper, post-fetches
defaults and registers each object; for one or two rows on a hot path (a conversation
and its first message, a reply) that bookkeeping costs several times the statement.
``insert_now`` fills the column defaults itself, runs the INSERT (built once per
class), sets the new primary key and adds the object to the session as persistent,
so later changes to it are flushed as UPDATEs like any loaded object's.
``insert_now_unless_exists`` does the same with ``ON CONFLICT DO NOTHING`` on a
unique key (an ingest's channel message id): one statement where a look-up, a
savepoint and the insert were four round trips on PostgreSQL.

Only for mapped classes whose columns all have Python-side defaults (or none) and no
relationships to cascade: everything this module writes is then known without
reading it back. A savepoint rolled back after ``insert_now`` does not detach the
object as it would a flushed one: the caller expunges it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import (
    CursorResult,
    Insert,
    Table,
    TextClause,
    Update,
    bindparam,
    insert,
    inspect,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapper, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.schema import ColumnDefault

from ledgerdesk.db.direct import execute_direct


@dataclass(frozen=True)
class _Plan:
    statement: Insert
    # (attribute name, column name, Python-side default or None)
    columns: tuple[tuple[str, str, ColumnDefault | None], ...]
    autoincrement: str | None  # the column the database numbers, if any


_PLANS: dict[type, _Plan] = {}


def _plan_for(cls: type) -> _Plan:
    plan = _PLANS.get(cls)
    if plan is not None:
        return plan
    mapper: Mapper[Any] = inspect(cls)
    if mapper.relationships:
        raise TypeError(f"{cls.__name__} has relationships; add it to the session instead")
    table = cast(Table, mapper.local_table)
    columns: list[tuple[str, str, ColumnDefault | None]] = []
    for prop in mapper.column_attrs:
        column = prop.columns[0]
        if column.server_default is not None:
            raise TypeError(f"{cls.__name__}.{prop.key} has a server default; flush instead")
        default = column.default if isinstance(column.default, ColumnDefault) else None
        columns.append((prop.key, column.key, default))
    numbered = table.autoincrement_column
    autoincrement = None
    if numbered is not None:
        autoincrement = numbered.key
        if mapper.get_property_by_column(numbered).key != autoincrement:
            raise TypeError(f"{cls.__name__}'s numbered column is mapped under another name")
    plan = _Plan(insert(table), tuple(columns), autoincrement)
    _PLANS[cls] = plan
    return plan


def _default_value(default: ColumnDefault | None) -> Any:
    if default is None:
        return None
    if default.is_callable:
        # SQLAlchemy wraps a no-argument default (list, dict, utcnow) to take a context.
        return default.arg(None)
    return default.arg


def _values(plan: _Plan, instance: Any) -> dict[str, Any]:
    """The row to insert: what the instance holds, defaults (set on it too) for the rest."""
    given = instance.__dict__
    values: dict[str, Any] = {}
    for attribute, column, default in plan.columns:
        if attribute in given:
            values[column] = given[attribute]
        elif attribute == plan.autoincrement:
            continue
        else:
            value = _default_value(default)
            setattr(instance, attribute, value)
            values[column] = value
    return values


def _attach(session: AsyncSession, instance: Any) -> None:
    # Every column now holds what the row holds: attach it as if it had been loaded.
    make_transient_to_detached(instance)
    session.add(instance)


async def insert_now(session: AsyncSession, instance: Any) -> None:
    """INSERT ``instance`` at once and make it a persistent object of ``session``."""
    plan = _plan_for(type(instance))
    values = _values(plan, instance)
    if plan.autoincrement is not None and values.get(plan.autoincrement) is None:
        values.pop(plan.autoincrement, None)
        direct = await execute_direct(session, plan.statement, values)
        if direct is not None:
            number = direct.lastrowid
            if number is None:  # a dialect that neither returns the key nor gives a rowid
                raise TypeError(f"the INSERT of {type(instance).__name__} returned no new key")
        else:
            result = cast(CursorResult[Any], await session.execute(plan.statement, values))
            assert result.inserted_primary_key is not None
            number = result.inserted_primary_key[0]
        setattr(instance, plan.autoincrement, number)
    elif await execute_direct(session, plan.statement, values) is None:
        await session.execute(plan.statement, values)
    _attach(session, instance)


_CONFLICT_INSERTS: dict[str, Callable[[Table], postgresql.Insert | sqlite.Insert]] = {
    "sqlite": sqlite.insert,
    "postgresql": postgresql.insert,
}
_INSERTS_UNLESS: dict[tuple[type, str, tuple[str, ...], TextClause | None], Insert] = {}


def _insert_unless_for(
    cls: type, dialect: str, key: tuple[str, ...], where: TextClause | None, plan: _Plan
) -> tuple[Insert, str]:
    """The statement, and the numbered column it returns."""
    numbered = plan.autoincrement
    statement = _INSERTS_UNLESS.get((cls, dialect, key, where))
    if statement is None:
        if numbered is None:
            raise TypeError(f"{cls.__name__} has no numbered key to return; use insert_now")
        make = _CONFLICT_INSERTS.get(dialect)
        if make is None:
            raise TypeError(f"no INSERT ... ON CONFLICT for the {dialect} dialect")
        table = cast(Table, inspect(cls).local_table)
        statement = (
            make(table)
            .on_conflict_do_nothing(
                index_elements=[table.c[name] for name in key], index_where=where
            )
            .returning(table.c[numbered])
        )
        _INSERTS_UNLESS[(cls, dialect, key, where)] = statement
    assert numbered is not None
    return statement, numbered


async def insert_now_unless_exists(
    session: AsyncSession, instance: Any, key: tuple[str, ...], where: TextClause | None = None
) -> bool:
    """INSERT ``instance`` unless a row with the same values of the unique ``key``
    columns exists (or is being stored by a concurrent transaction, which PostgreSQL
    waits for); True when it was stored and is now persistent in ``session``.
    ``where`` is the predicate of a partial unique index, the same object every call
    (the statement is built once for it).

    On False nothing was written and the instance stays transient: read the row that
    holds the key. The database numbers the new row (its key column must be numbered).
    """
    plan = _plan_for(type(instance))
    dialect = session.get_bind().dialect.name
    statement, numbered = _insert_unless_for(type(instance), dialect, key, where, plan)
    values = _values(plan, instance)
    values.pop(numbered, None)
    direct = await execute_direct(session, statement, values)
    if direct is not None:
        number = direct.scalar_one_or_none()
    else:
        number = (await session.execute(statement, values)).scalar_one_or_none()
    if number is None:
        return False
    setattr(instance, numbered, number)
    _attach(session, instance)
    return True


_UPDATES: dict[tuple[type, tuple[str, ...]], Update] = {}


def _update_for(cls: type, attributes: tuple[str, ...]) -> Update:
    statement = _UPDATES.get((cls, attributes))
    if statement is None:
        mapper: Mapper[Any] = inspect(cls)
        (key,) = mapper.primary_key  # one-column keys only
        columns: dict[str, Any] = {
            mapper.get_property(a).columns[0].key: bindparam(f"v_{a}") for a in attributes
        }
        statement = (
            update(cast(Table, mapper.local_table))
            .where(key == bindparam("v_primary_key"))
            .values(columns)
        )
        _UPDATES[(cls, attributes)] = statement
    return statement


async def update_now(session: AsyncSession, instance: Any, **values: Any) -> None:
    """UPDATE these attributes of a persistent ``instance`` at once, with a statement
    built once per class and set of attributes, and record them on the object as its
    committed state, so no flush writes them again.

    Cheaper than a flush for a hot counter update (a reply's message count and
    timestamps); changes the object holds to other attributes flush as usual.
    """
    mapper: Mapper[Any] = inspect(type(instance))
    (key,) = mapper.primary_key
    attributes = tuple(sorted(values))
    parameters = {f"v_{a}": values[a] for a in attributes}
    parameters["v_primary_key"] = getattr(instance, mapper.get_property_by_column(key).key)
    # Committed first: the statement's autoflush must not write them a second time. If
    # the UPDATE fails, so does the transaction the object belongs to.
    for attribute in attributes:
        set_committed_value(instance, attribute, values[attribute])
    state = inspect(instance)
    if state.modified and not state.committed_state:
        # Every change the object held is among these: it is clean again. Otherwise the
        # session still counts it as modified, and the statement below would go through
        # an autoflush that finds nothing to write (a tenth of a first reply).
        state._commit_all(state.dict, session.sync_session.identity_map)
    statement = _update_for(type(instance), attributes)
    if await execute_direct(session, statement, parameters) is None:
        await session.execute(statement, parameters)


def inserts_can_race(session: AsyncSession) -> bool:
    """Whether another transaction can store the same unique key between our look-up
    and our insert, so the insert needs a savepoint to recover from the clash.

    Not on SQLite: the writers of a process are queued (Database.writer) and those of
    other processes wait for BEGIN IMMEDIATE, so the look-up already settled it. The
    savepoint cost about 15% of a web chat send there.
    """
    return session.get_bind().dialect.name != "sqlite"
