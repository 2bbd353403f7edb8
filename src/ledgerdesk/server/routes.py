"""Mount a router's routes on the app itself, so FastAPI matches them once.

FastAPI 0.163 keeps an included router as one entry of its parent and matches a
request against it twice (once to choose the router, once inside it), and walks
every included router to check that none changed, on every request. For the API,
whose routes are the hot ones, that was about a sixth of the instructions of a reply
(5.64 against 4.72 million, bench/instructions_bench.py). ``include_flat`` adds each
route to the app as if it had been declared there with the prefix: same paths,
operation ids, tags and responses (tests/test_routes_flat.py compares the OpenAPI
documents). An endpoint marked ``@lean`` gets a LeanRoute (lean_route.py).
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from ledgerdesk.server.lean_route import LeanRoute, is_lean

# Everything an APIRoute was declared with, read back from the route (the router's own
# tags, responses and dependencies are merged into each route when it is declared).
_DECLARED = (
    "response_model",
    "status_code",
    "tags",
    "dependencies",
    "summary",
    "description",
    "response_description",
    "responses",
    "deprecated",
    "name",
    "methods",
    "operation_id",
    "response_model_include",
    "response_model_exclude",
    "response_model_by_alias",
    "response_model_exclude_unset",
    "response_model_exclude_defaults",
    "response_model_exclude_none",
    "include_in_schema",
    "response_class",
    "callbacks",
    "openapi_extra",
    "generate_unique_id_function",
    "strict_content_type",
)


def include_flat(app: FastAPI, router: APIRouter, prefix: str) -> None:
    """``app.include_router(router, prefix=prefix)`` for a router of plain HTTP routes,
    with each route added to the app directly."""
    if router.dependencies or router.callbacks or router.on_startup or router.on_shutdown:
        raise ValueError("include_flat takes routers without router-level hooks")
    for route in router.routes:
        if not isinstance(route, APIRoute):
            raise ValueError(f"include_flat takes HTTP routes only, not {route!r}")
        declared = {name: getattr(route, name) for name in _DECLARED}
        route_class = LeanRoute if is_lean(route.endpoint) else type(route)
        app.router.add_api_route(
            prefix + route.path, route.endpoint, route_class_override=route_class, **declared
        )
