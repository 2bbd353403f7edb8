"""Job handlers by kind, and periodic jobs, registered when their module is imported.

A domain package keeps its handlers in ``tasks.py``; every ``ledgerdesk.*.tasks``
module is imported when a worker starts (``load_job_modules``), plus the modules
named in ``LEDGERDESK_JOB_MODULES``.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from ledgerdesk.jobs.context import JobContext

Handler = Callable[[JobContext, dict[str, Any]], Awaitable[None]]

KIND_PATTERN = re.compile(r"[a-z][a-z0-9_]*(?:[.:-][a-z0-9_]+)*")
MAX_KIND_LENGTH = 100
DEFAULT_MAX_ATTEMPTS = 10
DEFAULT_TIMEOUT_SECONDS = 300.0
# The package whose tasks modules are found by name.
ROOT_PACKAGE = "ledgerdesk"


@dataclass(frozen=True, slots=True)
class HandlerSpec:
    kind: str
    func: Handler
    max_attempts: int
    # An attempt running longer than this is cancelled and counts as failed.
    timeout: float


@dataclass(frozen=True, slots=True)
class PeriodicSpec:
    kind: str
    every: timedelta


_handlers: dict[str, HandlerSpec] = {}
_periodic: dict[str, PeriodicSpec] = {}


def check_kind(kind: str) -> str:
    if len(kind) > MAX_KIND_LENGTH or not KIND_PATTERN.fullmatch(kind):
        raise ValueError(
            f"job kind {kind!r} must be lower-case words joined by '.', ':' or '-' "
            f"(like 'webhook.deliver'), at most {MAX_KIND_LENGTH} characters"
        )
    return kind


def job_handler(
    kind: str,
    *,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> Callable[[Handler], Handler]:
    """Register ``async def handler(ctx: JobContext, payload: dict) -> None`` for ``kind``.

    The handler may run more than once for one job (a crash after its side effect,
    before the job was marked done), so it must be idempotent: key outside calls
    and rows on ``ctx.idempotency_key`` or ``ctx.job_id``. Raising fails the
    attempt; the job is retried with backoff until ``max_attempts``, then dead.
    """
    check_kind(kind)
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    if timeout <= 0:
        raise ValueError("timeout must be positive")

    def register(func: Handler) -> Handler:
        existing = _handlers.get(kind)
        if existing is not None and _name(existing.func) != _name(func):
            raise ValueError(f"job kind {kind!r} already has a handler: {_name(existing.func)}")
        _handlers[kind] = HandlerSpec(kind, func, max_attempts, timeout)
        return func

    return register


def periodic_job(
    kind: str,
    *,
    every: timedelta | float,
    max_attempts: int = 1,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> Callable[[Handler], Handler]:
    """Register a handler that runs every ``every`` (seconds or a timedelta), once per
    interval across all processes: one pending row per kind (dedup key
    ``periodic:<kind>``) is the lease, and finishing it schedules the next run.
    The payload is ``{}``. A failed run is not retried by default: the next one
    comes soon anyway."""
    interval = every if isinstance(every, timedelta) else timedelta(seconds=every)
    if interval <= timedelta(0):
        raise ValueError("every must be positive")
    register_handler = job_handler(kind, max_attempts=max_attempts, timeout=timeout)

    def register(func: Handler) -> Handler:
        register_handler(func)
        _periodic[kind] = PeriodicSpec(kind, interval)
        return func

    return register


def unregister(kind: str) -> None:
    """Forget a kind's handler and schedule (tests that register their own clean up)."""
    _handlers.pop(kind, None)
    _periodic.pop(kind, None)


def get_handler(kind: str) -> HandlerSpec | None:
    return _handlers.get(kind)


def get_periodic(kind: str) -> PeriodicSpec | None:
    return _periodic.get(kind)


def periodic_jobs() -> list[PeriodicSpec]:
    return sorted(_periodic.values(), key=lambda spec: spec.kind)


def periodic_dedup_key(kind: str) -> str:
    return f"periodic:{kind}"


def load_job_modules(extra: Iterable[str] = ()) -> list[str]:
    """Import every ``ledgerdesk.*.tasks`` module and the ``extra`` ones; return their names."""
    root = importlib.import_module(ROOT_PACKAGE)
    names = [
        info.name
        for info in pkgutil.walk_packages(root.__path__, f"{ROOT_PACKAGE}.")
        if info.name.rsplit(".", 1)[-1] == "tasks" and not info.ispkg
    ]
    names.extend(name for name in extra if name not in names)
    for name in names:
        importlib.import_module(name)
    return names


def _name(func: Handler) -> str:
    return f"{func.__module__}.{func.__qualname__}"
