"""LeanRoute answers the plain case itself and everything else through FastAPI, with the
same answers and the same OpenAPI document as an ordinary APIRoute."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request, Response, status
from fastapi import routing as fastapi_routing
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field

from ledgerdesk.errors import NotAuthenticated
from ledgerdesk.server.errors import install_error_handlers
from ledgerdesk.server.lean_route import LeanRoute, lean
from ledgerdesk.server.routes import include_flat


class Reply(BaseModel):
    body: str = Field(min_length=1, max_length=50)
    internal: bool = False


class ReplyOut(BaseModel):
    id: int
    conversation_id: int
    body: str
    author: str
    note: str | None = None


class Agent(BaseModel):
    name: str


async def current_agent(request: Request) -> Agent:
    token = request.headers.get("authorization", "")
    if token != "Bearer good":
        raise NotAuthenticated("log in or send an API token")
    return Agent(name="Mei")


Actor = Annotated[Agent, Depends(current_agent)]


def _router(mark: bool) -> APIRouter:
    router = APIRouter(prefix="/conversations", tags=["conversations"])

    async def post_reply(
        conversation_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
        payload: Reply,
        actor: Actor,
        request: Request,
        response: Response,
    ) -> ReplyOut:
        """Reply to a conversation."""
        if payload.body == "again":  # a resend: the stored one, with 200
            response.status_code = status.HTTP_200_OK
        response.headers["x-replied-by"] = actor.name
        if payload.body == "boom":
            raise NotAuthenticated("not for this one")
        assert request.method == "POST"
        return ReplyOut(id=9, conversation_id=conversation_id, body=payload.body, author=actor.name)

    endpoint = lean(post_reply) if mark else post_reply
    router.add_api_route(
        "/{conversation_id}/messages",
        endpoint,
        methods=["POST"],
        status_code=status.HTTP_201_CREATED,
        response_model=ReplyOut,
    )
    return router


def _app(mark: bool) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    include_flat(app, _router(mark), "/api/v1")
    return app


REQUESTS: list[tuple[str, dict[str, Any]]] = [
    ("/api/v1/conversations/5/messages", {"json": {"body": "On its way"}}),
    ("/api/v1/conversations/5/messages", {"json": {"body": "again"}}),
    ("/api/v1/conversations/5/messages", {"json": {"body": ""}}),
    ("/api/v1/conversations/5/messages", {"json": {"body": 7, "internal": "maybe"}}),
    ("/api/v1/conversations/5/messages", {"content": b"{not json", "ct": "application/json"}),
    ("/api/v1/conversations/5/messages", {"content": b"", "ct": "application/json"}),
    ("/api/v1/conversations/5/messages", {"content": b'{"body": "hi"}', "ct": "text/plain"}),
    ("/api/v1/conversations/5/messages", {"content": b'{"body": "hi"}', "ct": None}),
    (
        "/api/v1/conversations/5/messages",
        {"content": b'{"body": "hi"}', "ct": "application/json; charset=utf-8"},
    ),
    ("/api/v1/conversations/0/messages", {"json": {"body": "hi"}}),
    ("/api/v1/conversations/abc/messages", {"json": {"body": "hi"}}),
    ("/api/v1/conversations/5/messages", {"json": {"body": "boom"}}),
    ("/api/v1/conversations/5/messages", {"json": {"body": "hi"}, "token": "bad"}),
    ("/api/v1/conversations/5/messages", {"json": {"body": "", "x": 1}, "token": "bad"}),
]


async def _answers(app: FastAPI) -> list[tuple[int, bytes, str | None, str | None]]:
    transport = httpx.ASGITransport(app=app)
    found = []
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        for path, spec in REQUESTS:
            headers = {"authorization": f"Bearer {spec.get('token', 'good')}"}
            if "json" in spec:
                answer = await client.post(path, json=spec["json"], headers=headers)
            else:
                if spec["ct"] is not None:
                    headers["content-type"] = spec["ct"]
                answer = await client.post(path, content=spec["content"], headers=headers)
            found.append(
                (
                    answer.status_code,
                    answer.content,
                    answer.headers.get("content-type"),
                    answer.headers.get("x-replied-by"),
                )
            )
    return found


async def test_every_request_is_answered_as_fastapi_answers_it() -> None:
    lean_answers = await _answers(_app(mark=True))
    plain_answers = await _answers(_app(mark=False))
    assert lean_answers == plain_answers
    statuses = [answer[0] for answer in lean_answers]
    assert statuses == [201, 200, 422, 422, 422, 422, 422, 422, 201, 422, 422, 401, 401, 401]
    assert lean_answers[0][1] == (
        b'{"id":9,"conversation_id":5,"body":"On its way","author":"Mei","note":null}'
    )
    assert lean_answers[0][3] == "Mei"


async def test_plain_requests_skip_fastapis_handler_and_the_rest_take_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The lean path is really taken: FastAPI's dependency solver runs only for the
    requests LeanRoute hands over (a bad body, a bad path parameter, a wrong type)."""
    solved: list[str] = []
    original = fastapi_routing.solve_dependencies

    async def counting(*args: Any, **kwargs: Any) -> Any:
        solved.append(repr(kwargs.get("body")))
        return await original(*args, **kwargs)

    monkeypatch.setattr(fastapi_routing, "solve_dependencies", counting)
    await _answers(_app(mark=True))
    handed_over = len(solved)
    # The 422s but the malformed JSON (FastAPI refuses it before solving anything), and
    # the refused token behind a bad body; not the two 201s, the 200 or the other 401s.
    assert handed_over == 8, solved
    solved.clear()
    await _answers(_app(mark=False))
    assert len(solved) == len(REQUESTS) - 1  # all but the malformed JSON


async def test_dependency_overrides_are_honoured_by_handing_over() -> None:
    app = _app(mark=True)
    app.dependency_overrides[current_agent] = lambda: Agent(name="Override")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        answer = await client.post("/api/v1/conversations/5/messages", json={"body": "hi"})
    assert answer.status_code == 201
    assert answer.json()["author"] == "Override"


def test_the_openapi_document_is_the_same() -> None:
    lean_app, plain_app = _app(mark=True), _app(mark=False)
    assert lean_app.openapi() == plain_app.openapi()
    assert isinstance(lean_app.routes[-1], LeanRoute)
    assert type(plain_app.routes[-1]) is APIRoute


async def with_query(payload: Reply, page: Annotated[int, Query()] = 1) -> ReplyOut:
    raise AssertionError("never called")


async def without_model(payload: Reply) -> dict[str, str]:
    raise AssertionError("never called")


async def name_of(agent: Actor) -> str:
    return agent.name


async def nested(payload: Reply, name: Annotated[str, Depends(name_of)]) -> ReplyOut:
    raise AssertionError("never called")


def test_endpoints_of_other_shapes_are_refused_when_the_route_is_built() -> None:
    cases = [
        (with_query, ReplyOut, "query"),
        (without_model, None, "response model"),
        (nested, ReplyOut, "dependency"),
    ]
    for endpoint, model, reason in cases:
        router = APIRouter()
        router.add_api_route("/x", lean(endpoint), methods=["POST"], response_model=model)
        with pytest.raises(TypeError, match=reason):
            include_flat(FastAPI(), router, "/api/v1")


async def _post_then_disconnect(app: FastAPI) -> int | None:
    """The status an app answers a reply whose client disconnects mid-body."""
    messages = iter(
        [
            {"type": "http.request", "body": b'{"body": "hal', "more_body": True},
            {"type": "http.disconnect"},
        ]
    )
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return next(messages, {"type": "http.disconnect"})

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/conversations/5/messages",
        "raw_path": b"/api/v1/conversations/5/messages",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"test"),
            (b"authorization", b"Bearer good"),
            (b"content-type", b"application/json"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("test", 80),
        "state": {},
    }
    await app(scope, receive, send)
    starts = [m for m in sent if m["type"] == "http.response.start"]
    return int(starts[0]["status"]) if starts else None


async def test_a_client_gone_mid_body_is_answered_as_fastapi_answers_it() -> None:
    """The body's read fails (the client disconnected): FastAPI's handler answers it,
    with the same status as an ordinary route, and nothing raises."""
    lean_status = await _post_then_disconnect(_app(mark=True))
    plain_status = await _post_then_disconnect(_app(mark=False))
    assert lean_status == plain_status
    assert lean_status is not None and 400 <= lean_status < 500
