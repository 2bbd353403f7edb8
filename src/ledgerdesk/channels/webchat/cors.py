"""CORS for the widget's endpoints (``/widget/v1/*``), answered only for allowed origins.

A pure ASGI middleware. The endpoints know the inbox (from the session request or
the visitor's token) and record their verdict on the origin in the request scope;
this middleware then adds ``Access-Control-Allow-Origin`` to the response only when
the verdict is yes, errors included, so the widget can read why it was refused.

A preflight (OPTIONS) carries no body and no token. It is answered for the origins of
the inbox named by ``?inbox=KEY`` (the widget always adds it), or, without one, for
an origin that some web chat inbox allows; the request that follows is still checked
against its own inbox.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledgerdesk.channels.webchat.origins import origin_allowed
from ledgerdesk.channels.webchat.queries import inbox_by_widget_key, origin_allowed_by_any_inbox
from ledgerdesk.errors import NotFound
from ledgerdesk.server.errors import error_body

log = logging.getLogger(__name__)

PREFIX = "/widget/v1/"
VERDICT_KEY = "ledgerdesk.widget_origin"
ALLOW_METHODS = "GET, POST, OPTIONS"
ALLOW_HEADERS = "Authorization, Content-Type"
EXPOSE_HEADERS = "Retry-After, Content-Disposition"
PREFLIGHT_MAX_AGE = "600"


def record_verdict(scope: Scope, allowed: bool) -> None:
    """Called by an endpoint once it has checked the Origin against the inbox."""
    verdict = scope.get(VERDICT_KEY)
    if isinstance(verdict, dict):
        verdict["allowed"] = allowed


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def _query_inbox(scope: Scope) -> str | None:
    values = parse_qs(bytes(scope.get("query_string", b"")).decode("latin-1")).get("inbox")
    return values[0][:64] if values else None


class WidgetCorsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        origin = _header(scope, b"origin")
        if scope["method"] == "OPTIONS" and _header(scope, b"access-control-request-method"):
            await self._preflight(scope, send, origin)
            return
        verdict: dict[str, Any] = {"allowed": None}
        scope[VERDICT_KEY] = verdict

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start" and origin is not None:
                allowed = verdict["allowed"]
                if allowed is None:  # refused before an inbox was known (bad JSON, 404...)
                    allowed = await self._allowed_somewhere(scope, origin)
                headers = list(message.get("headers", []))
                headers.append((b"vary", b"Origin"))
                if allowed:
                    headers += _cors_headers(origin)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_cors)

    async def _allowed_somewhere(self, scope: Scope, origin: str) -> bool:
        try:
            return await self._lookup(scope, origin)
        except Exception:  # no CORS headers is the safe answer; the response itself stands
            log.exception("could not check the origin of a widget request")
            return False

    async def _lookup(self, scope: Scope, origin: str) -> bool:
        state = scope["app"].state.ledgerdesk
        key = _query_inbox(scope)
        async with state.db.sessionmaker() as session:
            if key:
                try:
                    inbox = await inbox_by_widget_key(session, key)
                except NotFound:
                    return False
                return origin_allowed(origin, inbox.allowed_origins)
            return await origin_allowed_by_any_inbox(session, origin)

    async def _preflight(self, scope: Scope, send: Send, origin: str | None) -> None:
        allowed = origin is not None and await self._allowed_somewhere(scope, origin)
        if allowed:
            assert origin is not None
            headers = [
                *_cors_headers(origin),
                (b"access-control-allow-methods", ALLOW_METHODS.encode()),
                (b"access-control-allow-headers", ALLOW_HEADERS.encode()),
                (b"access-control-max-age", PREFLIGHT_MAX_AGE.encode()),
                (b"vary", b"Origin"),
            ]
            await send({"type": "http.response.start", "status": 204, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        body = json.dumps(
            error_body(
                "origin_not_allowed",
                "this site is not among the allowed origins of the chat inbox",
            )
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 403,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"vary", b"Origin"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _cors_headers(origin: str) -> list[tuple[bytes, bytes]]:
    # No Allow-Credentials: the widget authenticates with a bearer token, never cookies.
    return [
        (b"access-control-allow-origin", origin.encode("latin-1")),
        (b"access-control-expose-headers", EXPOSE_HEADERS.encode()),
    ]
