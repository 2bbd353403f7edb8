"""The ASGI application factory: one app serves the API, the console and the help center."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request, Response
from starlette.staticfiles import StaticFiles

from ledgerdesk import __version__
from ledgerdesk.accounts import api as accounts_api
from ledgerdesk.accounts.ratelimit import RateLimits
from ledgerdesk.accounts.secrets import SecretBox
from ledgerdesk.accounts.token_cache import ACCOUNTS_TOPIC, PrincipalCache
from ledgerdesk.analytics import api as analytics_api
from ledgerdesk.analytics import console as analytics_console
from ledgerdesk.analytics.gaps import api as gaps_api
from ledgerdesk.analytics.gaps import console as gaps_console
from ledgerdesk.assistant import api as assistant_api
from ledgerdesk.assistant.runtime import KNOWLEDGE_TOPIC, AssistantRuntime
from ledgerdesk.automation import api as automation_api
from ledgerdesk.automation import console as automation_console
from ledgerdesk.automation import listeners as automation_listeners
from ledgerdesk.automation import webhooks_console
from ledgerdesk.chain import api as chain_api
from ledgerdesk.channels.webchat import api as webchat_api
from ledgerdesk.channels.webchat import assistant as webchat_assistant
from ledgerdesk.channels.webchat.runtime import WebchatRuntime
from ledgerdesk.conversations import api as conversations_api
from ledgerdesk.customers import api as customers_api
from ledgerdesk.db.engine import Database
from ledgerdesk.events.bus import EventBus
from ledgerdesk.events.factory import create_event_bus
from ledgerdesk.events.redis_bus import RedisEventBus
from ledgerdesk.feedback import api as feedback_api
from ledgerdesk.jobs import console as jobs_console
from ledgerdesk.jobs.service import start_server_worker
from ledgerdesk.knowledge import api as knowledge_api
from ledgerdesk.knowledge import console as kb_console
from ledgerdesk.knowledge import helpcenter
from ledgerdesk.macros import api as macros_api
from ledgerdesk.monitoring import api as monitoring_api
from ledgerdesk.realtime import api as realtime_api
from ledgerdesk.routing import api as routing_api
from ledgerdesk.safety import api as safety_api
from ledgerdesk.server.errors import install_error_handlers
from ledgerdesk.server.routes import include_flat
from ledgerdesk.server.state import AppState
from ledgerdesk.settings import Settings, get_settings
from ledgerdesk.sla import api as sla_api
from ledgerdesk.web import chips, console, suggestions

log = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).parent / "web" / "static"


def build_state(
    settings: Settings, db: Database | None = None, bus: EventBus | None = None
) -> AppState:
    secret_key = settings.secret_key_value()
    if bus is None:
        redis_url = settings.redis_url.get_secret_value() if settings.redis_url else None
        bus = create_event_bus(redis_url, channel_prefix=settings.redis_channel_prefix)
    principals = PrincipalCache(settings.token_cache_seconds)
    bus.add_listener({ACCOUNTS_TOPIC}, lambda _event: principals.clear())
    limits = RateLimits.from_settings(settings)
    return AppState(
        settings=settings,
        db=db or Database.from_settings(settings),
        bus=bus,
        box=SecretBox(secret_key),
        secret_key=secret_key,
        login_limiter=limits.limiter("login", settings.login_ip_limit_per_minute, 60.0),
        principals=principals,
        webchat=WebchatRuntime.from_settings(settings, limits),
        rate_limits=limits,
    )


def _html_errors(request: Request, exc: Exception) -> Response | None:
    """Console pages answer errors in HTML; the API and the widget's endpoints in JSON."""
    if webchat_api.wants_json(request):
        return None
    if helpcenter.is_help_page(request):
        return helpcenter.error_response(request, exc)
    return console.console_error_response(request, exc)


def freeze_start_up_objects() -> None:
    """Keep what start-up loaded out of the garbage collector's full collections.

    Modules, wordlists, dictionaries and caches live as long as the process. Left in
    the oldest generation, every full collection walked all of them: a pause of about
    200 ms, every second or so under load, for every request in flight (bench/README).
    """
    gc.collect()
    gc.freeze()


def create_app(
    settings: Settings | None = None, *, db: Database | None = None, bus: EventBus | None = None
) -> FastAPI:
    settings = settings or get_settings()
    state = build_state(settings, db, bus)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if isinstance(state.bus, RedisEventBus):
            # Hear other processes (cache invalidations) before serving the first request.
            try:
                async with asyncio.timeout(10):
                    await state.bus.start()
            except TimeoutError:
                log.error("Redis did not answer within 10 s; continuing, it keeps retrying")
        # The embedded job worker (docs/jobs.md); stopped before the database closes.
        job_runner = await start_server_worker(state.settings, state.db, state.bus)
        if state.settings.environment != "test":  # the suite starts hundreds of apps
            freeze_start_up_objects()
        yield
        if job_runner is not None:
            await job_runner.stop()
        await state.drain()
        await app.state.assistant.close()
        await state.rate_limits.close()
        await state.bus.close()
        await state.db.dispose()

    app = FastAPI(
        title="ledgerdesk",
        version=__version__,
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
        lifespan=lifespan,
    )
    app.state.ledgerdesk = state
    # The assistant's index is built on first use and rebuilt after an article changes.
    app.state.assistant = AssistantRuntime(settings, limits=state.rate_limits)
    state.bus.add_listener({KNOWLEDGE_TOPIC}, app.state.assistant.on_event)
    # The web chat assistant's reply job answers from this process's index.
    webchat_assistant.register_runtime(app.state.assistant)
    # SLA warnings and breaches become jobs that run the automation rules.
    automation_listeners.install(state.bus, state.db)
    install_error_handlers(app, html_fallback=_html_errors)

    @app.exception_handler(console.LoginRequired)
    async def on_login_required(request: Request, exc: console.LoginRequired) -> Response:
        response = console.console_error_response(request, exc)
        assert response is not None
        return response

    # The API's routes are the app's own (server/routes.py): FastAPI matches an
    # included router's routes twice per level of inclusion.
    for api_router in (
        conversations_api.router,
        customers_api.router,
        accounts_api.router,
        chain_api.router,
        assistant_api.router,
        knowledge_api.router,
        sla_api.router,
        automation_api.router,
        macros_api.router,
        routing_api.router,
        analytics_api.router,
        gaps_api.router,  # /api/v1/analytics/gaps
        feedback_api.router,
    ):
        include_flat(app, api_router, "/api/v1")
    app.include_router(realtime_api.router)
    webchat_api.install(app)
    safety_api.install(app, state)  # /verify, /admin/safety, the reply signing key

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    monitoring_api.install(app)  # request latency for every route; GET /metrics
    helpcenter.install(app, state.rate_limits)
    app.include_router(chips.router)
    app.include_router(suggestions.router)  # the assistant panel of a conversation
    app.include_router(automation_console.router)  # /admin/automation, /admin/macros
    app.include_router(webhooks_console.router)  # /admin/webhooks
    app.include_router(jobs_console.router)  # /admin/jobs
    app.include_router(feedback_api.pages)  # /survey/<token>, /admin/feedback
    app.include_router(gaps_console.router)  # /analytics/gaps
    app.include_router(kb_console.router)  # /kb, the knowledge-base editor
    app.include_router(analytics_console.router)  # /analytics and its drill-downs
    app.include_router(console.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
