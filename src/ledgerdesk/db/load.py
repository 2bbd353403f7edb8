"""Load the ORM objects of a hot read with one direct SELECT, not an ORM query.

An ORM query builds a compile state, a loading context and a row processor on every
execution, for one-row reads that the database answers from a primary key or an
index (a reply's conversation and SLA clocks, a new conversation's customer). ``load_now``
runs a Core SELECT of the mapped table's columns through db/direct.py instead,
builds each object from its row and adds it to the session as persistent, as the ORM
would with ``populate_existing``: an object the session already holds is given the
row's values, a new one is attached as if loaded. It and ``get_now`` (``session.get``)
begin the transaction first when the session has not (what the ORM statement would
do anyway). Where the direct path does not apply (unflushed changes, statement
listeners), the equivalent ORM statement runs; the two must lock alike (FOR UPDATE),
which ``load_now`` checks.

Like db/direct.py and db/persist.py this reads a few SQLAlchemy internals (the class
manager, instance states); the version is pinned and the suite runs on it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from sqlalchemy import Select, Table, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapper, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from ledgerdesk.db.direct import execute_direct


@dataclass(frozen=True, slots=True)
class _Shape:
    mapper: Mapper[Any]
    attributes: tuple[str, ...]  # the attribute of each table column, in the table's order
    primary_key: tuple[int, ...]  # where the primary key's columns are in a row


_SHAPES: dict[type, _Shape] = {}
T = TypeVar("T")

# The statements already checked to select the table's columns in order.
_CHECKED: set[tuple[type, Select[Any], Select[Any] | None]] = set()


def _shape(cls: type) -> _Shape:
    found = _SHAPES.get(cls)
    if found is None:
        mapper: Mapper[Any] = inspect(cls)
        columns: list[Any] = list(cast(Table, mapper.local_table).columns)
        found = _Shape(
            mapper=mapper,
            attributes=tuple(mapper.get_property_by_column(column).key for column in columns),
            primary_key=tuple(columns.index(column) for column in mapper.primary_key),
        )
        _SHAPES[cls] = found
    return found


def rows_of(cls: type) -> Select[Any]:
    """A Core SELECT of ``cls``'s table, every column in order: add the WHERE, build it
    once and pass it to ``load_now``."""
    mapper: Mapper[Any] = inspect(cls)
    return select(*cast(Table, mapper.local_table).columns)


def _check_shape(
    cls: type, statement: Select[Any], orm_statement: Select[Any] | None = None
) -> None:
    if (cls, statement, orm_statement) in _CHECKED:
        return
    table = cast(Table, inspect(cls).local_table)
    if list(statement.selected_columns) != list(table.columns):
        raise TypeError(f"select every column of {table.name}, in order (rows_of)")
    if orm_statement is not None and statement._for_update_arg != orm_statement._for_update_arg:
        # Otherwise the direct read would skip (or add) the ORM read's row locks.
        raise TypeError(f"the direct read of {table.name} must lock as the ORM statement does")
    _CHECKED.add((cls, statement, orm_statement))


async def begin(session: AsyncSession) -> None:
    """Make the session hold its connection, so that its next read can go direct.
    Beginning (``BEGIN IMMEDIATE`` for an inline SQLite writer; on PostgreSQL the
    checkout, the BEGIN going with the first statement) is what that statement would
    do anyway."""
    transaction = session.sync_session._transaction
    if transaction is None or not transaction._connections:
        await session.connection()


async def load_now(
    session: AsyncSession,
    cls: type[T],
    rows: Select[Any],
    orm_statement: Select[Any],
    params: Mapping[str, Any],
) -> Sequence[T]:
    """The objects of ``cls`` that ``rows`` (from ``rows_of``) finds, as persistent
    objects of ``session``; ``orm_statement`` (the same query, ORM-enabled) runs where
    the direct path does not apply. With or without ``populate_existing`` on it the
    objects are the same: the direct path only runs with no unflushed change in the
    session, so an object it holds already holds what its row holds in this
    transaction."""
    _check_shape(cls, rows, orm_statement)
    await begin(session)  # what the ORM statement would do first; then it can go direct
    direct = await execute_direct(session, rows, params)
    if direct is None:
        loaded: Sequence[T] = (await session.execute(orm_statement, params)).scalars().all()
        return loaded
    shape = _shape(cls)
    return [_persistent(session, shape, row) for row in direct.rows]


def _persistent(session: AsyncSession, shape: _Shape, row: tuple[Any, ...]) -> Any:
    key = shape.mapper.identity_key_from_primary_key(tuple(row[i] for i in shape.primary_key))
    held = session.sync_session.identity_map.get(key)
    if held is not None:
        # populate_existing: the session's object takes the row's values. It has no
        # unflushed changes to lose (run_direct would have refused).
        for attribute, value in zip(shape.attributes, row, strict=True):
            set_committed_value(held, attribute, value)
        return held
    instance = shape.mapper.class_manager.new_instance()
    instance.__dict__.update(zip(shape.attributes, row, strict=True))
    make_transient_to_detached(instance)
    session.add(instance)
    return instance


async def get_now(session: AsyncSession, cls: type[T], rows: Select[Any], ident: int) -> T | None:
    """``session.get(cls, ident)``, its SELECT run directly where it can be.

    ``rows`` is ``rows_of(cls)`` filtered on the primary key by a bind parameter named
    ``ident``. An object the session holds already is the ORM's to hand back (it may
    be expired, or deleted in this transaction).
    """
    shape = _shape(cls)
    if (
        shape.mapper.identity_key_from_primary_key((ident,))
        not in session.sync_session.identity_map
    ):
        await begin(session)
        _check_shape(cls, rows)
        direct = await execute_direct(session, rows, {"ident": ident})
        if direct is not None:
            return _persistent(session, shape, direct.rows[0]) if direct.rows else None
    return await session.get(cls, ident)
