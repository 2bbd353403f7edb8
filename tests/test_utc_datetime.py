"""UTCDateTime: aware UTC datetimes in and out on both databases; on SQLite its own
bind processor writes exactly the text SQLAlchemy's DATETIME writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import text
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.sqlite import DATETIME

from ledgerdesk.customers.actions import do_create_customer
from ledgerdesk.customers.models import Customer
from ledgerdesk.db.base import UTCDateTime
from ledgerdesk.db.engine import Database
from ledgerdesk.db.uow import UnitOfWork

MOMENTS = [
    datetime(2026, 11, 29, 10, 1, 40, 434685, tzinfo=UTC),
    datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),  # no microseconds: still six digits
    datetime(999, 1, 1, tzinfo=UTC),  # a year of three digits: padded to four
    datetime(2026, 3, 29, 1, 30, tzinfo=timezone(timedelta(hours=5))),  # another zone
    datetime(2026, 3, 28, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-8))),
]


def test_the_sqlite_text_is_sqlalchemys() -> None:
    dialect = sqlite.dialect()
    ours = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    theirs = DATETIME().bind_processor(dialect)
    assert ours is not None and theirs is not None
    for moment in MOMENTS:
        assert ours(moment) == theirs(moment.astimezone(UTC).replace(tzinfo=None))
    assert ours(None) is None
    with pytest.raises(ValueError, match="naive datetime"):
        ours(datetime(2026, 11, 29, 10, 0))


async def test_moments_come_back_as_the_same_instant_in_utc(db: Database) -> None:
    async with UnitOfWork(db.write_sessionmaker()) as uow:
        customer = await do_create_customer(uow, actor=None, name="Li", email="li@example.org")
        await uow.commit()
    for moment in MOMENTS[:2] + MOMENTS[3:]:
        async with db.writer() as session:
            stored = await session.get(Customer, customer.id)
            assert stored is not None
            stored.created_at = moment
            await session.commit()
        async with db.session() as session:
            again = await session.get(Customer, customer.id)
            raw = (
                await session.execute(
                    text("SELECT created_at FROM customers WHERE id = :id"), {"id": customer.id}
                )
            ).scalar_one()
        assert again is not None
        assert again.created_at == moment and again.created_at.tzinfo == UTC
        if db.is_sqlite:
            assert raw == moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
