"""GET /metrics in the Prometheus text format, for operations.

Who may read it: with ``LEDGERDESK_METRICS_TOKEN`` set, whoever sends it as a
Bearer token; without one, only clients on the loopback interface that did not
come through a proxy (a reverse proxy on the same host connects from loopback,
so forwarded requests are refused: set a token to scrape through one).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from ledgerdesk.accounts.secrets import constant_time_equal
from ledgerdesk.db.base import utcnow
from ledgerdesk.monitoring.middleware import MetricsMiddleware
from ledgerdesk.monitoring.queries import QueueFigures, queue_figures
from ledgerdesk.server.state import AppState

PATH = "/metrics"
_FORWARDING_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")

router = APIRouter(include_in_schema=False)


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def refusal(request: Request, token: str | None) -> Response | None:
    """Why this request may not read the metrics (as the response to send), or None."""
    if token is not None:
        header = request.headers.get("authorization", "")
        scheme, _, sent = header.partition(" ")
        if not header:
            return PlainTextResponse(
                "send the metrics token: 'Authorization: Bearer <LEDGERDESK_METRICS_TOKEN>'\n",
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
        if scheme.lower() != "bearer" or not constant_time_equal(sent.strip(), token):
            return PlainTextResponse("wrong metrics token\n", status_code=403)
        return None
    host = request.client.host if request.client else None
    if any(name in request.headers for name in _FORWARDING_HEADERS):
        return PlainTextResponse(
            "/metrics came through a proxy; set LEDGERDESK_METRICS_TOKEN and scrape with it\n",
            status_code=403,
        )
    if not _is_loopback(host):
        return PlainTextResponse(
            "/metrics answers only loopback clients unless LEDGERDESK_METRICS_TOKEN is set\n",
            status_code=403,
        )
    return None


class _QueueCollector(Collector):
    """The job queue as read from the database for this scrape."""

    def __init__(self, figures: QueueFigures) -> None:
        self.figures = figures

    def collect(self) -> Iterable[Metric]:
        depth = GaugeMetricFamily(
            "ledgerdesk_job_queue_depth",
            "Jobs due now and waiting for a worker, by kind.",
            labels=["kind"],
        )
        for kind, count in sorted(self.figures.due_by_kind.items()):
            depth.add_metric([kind], count)
        yield depth
        yield GaugeMetricFamily(
            "ledgerdesk_job_queue_oldest_age_seconds",
            "How long the longest-waiting due job has waited (0 when none waits).",
            value=self.figures.oldest_due_seconds,
        )
        yield GaugeMetricFamily(
            "ledgerdesk_jobs_running", "Jobs a worker holds now.", value=self.figures.running
        )
        yield GaugeMetricFamily(
            "ledgerdesk_jobs_dead",
            "Jobs that failed every attempt and wait for a person.",
            value=self.figures.dead,
        )


class _ProcessCollector(Collector):
    """This process's own metrics (the default registry)."""

    def collect(self) -> Iterable[Metric]:
        yield from REGISTRY.collect()


def exposition(figures: QueueFigures) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # all processes, summed
    else:
        registry.register(_ProcessCollector())
    registry.register(_QueueCollector(figures))
    return generate_latest(registry)


@router.get(PATH)
async def metrics(request: Request) -> Response:
    state: AppState = request.app.state.ledgerdesk
    token = state.settings.metrics_token
    refused = refusal(request, token.get_secret_value() if token is not None else None)
    if refused is not None:
        return refused
    async with state.db.sessionmaker() as session:
        figures = await queue_figures(session, now=utcnow())
    return Response(exposition(figures), media_type=CONTENT_TYPE_LATEST)


def install(app: FastAPI) -> None:
    """Time every request and serve /metrics."""
    app.add_middleware(MetricsMiddleware)
    app.include_router(router)
