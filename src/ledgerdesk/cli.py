"""The ``ledgerdesk`` command: serve, migrate, create-admin, demo."""

from __future__ import annotations

import asyncio
import getpass
import logging
import sys
from pathlib import Path

import click
from alembic.config import Config

from ledgerdesk.settings import Settings, SettingsError, get_settings

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def _settings_or_exit() -> Settings:
    try:
        return get_settings()
    except SettingsError as exc:
        click.echo(f"ledgerdesk: {exc}", err=True)
        sys.exit(2)


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def run_migrations(database_url: str) -> None:
    from alembic import command
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(database_url), "head")


@click.group()
def main() -> None:
    """ledgerdesk: customer support for crypto platforms."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


@main.command()
def migrate() -> None:
    """Bring the database schema up to date."""
    settings = _settings_or_exit()
    run_migrations(settings.database_url_value)
    click.echo("database is up to date")


@main.command()
@click.option("--host", default=None, help="address to listen on")
@click.option("--port", default=None, type=click.IntRange(1, 65535), help="port to listen on")
@click.option("--workers", default=None, type=click.IntRange(1, 64), help="web processes")
def serve(host: str | None, port: int | None, workers: int | None) -> None:
    """Serve the API, the console and the help center."""
    import uvicorn

    settings = _settings_or_exit()
    uvicorn.run(
        "ledgerdesk.asgi:app",
        host=host or settings.host,
        port=port or settings.port,
        workers=workers or settings.workers,
        log_level=settings.log_level,
        proxy_headers=True,
        access_log=settings.log_level == "debug",
        # Chat frames are small JSON; compressing each costs more CPU than it saves.
        ws_per_message_deflate=False,
    )


@main.command()
@click.option("--concurrency", default=None, type=click.IntRange(1, 256), help="jobs at once")
def worker(concurrency: int | None) -> None:
    """Run durable jobs (SQL or Redis queue, per LEDGERDESK_JOB_QUEUE) until stopped."""
    from ledgerdesk.jobs.service import run_worker_process

    settings = _settings_or_exit()
    if concurrency is not None:
        settings = settings.model_copy(update={"job_concurrency": concurrency})
    asyncio.run(run_worker_process(settings))


@main.command("create-admin")
@click.option("--email", required=True)
@click.option("--name", default="Administrator")
@click.option("--password", default=None, help="prompted for when not given")
def create_admin(email: str, name: str, password: str | None) -> None:
    """Create an admin agent."""
    from ledgerdesk.accounts.actions import do_create_agent
    from ledgerdesk.db.engine import Database
    from ledgerdesk.db.uow import UnitOfWork
    from ledgerdesk.errors import LedgerdeskError

    settings = _settings_or_exit()
    if password is None:
        password = getpass.getpass("Password: ")

    async def create() -> None:
        db = Database.from_settings(settings)
        try:
            async with UnitOfWork(db.write_sessionmaker()) as uow:
                await do_create_agent(
                    uow, actor=None, email=email, name=name, password=password, role="admin"
                )
                await uow.commit()
        finally:
            await db.dispose()

    try:
        asyncio.run(create())
    except LedgerdeskError as exc:
        click.echo(f"ledgerdesk: {exc.message}", err=True)
        sys.exit(1)
    click.echo(f"admin {email} created")


@main.command()
@click.option("--if-empty", is_flag=True, help="do nothing when demo data already exists")
def demo(if_empty: bool) -> None:
    """Seed demo agents, teams, customers and conversations (English and Chinese)."""
    from ledgerdesk.demo import seed_demo
    from ledgerdesk.errors import LedgerdeskError

    settings = _settings_or_exit()
    credentials_file = settings.data_dir / "demo-login.txt"
    try:
        created = asyncio.run(seed_demo(settings, credentials_file, only_if_empty=if_empty))
    except LedgerdeskError as exc:
        click.echo(f"ledgerdesk: {exc.message}", err=True)
        sys.exit(1)
    if created:
        click.echo("demo data created")
    if credentials_file.exists():
        click.echo(credentials_file.read_text().rstrip())


def _add_domain_commands() -> None:
    from ledgerdesk.knowledge.cli import kb

    main.add_command(kb)


_add_domain_commands()


def _add_assistant_commands() -> None:
    from ledgerdesk.assistant.cli import ask, eval_group

    main.add_command(ask)
    main.add_command(eval_group)


_add_assistant_commands()


# Cheap to import: the detectors load when a safety command runs.
from ledgerdesk.safety.cli import safety as _safety_commands  # noqa: E402

main.add_command(_safety_commands)

# ledgerdesk analytics refresh | rebuild
from ledgerdesk.analytics.cli import analytics as _analytics_commands  # noqa: E402

main.add_command(_analytics_commands)


if __name__ == "__main__":
    main()
