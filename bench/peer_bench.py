"""The nearest Python peer, django-helpdesk 2.6.1, measured on this machine.

Our speed target is "10x django-helpdesk 2.6.1 under gunicorn with 2 sync workers,
16 clients", and the issue's figures for the peer come from another machine. This
host's speed varies about 3x from one session to the next, so a ratio is only
meaningful when the peer runs beside us, on the same machine, in the same session.
This script does that, with the load shape of ``bench/api_bench.py`` (whose phase
runner, result lines and server CPU accounting it reuses):

1. warm-up, then create tickets (POST /api/tickets/, expects 201),
2. add follow-ups to them (POST /api/followups/, public, expects 201),
3. once 10,000 tickets exist, list the first page of open ones
   (GET /api/tickets/?status=1); far fewer requests, as each takes about a second.

The peer's setup is its documented production one: gunicorn with 2 sync workers
(which close the connection after every response, so our keep-alive clients
reconnect each time), DEBUG off, no access log, persistent database connections
(CONN_MAX_AGE), and e-mail going to Django's dummy backend (rendered, not sent).
Clients authenticate with DRF's TokenAuthentication (a token looked up per request,
like our bearer tokens) under the keyword ``Bearer``, so the request runner is
shared with api_bench. Basic authentication would run Django's PBKDF2 password hash
on every request and make the peer look slower than it is.

The peer lives in its own virtualenv, ``var/peer-venv`` (made once with the pinned
versions below, reused afterwards), and a throwaway Django project in a temp dir.

    python bench/peer_bench.py                          # SQLite and PostgreSQL
    python bench/peer_bench.py --database sqlite --requests 300
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import asyncpg

sys.path.insert(0, str(Path(__file__).parent))
from api_bench import (
    POSTGRES_ADMIN_DSN,
    PhaseResult,
    free_port,
    run_phase,
    wait_until_up,
)
from machine import describe

# The peer and what it runs on, pinned. Django and DRF: the newest releases pip finds
# that django-helpdesk 2.6.1 accepts (it needs django>=5.2).
HELPDESK_PIN = "django-helpdesk==2.6.1"
DJANGO_PIN = "Django==5.2.19"
DRF_PIN = "djangorestframework==3.18.3"
GUNICORN_PIN = "gunicorn==27.0.1"
PSYCOPG_PIN = "psycopg[binary]==3.3.9"
PEER_PINS = (HELPDESK_PIN, DJANGO_PIN, DRF_PIN, GUNICORN_PIN, PSYCOPG_PIN)
PEER_DISTRIBUTIONS = ("django-helpdesk", "Django", "djangorestframework", "gunicorn", "psycopg")

REPO = Path(__file__).resolve().parent.parent
PEER_VENV = REPO / "var" / "peer-venv"
PEER_PYTHON = PEER_VENV / "bin" / "python"
PINS_MARKER = PEER_VENV / "bench-pins.txt"

POSTGRES_DATABASE = "helpdesk_peer_bench"
LIST_TARGET = 10_000
GUNICORN_WORKERS = 2
WARM_UP_REQUESTS = 200

SETTINGS_TEMPLATE = """\
SECRET_KEY = {secret_key!r}
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "helpdesk",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "peer_urls"
WSGI_APPLICATION = "peer_wsgi.application"
TEMPLATES = [
    {{
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {{
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        }},
    }},
]
DATABASES = {{"default": {database!r}}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
SITE_ID = 1
USE_TZ = True
TIME_ZONE = "UTC"
STATIC_URL = "static/"
MEDIA_ROOT = {media_root!r}
# Notifications are rendered from helpdesk's templates as in production; only the
# delivery is skipped.
EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"
DEFAULT_FROM_EMAIL = "helpdesk@example.org"
HELPDESK_API_ENABLED = True
# Teams need pinax-teams, helpdesk's optional [teams] extra, and touch only the
# knowledge base.
HELPDESK_TEAMS_MODE_ENABLED = False
REST_FRAMEWORK = {{
    # A DRF token per request, like our bearer tokens; Basic auth would hash the
    # password with PBKDF2 on every request.
    "DEFAULT_AUTHENTICATION_CLASSES": ["peer_auth.BearerTokenAuthentication"],
}}
# Tracebacks of server errors to stderr, so a broken setup is visible.
LOGGING = {{
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {{"console": {{"class": "logging.StreamHandler"}}}},
    "loggers": {{"django.request": {{"handlers": ["console"], "level": "ERROR"}}}},
}}
"""

AUTH_MODULE = """\
from rest_framework.authentication import TokenAuthentication


class BearerTokenAuthentication(TokenAuthentication):
    keyword = "Bearer"
"""

URLS_MODULE = """\
from django.http import HttpResponse
from django.urls import include, path


def healthz(request):
    return HttpResponse("ok")


urlpatterns = [
    path("healthz", healthz),
    path("", include("helpdesk.urls", namespace="helpdesk")),
]
"""

WSGI_MODULE = """\
from django.core.wsgi import get_wsgi_application

application = get_wsgi_application()
"""

# Run with the peer's python: a staff superuser (the API wants IsAdminUser), its
# token and one queue; prints them as JSON.
SETUP_SCRIPT = """\
import json, secrets
import django
django.setup()
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from helpdesk.models import Queue

user = get_user_model().objects.create_superuser(
    "bench", "bench@example.org", secrets.token_urlsafe(16)
)
token = Token.objects.create(user=user)
queue = Queue.objects.create(
    title="Deposits", slug="deposits", email_address="deposits@example.org"
)
print(json.dumps({"token": token.key, "queue": queue.id}))
"""

# Tops the ticket table up to the target, a third of the tickets open, in bulk.
FILL_SCRIPT = """\
import sys
import django
django.setup()
from helpdesk.models import FollowUp, Ticket

queue_id, target = int(sys.argv[1]), int(sys.argv[2])
missing = target - Ticket.objects.count()
statuses = [Ticket.OPEN_STATUS, Ticket.RESOLVED_STATUS, Ticket.CLOSED_STATUS]
Ticket.objects.bulk_create(
    (
        Ticket(
            title=f"Withdrawal pending #{i}",
            queue_id=queue_id,
            submitter_email="load@example.org",
            description="My withdrawal has been pending for two hours.",
            status=statuses[i % 3],
            priority=3,
        )
        for i in range(max(missing, 0))
    ),
    batch_size=500,
)
print(f"  table holds {Ticket.objects.count()} tickets, {FollowUp.objects.count()} follow-ups")
"""

VERSIONS_SCRIPT = """\
import json, platform, sys
from importlib.metadata import version
print(json.dumps([f"python {platform.python_version()}"]
                 + [f"{name} {version(name)}" for name in sys.argv[1:]]))
"""


def ensure_peer_venv() -> None:
    """Make var/peer-venv with the pinned peer, unless it is there with these pins."""
    wanted = "\n".join(PEER_PINS) + "\n"
    if PEER_PYTHON.exists() and PINS_MARKER.exists() and PINS_MARKER.read_text() == wanted:
        return
    print(f"installing the peer into {PEER_VENV} ...", flush=True)
    python3 = shutil.which("python3") or sys.executable
    subprocess.run([python3, "-m", "venv", "--clear", str(PEER_VENV)], check=True)  # noqa: S603
    pip = [str(PEER_PYTHON), "-m", "pip", "--disable-pip-version-check", "--quiet"]
    subprocess.run([*pip, "install", *PEER_PINS], check=True)  # noqa: S603
    PINS_MARKER.write_text(wanted)


def peer_versions() -> str:
    out = subprocess.run(  # noqa: S603
        [str(PEER_PYTHON), "-c", VERSIONS_SCRIPT, *PEER_DISTRIBUTIONS],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return "peer: " + ", ".join(json.loads(out))


def write_project(directory: Path, database: dict[str, object]) -> None:
    settings = SETTINGS_TEMPLATE.format(
        secret_key=secrets.token_urlsafe(48),
        database=database,
        media_root=str(directory / "media"),
    )
    (directory / "peer_settings.py").write_text(settings)
    (directory / "peer_auth.py").write_text(AUTH_MODULE)
    (directory / "peer_urls.py").write_text(URLS_MODULE)
    (directory / "peer_wsgi.py").write_text(WSGI_MODULE)


def peer_env(project: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "peer_settings",
        "PYTHONPATH": str(project),
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def run_peer(project: Path, *args: str) -> str:
    """Run the peer's python in the project; returns its stdout, fails loudly."""
    done = subprocess.run(  # noqa: S603
        [str(PEER_PYTHON), *args],
        cwd=project,
        env=peer_env(project),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"peer command {args[:2]} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


class ErrorLog:
    """Turns a response into run_phase's status: anything but ``expected`` counts as
    an error (run_phase counts statuses >= 400), and the first error is printed."""

    def __init__(self) -> None:
        self.shown = False

    async def check(self, response: aiohttp.ClientResponse, expected: int) -> int:
        if response.status == expected:
            return expected
        self.show(
            f"{response.method} {response.url.path} -> {response.status}: "
            f"{(await response.text())[:1000]}"
        )
        return max(response.status, 400)

    async def request(
        self,
        session: aiohttp.ClientSession,
        method: str,
        path: str,
        expected: int,
        body: dict[str, object] | None = None,
    ) -> tuple[int, bytes]:
        """The status (599 for a failed connection) and the body of one request."""
        try:
            async with session.request(method, path, json=body) as response:
                status = await self.check(response, expected)
                return status, await response.read()
        except aiohttp.ClientError as error:
            self.show(repr(error))
            return 599, b""

    def show(self, message: str) -> None:
        if not self.shown:
            self.shown = True
            print(f"  first error: {message}", flush=True)


async def fresh_postgres_database() -> dict[str, object]:
    """A new, empty database for the peer; returns Django's DATABASES entry."""
    connection = await asyncpg.connect(POSTGRES_ADMIN_DSN)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{POSTGRES_DATABASE}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{POSTGRES_DATABASE}"')
    finally:
        await connection.close()
    dsn = urlsplit(POSTGRES_ADMIN_DSN)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": POSTGRES_DATABASE,
        "USER": dsn.username or "postgres",
        "PASSWORD": dsn.password or "",
        "HOST": dsn.hostname or "127.0.0.1",
        "PORT": str(dsn.port or 5432),
        "CONN_MAX_AGE": 600,
    }


async def drop_postgres_database() -> None:
    connection = await asyncpg.connect(POSTGRES_ADMIN_DSN)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{POSTGRES_DATABASE}" WITH (FORCE)')
    finally:
        await connection.close()


async def bench_database(
    label: str, database: dict[str, object], args: argparse.Namespace
) -> list[PhaseResult]:
    print(
        f"\n== {label}: django-helpdesk, gunicorn {GUNICORN_WORKERS} sync workers,"
        f" {args.clients} clients =="
    )
    project = Path(tempfile.mkdtemp(prefix="helpdesk-peer-"))
    server: subprocess.Popen[bytes] | None = None
    try:
        write_project(project, database)
        await asyncio.to_thread(run_peer, project, "-m", "django", "migrate", "-v", "0")
        setup = json.loads(await asyncio.to_thread(run_peer, project, "-c", SETUP_SCRIPT))
        token, queue_id = str(setup["token"]), int(setup["queue"])

        port = free_port()
        server = subprocess.Popen(  # noqa: ASYNC220, S603 (the pinned peer, started once)
            [
                str(PEER_VENV / "bin" / "gunicorn"),
                "--workers",
                str(GUNICORN_WORKERS),
                "--worker-class",
                "sync",
                "--bind",
                f"127.0.0.1:{port}",
                "--log-level",
                "warning",
                "peer_wsgi:application",
            ],
            cwd=project,
            env=peer_env(project),
        )
        base_url = f"http://127.0.0.1:{port}"
        await wait_until_up(base_url)

        errors = ErrorLog()
        created_ids: list[int] = []
        rng = random.Random(7)

        async def create(session: aiohttp.ClientSession, index: int) -> int:
            body = {
                "queue": queue_id,
                "title": f"Deposit not credited {index}",
                "description": "I sent 120 USDT on TRC-20 an hour ago and it has not arrived yet.",
                "submitter_email": "load@example.org",
                "priority": 3,
            }
            status, raw = await errors.request(session, "POST", "/api/tickets/", 201, body)
            if status == 201:
                created_ids.append(int(json.loads(raw)["id"]))
            return status

        async def follow_up(session: aiohttp.ClientSession, index: int) -> int:
            body = {
                "ticket": rng.choice(created_ids),
                "comment": f"Thanks for waiting, we are checking transaction {index} now.",
                "public": True,
            }
            status, _ = await errors.request(session, "POST", "/api/followups/", 201, body)
            return status

        async def list_open(session: aiohttp.ClientSession, index: int) -> int:
            status, _ = await errors.request(session, "GET", "/api/tickets/?status=1", 200)
            return status

        pid = server.pid
        warm_up = await run_phase(
            "warm-up", WARM_UP_REQUESTS, args.clients, create, base_url, token
        )
        if not created_ids:
            raise RuntimeError(f"no ticket could be created ({warm_up.errors} errors)")
        results = [
            await run_phase(
                "create ticket", args.requests, args.clients, create, base_url, token, pid
            ),
            await run_phase(
                "post follow-up", args.requests, args.clients, follow_up, base_url, token, pid
            ),
        ]
        print(
            await asyncio.to_thread(
                run_peer, project, "-c", FILL_SCRIPT, str(queue_id), str(LIST_TARGET)
            ),
            end="",
        )
        results.append(
            await run_phase(
                f"list open, {LIST_TARGET // 1000}k in table",
                args.list_requests,
                args.clients,
                list_open,
                base_url,
                token,
                pid,
            )
        )
        for result in results:
            print(result.line())
        return results
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        shutil.rmtree(project, ignore_errors=True)


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=1000, help="creates and follow-ups")
    parser.add_argument(
        "--list-requests", type=int, default=20, help="list requests (about 1 s each)"
    )
    args = parser.parse_args()
    print(describe())
    await asyncio.to_thread(ensure_peer_venv)
    print(peer_versions())
    if args.database in ("sqlite", "both"):
        directory = Path(tempfile.mkdtemp(prefix="helpdesk-peer-sqlite-"))
        try:
            database: dict[str, object] = {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": str(directory / "db.sqlite3"),
                "CONN_MAX_AGE": 600,
            }
            await bench_database("SQLite", database, args)
        finally:
            shutil.rmtree(directory, ignore_errors=True)
    if args.database in ("postgres", "both"):
        try:
            await bench_database("PostgreSQL", await fresh_postgres_database(), args)
        finally:
            await drop_postgres_database()


if __name__ == "__main__":
    asyncio.run(main())
