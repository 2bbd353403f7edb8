"""Fixtures shared by the suite: every database test runs on SQLite and on PostgreSQL.

PostgreSQL is the machine's own server (127.0.0.1:5432, or LEDGERDESK_TEST_POSTGRES_URL).
Without it the PostgreSQL half is skipped with the reason, except under CI=true,
where a missing service fails the run instead of hiding tests.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy import text

from ledgerdesk.accounts.actions import do_create_agent, do_create_api_token, do_create_team
from ledgerdesk.accounts.models import Agent, Team
from ledgerdesk.accounts.principal import AGENT_SCOPES
from ledgerdesk.app import create_app
from ledgerdesk.cli import run_migrations
from ledgerdesk.customers.actions import do_create_customer
from ledgerdesk.customers.models import Customer
from ledgerdesk.db.engine import Database
from ledgerdesk.db.registry import Base
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.events.bus import MemoryEventBus
from ledgerdesk.settings import Settings, load_settings

POSTGRES_ADMIN_DSN = os.environ.get(
    "LEDGERDESK_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
IN_CI = os.environ.get("CI", "").lower() == "true"
REDIS_URL = os.environ.get("LEDGERDESK_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PASSWORD = "correct horse battery staple"


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI=true but {reason}; CI must provide every service", pytrace=False)
    pytest.skip(reason)


async def require_redis() -> str:
    """The test Redis URL, or a skip (a failure under CI) saying why it is unusable."""
    from redis.asyncio import Redis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
    from redis.exceptions import RedisError

    client = Redis.from_url(REDIS_URL, socket_connect_timeout=2, retry=Retry(NoBackoff(), 0))
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        _unavailable(f"Redis not reachable at {REDIS_URL}: {exc}")
    finally:
        await client.aclose()
    return REDIS_URL


async def _create_postgres_database() -> tuple[str, str]:
    name = f"ledgerdesk_test_{uuid.uuid4().hex[:10]}"
    try:
        connection = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=5)
    except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
        _unavailable(f"PostgreSQL not reachable at {POSTGRES_ADMIN_DSN}: {exc}")
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    base = POSTGRES_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return name, f"{base}/{name}"


async def _drop_postgres_database(name: str) -> None:
    connection = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=5)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
async def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """A migrated, empty database of each kind, made once per test session."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("sqlite") / "test.db"
        url = f"sqlite+aiosqlite:///{path}"
        await asyncio.to_thread(run_migrations, url)
        yield url
        return
    name, url = await _create_postgres_database()
    try:
        await asyncio.to_thread(run_migrations, url)
        yield url
    finally:
        await _drop_postgres_database(name)


@pytest.fixture(scope="session")
async def database(database_url: str) -> AsyncIterator[Database]:
    db = Database(database_url)
    yield db
    await db.dispose()


async def _empty_all_tables(db: Database) -> None:
    tables = [table.name for table in reversed(Base.metadata.sorted_tables)]
    async with db.engine.begin() as connection:
        if db.is_sqlite:
            for name in tables:
                await connection.execute(text(f'DELETE FROM "{name}"'))  # noqa: S608 (our table names)
        else:
            joined = ", ".join(f'"{name}"' for name in tables)
            await connection.execute(text(f"TRUNCATE {joined} RESTART IDENTITY CASCADE"))


@pytest.fixture
async def db(database: Database) -> AsyncIterator[Database]:
    """The session database, emptied before each test."""
    await _empty_all_tables(database)
    yield database


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return load_settings(
        environ={},
        data_dir=tmp_path,
        environment="test",
        secret_key="test-secret-key-that-is-long-enough-0123456789",
        database_url=database_url,
    )


@pytest.fixture
def bus() -> MemoryEventBus:
    return MemoryEventBus()


@pytest.fixture
def app(settings: Settings, db: Database, bus: MemoryEventBus):  # type: ignore[no-untyped-def]
    return create_app(settings, db=db, bus=bus)


@pytest.fixture
async def elsewhere(database_url: str) -> AsyncIterator[Database]:
    """Another engine on the same database: stands for another process."""
    other = Database(database_url)
    yield other
    await other.dispose()


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@dataclass
class TestUser:
    agent: Agent
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class World:
    """Named people and teams, in the style of Healthchecks' test users."""

    db: Database
    alice: TestUser  # admin
    bob: TestUser  # agent
    carol: TestUser  # agent in the private Security team
    victor: TestUser  # viewer
    security: Team
    support: Team

    async def make_customer(self, name: str = "Dana", email: str | None = None) -> Customer:
        async with UnitOfWork(self.db.write_sessionmaker()) as uow:
            customer = await do_create_customer(
                uow, actor=None, name=name, email=email or f"{uuid.uuid4().hex[:8]}@example.com"
            )
            await uow.commit()
        return customer

    async def customer_token(self, customer: Customer, scopes: list[str] | None = None) -> str:
        async with UnitOfWork(self.db.write_sessionmaker()) as uow:
            token, _ = await do_create_api_token(
                uow,
                actor=None,
                name="widget",
                customer_id=customer.id,
                scopes=scopes or ["conversations:read", "conversations:write"],
            )
            await uow.commit()
        return token


async def _user(uow: UnitOfWork, email: str, name: str, role: str) -> TestUser:
    agent = await do_create_agent(
        uow, actor=None, email=email, name=name, password=PASSWORD, role=role
    )
    scopes = sorted(AGENT_SCOPES if role == "admin" else AGENT_SCOPES - {"admin"})
    token, _ = await do_create_api_token(uow, actor=None, name="tests", scopes=scopes, agent=agent)
    return TestUser(agent, token)


@pytest.fixture
async def world(db: Database) -> World:
    from ledgerdesk.accounts.actions import do_add_team_member

    async with UnitOfWork(db.write_sessionmaker()) as uow:
        alice = await _user(uow, "alice@example.org", "Alice Admin", "admin")
        bob = await _user(uow, "bob@example.org", "Bob Agent", "agent")
        carol = await _user(uow, "carol@example.org", "Carol Security", "agent")
        victor = await _user(uow, "victor@example.org", "Victor Viewer", "viewer")
        security = await do_create_team(uow, actor=None, name="Security", is_private=True)
        support = await do_create_team(uow, actor=None, name="Support")
        await do_add_team_member(uow, actor=None, team=security, agent=carol.agent)
        await do_add_team_member(uow, actor=None, team=support, agent=bob.agent)
        await uow.commit()
    return World(db, alice, bob, carol, victor, security, support)


@pytest.fixture(autouse=True, scope="session")
def _cheap_password_hashing() -> Iterator[None]:
    """Argon2 with its cheapest parameters in this process, for speed only.

    The production profile (RFC 9106 low memory: 64 MiB, 3 passes) costs 0.1-0.4 s a
    hash here, and the ``world`` fixture alone hashes four passwords for each of
    several hundred tests. The hashing code path is unchanged (argon2id through the
    same PasswordHasher calls); ``test_passwords.py`` checks the production profile,
    and servers started as subprocesses keep it.
    """
    from argon2 import PasswordHasher, profiles

    from ledgerdesk.accounts import secrets

    production = secrets._hasher
    secrets._hasher = PasswordHasher.from_parameters(profiles.CHEAPEST)
    yield
    secrets._hasher = production


@pytest.fixture(autouse=True)
def _no_leftover_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # Tests build their settings explicitly; a developer's LEDGERDESK_* must not leak in.
    for key in list(os.environ):
        if key.startswith("LEDGERDESK_") and not key.startswith("LEDGERDESK_TEST_"):
            monkeypatch.delenv(key)
    yield


@dataclass
class LiveServer:
    url: str

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/api/v1/realtime"


@pytest.fixture
async def live_server(app) -> AsyncIterator[LiveServer]:  # type: ignore[no-untyped-def]
    """The app served by a real uvicorn on a free loopback port, in this event loop."""
    import socket

    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    yield LiveServer(f"http://127.0.0.1:{port}")
    server.should_exit = True
    await task
