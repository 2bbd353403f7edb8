"""Reads about customers; every agent read of one customer's record is audited by the caller."""

from __future__ import annotations

from sqlalchemy import bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerdesk.accounts.principal import Principal
from ledgerdesk.customers.models import Customer, CustomerIdentity
from ledgerdesk.db.load import get_now, rows_of
from ledgerdesk.errors import NotFound, PermissionDenied


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# session.get(Customer, id) straight on SQLite (db/load.py): a new conversation's first read.
_CUSTOMER_ROW = rows_of(Customer).where(Customer.__table__.c.id == bindparam("ident"))


async def access_customer(
    session: AsyncSession, principal: Principal, customer_id: int
) -> Customer:
    """The customer record, if this principal may see it. Merged records lead to the survivor."""
    if principal.is_customer:
        if principal.customer_id != customer_id:
            raise NotFound(f"customer {customer_id} not found")
    else:
        principal.require_agent()
        principal.require_scope("customers:read")
    customer = await get_now(session, Customer, _CUSTOMER_ROW, customer_id)
    if customer is None:
        raise NotFound(f"customer {customer_id} not found")
    seen = {customer.id}
    while customer.merged_into_id is not None:
        survivor = await session.get(Customer, customer.merged_into_id)
        if survivor is None or survivor.id in seen:
            break
        seen.add(survivor.id)
        customer = survivor
    return customer


def require_customer_write(principal: Principal) -> None:
    agent = principal.require_agent()
    principal.require_scope("customers:write")
    if not agent.can_reply:
        raise PermissionDenied("viewers cannot change customers")


async def identities_of(session: AsyncSession, customer_id: int) -> list[CustomerIdentity]:
    result = await session.execute(
        select(CustomerIdentity)
        .where(CustomerIdentity.customer_id == customer_id)
        .order_by(CustomerIdentity.id)
    )
    return list(result.scalars())


async def find_by_identity(session: AsyncSession, kind: str, value: str) -> Customer | None:
    result = await session.execute(
        select(Customer)
        .join(CustomerIdentity, CustomerIdentity.customer_id == Customer.id)
        .where(CustomerIdentity.kind == kind, CustomerIdentity.value == value)
    )
    return result.scalar_one_or_none()


async def search_customers(
    session: AsyncSession,
    principal: Principal,
    *,
    query: str | None,
    limit: int,
    after_id: int | None,
) -> list[Customer]:
    principal.require_agent()
    principal.require_scope("customers:read")
    statement = select(Customer).where(Customer.merged_into_id.is_(None))
    if query:
        pattern = _like_pattern(query.strip().lower())
        identity_match = select(CustomerIdentity.customer_id).where(
            CustomerIdentity.value.ilike(pattern, escape="\\")
        )
        statement = statement.where(
            or_(
                Customer.name.ilike(pattern, escape="\\"),
                Customer.email.ilike(pattern, escape="\\"),
                Customer.id.in_(identity_match),
            )
        )
    if after_id is not None:
        statement = statement.where(Customer.id < after_id)
    statement = statement.order_by(Customer.id.desc()).limit(limit)
    return list((await session.execute(statement)).scalars())
