"""ASGI middleware timing every HTTP request under its route template."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledgerdesk.monitoring.metrics import (
    HTTP_REQUEST_SECONDS,
    UNMATCHED_ROUTE,
    method_label,
    status_class,
)


def route_template(scope: Scope) -> str:
    """The template of the route that handled the request, never the raw path.

    FastAPI keeps an included router's routes with their own relative paths and
    records the full template of the matched one in its scope entry (the value its
    own telemetry reports as ``http.route``); a plain Starlette route or mount has
    it as ``path_format`` (a mount's ends in ``/{path}``). No match (a 404 for a
    made-up path) is one label. tests/test_monitoring.py checks the full template.
    """
    route = scope.get("route")
    if route is None:
        return UNMATCHED_ROUTE
    fastapi_scope = scope.get("fastapi")
    context = (
        fastapi_scope.get("effective_route_context") if isinstance(fastapi_scope, dict) else None
    )
    for candidate in (context, route):
        template = getattr(candidate, "path_format", None)
        if isinstance(template, str) and template:
            return template
    return UNMATCHED_ROUTE


class MetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app raises before answering

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            HTTP_REQUEST_SECONDS.labels(
                method=method_label(scope.get("method", "")),
                route=route_template(scope),
                status=status_class(status),
            ).observe(time.perf_counter() - started)
