"""include_flat mounts a router's routes on the app itself: the same API, matched once."""

from __future__ import annotations

from typing import Annotated

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Query, Response, WebSocket, status
from fastapi.routing import APIRoute
from pydantic import BaseModel

from ledgerdesk.server.routes import include_flat


class Ticket(BaseModel):
    id: int
    subject: str


class TicketIn(BaseModel):
    subject: str


async def _tenant(x_tenant: Annotated[str, Query()] = "main") -> str:
    return x_tenant


def _router() -> APIRouter:
    router = APIRouter(
        prefix="/tickets", tags=["tickets"], responses={404: {"description": "gone"}}
    )

    @router.post("", status_code=status.HTTP_201_CREATED, response_model=Ticket, summary="Open")
    async def open_ticket(payload: TicketIn, response: Response) -> Ticket:
        response.headers["x-made"] = "1"
        return Ticket(id=7, subject=payload.subject)

    @router.get("/{ticket_id}", response_model=Ticket, deprecated=True)
    async def get_ticket(ticket_id: int, tenant: Annotated[str, Depends(_tenant)]) -> Ticket:
        return Ticket(id=ticket_id, subject=tenant)

    @router.delete("/{ticket_id}", status_code=204, include_in_schema=False)
    async def delete_ticket(ticket_id: int) -> None:
        return None

    return router


def _apps() -> tuple[FastAPI, FastAPI]:
    included, flat = FastAPI(), FastAPI()
    included.include_router(_router(), prefix="/api/v1")
    include_flat(flat, _router(), "/api/v1")
    return included, flat


def test_the_openapi_document_is_the_same() -> None:
    included, flat = _apps()
    assert flat.openapi() == included.openapi()
    assert all(isinstance(route, APIRoute) for route in flat.routes[-3:])


async def test_requests_are_answered_the_same() -> None:
    answers = []
    for app in _apps():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            created = await client.post("/api/v1/tickets", json={"subject": "USDT"})
            fetched = await client.get("/api/v1/tickets/3?x_tenant=otc")
            bad = await client.get("/api/v1/tickets/abc")
            deleted = await client.delete("/api/v1/tickets/3")
            missing = await client.put("/api/v1/tickets/3")
        answers.append(
            [
                (created.status_code, created.json(), created.headers.get("x-made")),
                (fetched.status_code, fetched.json()),
                (bad.status_code, bad.json()["detail"][0]["loc"]),
                (deleted.status_code, deleted.content),
                (missing.status_code,),
            ]
        )
    assert answers[0] == answers[1]
    assert answers[1][0] == (201, {"id": 7, "subject": "USDT"}, "1")
    assert answers[1][4] == (405,)


def test_routers_with_their_own_hooks_or_websockets_are_refused() -> None:
    guarded = APIRouter(dependencies=[Depends(_tenant)])
    with pytest.raises(ValueError, match="router-level hooks"):
        include_flat(FastAPI(), guarded, "/api/v1")
    live = APIRouter()

    @live.websocket("/live")
    async def stream(websocket: WebSocket) -> None:
        await websocket.close()

    with pytest.raises(ValueError, match="HTTP routes only"):
        include_flat(FastAPI(), live, "/api/v1")
