"""The process's metrics and the small hooks other packages call to feed them.

Metrics live in prometheus-client's default registry, one set per process. With
``PROMETHEUS_MULTIPROC_DIR`` set before the process starts, prometheus-client
writes them to files in that directory instead, and ``/metrics`` sums every
process's files (docs/monitoring.md).

Labels never carry raw paths, ids or tokens: a route is its template
(``/api/v1/conversations/{conversation_id}``), a status its class (``2xx``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import Gauge, Histogram

# Requests take milliseconds; a slow page or an LLM-backed answer seconds.
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

HTTP_REQUEST_SECONDS = Histogram(
    "ledgerdesk_http_request_duration_seconds",
    "Time from a request's arrival to the end of its response, by route template.",
    ("method", "route", "status"),
    buckets=_LATENCY_BUCKETS,
)
WEBSOCKET_CONNECTIONS = Gauge(
    "ledgerdesk_websocket_connections",
    "Real-time WebSocket connections open now.",
    # Summed over the live processes in multiprocess mode.
    multiprocess_mode="livesum",
)
ASSISTANT_ANSWER_SECONDS = Histogram(
    "ledgerdesk_assistant_answer_seconds",
    "Time the assistant takes to answer one question (retrieval, decision, optional LLM).",
    ("outcome",),
    buckets=_LATENCY_BUCKETS,
)

# Anything else would let a client mint label values.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED_ROUTE = "<unmatched>"


def method_label(method: str) -> str:
    method = method.upper()
    return method if method in KNOWN_METHODS else "OTHER"


def status_class(status: int) -> str:
    if 100 <= status <= 599:
        return f"{status // 100}xx"
    return "other"


@contextmanager
def websocket_open() -> Iterator[None]:
    """Count a WebSocket connection for as long as the block runs."""
    WEBSOCKET_CONNECTIONS.inc()
    try:
        yield
    finally:
        WEBSOCKET_CONNECTIONS.dec()


def observe_assistant_answer(started: float, *, handoff: bool) -> None:
    """Record one answer's latency; ``started`` is a ``time.perf_counter()`` reading."""
    outcome = "handoff" if handoff else "answered"
    ASSISTANT_ANSWER_SECONDS.labels(outcome=outcome).observe(time.perf_counter() - started)
