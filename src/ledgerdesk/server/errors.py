"""One JSON error shape for the API: {"error": {"code", "message", "details"}}.

Every bad input becomes a 4xx whose message says what is wrong; an unexpected
failure is logged with its traceback and answered with a 500 that reveals nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from ledgerdesk.errors import InvalidInput, LedgerdeskError, RateLimited

log = logging.getLogger(__name__)


def error_body(
    code: str, message: str, details: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or []}}


def _location(loc: tuple[Any, ...]) -> str:
    parts = [str(part) for part in loc if part not in ("body", "query", "path", "header")]
    return ".".join(parts) or str(loc[0] if loc else "request")


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    details = []
    for error in exc.errors():
        if error.get("type") == "json_invalid":
            # FastAPI puts the character offset where a field name would be.
            loc = tuple(error.get("loc", ()))
            reason = (error.get("ctx") or {}).get("error", "")
            where = f" at character {loc[1]}" if len(loc) > 1 else ""
            message = f"the request body is not valid JSON: {reason}{where}"
            details.append({"field": "body", "message": message})
            continue
        details.append({"field": _location(tuple(error.get("loc", ()))), "message": error["msg"]})
    return details


HtmlFallback = Callable[[Request, Exception], Response | None]


def install_error_handlers(app: FastAPI, html_fallback: HtmlFallback | None = None) -> None:
    """JSON errors for the API; ``html_fallback`` may answer first for browser pages."""

    @app.exception_handler(LedgerdeskError)
    async def on_domain_error(request: Request, exc: LedgerdeskError) -> Response:
        if html_fallback is not None and (page := html_fallback(request, exc)) is not None:
            return page
        headers = {}
        if isinstance(exc, RateLimited):
            headers["Retry-After"] = str(exc.retry_after)
        return JSONResponse(
            error_body(exc.code, exc.message, exc.details), exc.status_code, headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, exc: RequestValidationError) -> Response:
        details = _validation_details(exc)
        if html_fallback is not None:
            message = "; ".join(f"{d['field']}: {d['message']}" for d in details[:5])
            page = html_fallback(request, InvalidInput(message or "invalid input"))
            if page is not None:
                return page
        summary = "; ".join(f"{d['field']}: {d['message']}" for d in details[:5])
        return JSONResponse(error_body("invalid_input", summary or "invalid input", details), 422)

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> Response:
        codes = {404: "not_found", 405: "method_not_allowed", 401: "not_authenticated"}
        message = exc.detail if isinstance(exc.detail, str) else "request refused"
        if exc.status_code == 404 and message == "Not Found":
            message = f"no such endpoint: {request.method} {request.url.path}"
        return JSONResponse(
            error_body(codes.get(exc.status_code, "http_error"), message),
            exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(
            error_body("internal_error", "something went wrong on our side; it has been logged"),
            500,
        )
