"""A route that answers the plain case of its request without FastAPI's general machinery.

FastAPI's request handler serves every shape of endpoint: forms, files, streams,
dependency trees with ``yield``, overrides, security scopes. For the two busiest
writes (open a conversation, post a message), FastAPI and Starlette outside the
endpoint were about a fifth of the request's CPU in process, and solving the
dependencies (query parameters parsed, every parameter looked up and validated one
by one) a third of that (bench/README.md). A :class:`LeanRoute` is declared and
documented exactly like an ``APIRoute`` (the OpenAPI document does not change) and,
for a request it can take, does the same work directly:

- the JSON body is validated straight from its bytes into the body model;
- path parameters are validated by their fields, as FastAPI does;
- dependencies, which must be coroutines taking only the request, are awaited;
- the endpoint's result is validated and dumped by the response field, and its
  ``Response`` parameter's status code and headers applied, as FastAPI does.

Anything else goes to FastAPI's own handler, which answers it as before: a body that
is not ``application/json``, is empty, or does not validate, a path parameter that
does not validate (their 422s keep FastAPI's format), or dependency overrides set on
the app, or FastAPI's own telemetry switched on (it records its handler's parsed
values). Errors raised by a dependency or the endpoint reach the app's exception
handlers as from FastAPI's handler. An endpoint of another shape is refused when the
route is built, not served differently.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.datastructures import DefaultPlaceholder
from fastapi.routing import APIRoute, serialize_response
from fastapi.telemetry import get_telemetry_data
from fastapi.utils import is_body_allowed_for_status_code
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response

LEAN_MARK = "__ledgerdesk_lean__"

Endpoint = Callable[..., Coroutine[Any, Any, Any]]


def lean(endpoint: Endpoint) -> Endpoint:
    """Mark an endpoint for a :class:`LeanRoute` (``include_flat`` builds it one)."""
    setattr(endpoint, LEAN_MARK, True)
    return endpoint


def is_lean(endpoint: Callable[..., Any]) -> bool:
    return bool(getattr(endpoint, LEAN_MARK, False))


def _is_json(content_type: str | None) -> bool:
    if content_type is None:
        return False
    media_type = content_type.partition(";")[0].strip().lower()
    return media_type == "application/json"


class LeanRoute(APIRoute):
    """An APIRoute whose plain requests skip FastAPI's general request handler."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        general = super().get_route_handler()
        dependant = self.dependant
        refused = _unsupported(self)
        if refused:
            raise TypeError(f"{self.path}: a LeanRoute cannot serve {refused}")
        body_param = dependant.body_params[0]
        body_name = body_param.name
        body_model = body_param.field_info.annotation
        assert isinstance(body_model, type) and issubclass(body_model, BaseModel)
        path_fields = [(field.alias, field.name, field) for field in dependant.path_params]
        dependencies = [
            (str(sub.name), sub.call, str(sub.request_param_name)) for sub in dependant.dependencies
        ]
        request_name = dependant.request_param_name
        response_name = dependant.response_param_name
        call = dependant.call
        assert call is not None
        status_code = self.status_code
        response_field = self.response_field
        overrides = self.dependency_overrides_provider

        async def handler(request: Request) -> Response:
            if (
                getattr(overrides, "dependency_overrides", None)
                or get_telemetry_data() is not None  # FastAPI's telemetry records its handler
                or not _is_json(request.headers.get("content-type"))
            ):
                return await general(request)
            try:
                raw = await request.body()  # kept on the request for the general handler
            except Exception:  # a client gone mid-body: FastAPI's handler answers it (400)
                return await general(request)
            if not raw:
                return await general(request)
            values: dict[str, Any] = {}
            for alias, name, field in path_fields:
                value, errors = field.validate(
                    request.path_params.get(alias), values, loc=("path", alias)
                )
                if errors:
                    return await general(request)
                values[name] = value
            try:
                values[body_name] = body_model.model_validate_json(raw)
            except ValidationError:
                return await general(request)
            for dependency_name, dependency, request_param in dependencies:
                values[dependency_name] = await dependency(**{request_param: request})  # type: ignore[misc]
            sub_response = Response()
            del sub_response.headers["content-length"]
            sub_response.status_code = None  # type: ignore[assignment]
            if request_name is not None:
                values[request_name] = request
            if response_name is not None:
                values[response_name] = sub_response
            result = await call(**values)
            content = await serialize_response(
                field=response_field, response_content=result, dump_json=True
            )
            response = Response(
                content=content,
                status_code=sub_response.status_code or status_code or 200,
                media_type="application/json",
            )
            if not is_body_allowed_for_status_code(response.status_code):
                response.body = b""
            response.headers.raw.extend(sub_response.headers.raw)
            return response

        return handler


def _unsupported(route: APIRoute) -> str | None:
    """What about the route's endpoint a LeanRoute does not handle, or None."""
    dependant = route.dependant
    if dependant.query_params or dependant.header_params or dependant.cookie_params:
        return "query, header or cookie parameters"
    if len(dependant.body_params) != 1 or route._embed_body_fields:
        return "anything but one JSON body model"
    annotation = dependant.body_params[0].field_info.annotation
    if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
        return "a body that is not a Pydantic model"
    if route.response_field is None or route.stream_item_field is not None:
        return "an endpoint without a response model, or a stream"
    if route.response_model_include or route.response_model_exclude:
        return "response_model_include or response_model_exclude"
    if not route.response_model_by_alias or route.response_model_exclude_unset:
        return "response_model_by_alias=False or response_model_exclude_unset"
    if route.response_model_exclude_defaults or route.response_model_exclude_none:
        return "response_model_exclude_defaults or response_model_exclude_none"
    if not isinstance(route.response_class, DefaultPlaceholder):
        return "a custom response class"
    if (
        dependant.background_tasks_param_name
        or dependant.security_scopes_param_name
        or dependant.websocket_param_name
        or dependant.http_connection_param_name
    ):
        return "background tasks, security scopes or connection parameters"
    for sub in dependant.dependencies:
        if (
            sub.dependencies
            or sub.path_params
            or sub.query_params
            or sub.header_params
            or sub.cookie_params
            or sub.body_params
            or sub.request_param_name is None
            or sub.response_param_name
            or sub.http_connection_param_name
            or sub.websocket_param_name
            or sub.background_tasks_param_name
            or sub.security_scopes_param_name
            or sub.call is None
            or not inspect.iscoroutinefunction(sub.call)
        ):
            return f"the dependency {sub.name}: only coroutines of the request alone"
    return None
