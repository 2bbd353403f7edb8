"""REST routes for customers. Every agent read of a customer record is audited."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from ledgerdesk.audit.actions import do_record_audit
from ledgerdesk.customers.actions import (
    do_add_identity,
    do_create_customer,
    do_merge_customers,
    do_update_customer,
)
from ledgerdesk.customers.queries import access_customer, identities_of, search_customers
from ledgerdesk.customers.schemas import (
    CustomerCreate,
    CustomerOut,
    CustomerPage,
    CustomerUpdate,
    IdentityIn,
    MergeRequest,
)
from ledgerdesk.errors import InvalidInput
from ledgerdesk.server.deps import Actor, ReadSession, Uow
from ledgerdesk.server.types import PathId

router = APIRouter(prefix="/customers", tags=["customers"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=CustomerOut)
async def create_customer(payload: CustomerCreate, actor: Actor, uow: Uow) -> CustomerOut:
    customer = await do_create_customer(
        uow,
        actor=actor,
        name=payload.name,
        email=payload.email,
        language=payload.language,
        tier=payload.tier,
        identities=[(i.kind.value, i.value) for i in payload.identities],
    )
    await uow.commit()
    return CustomerOut.of(customer, await identities_of(uow.session, customer.id))


@router.get("", response_model=CustomerPage)
async def list_customers(
    actor: Actor,
    session: ReadSession,
    q: Annotated[str | None, Query(max_length=200)] = None,
    cursor: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
) -> CustomerPage:
    if q is not None and "\x00" in q:
        raise InvalidInput("q must not contain NUL characters")
    rows = await search_customers(session, actor, query=q, limit=limit + 1, after_id=cursor)
    page = rows[:limit]
    items = [CustomerOut.of(row, await identities_of(session, row.id)) for row in page]
    return CustomerPage(items=items, next_cursor=page[-1].id if len(rows) > limit else None)


@router.get("/{customer_id}", response_model=CustomerOut)
async def get_customer(customer_id: PathId, actor: Actor, uow: Uow) -> CustomerOut:
    """Reading a customer's record is written to the audit log (who looked at whom)."""
    customer = await access_customer(uow.session, actor, customer_id)
    if actor.agent is not None:
        do_record_audit(
            uow,
            agent_id=actor.agent_id,
            action="customer.viewed",
            object_type="customer",
            object_id=customer.id,
            ip=actor.ip,
        )
        await uow.commit()
    return CustomerOut.of(customer, await identities_of(uow.session, customer.id))


@router.patch("/{customer_id}", response_model=CustomerOut)
async def update_customer(
    customer_id: PathId, payload: CustomerUpdate, actor: Actor, uow: Uow
) -> CustomerOut:
    customer = await access_customer(uow.session, actor, customer_id)
    await do_update_customer(
        uow,
        actor=actor,
        customer=customer,
        name=payload.name,
        language=payload.language,
        tier=payload.tier,
        notes=payload.notes,
    )
    await uow.commit()
    return CustomerOut.of(customer, await identities_of(uow.session, customer.id))


@router.post(
    "/{customer_id}/identities", status_code=status.HTTP_201_CREATED, response_model=CustomerOut
)
async def add_identity(
    customer_id: PathId, payload: IdentityIn, actor: Actor, uow: Uow
) -> CustomerOut:
    customer = await access_customer(uow.session, actor, customer_id)
    await do_add_identity(
        uow, actor=actor, customer=customer, kind=payload.kind.value, value=payload.value
    )
    await uow.commit()
    return CustomerOut.of(customer, await identities_of(uow.session, customer.id))


@router.post("/{customer_id}/merge", response_model=CustomerOut)
async def merge_customers(
    customer_id: PathId, payload: MergeRequest, actor: Actor, uow: Uow
) -> CustomerOut:
    """Merge ``other_id`` into this customer: identities, conversations and tokens move here."""
    survivor = await access_customer(uow.session, actor, customer_id)
    absorbed = await access_customer(uow.session, actor, payload.other_id)
    await do_merge_customers(uow, actor=actor, survivor=survivor, absorbed=absorbed)
    await uow.commit()
    return CustomerOut.of(survivor, await identities_of(uow.session, survivor.id))
