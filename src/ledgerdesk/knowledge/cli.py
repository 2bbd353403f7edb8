"""``ledgerdesk kb import DIR`` and ``ledgerdesk kb export DIR``."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import click

from ledgerdesk.db.engine import Database
from ledgerdesk.errors import InvalidInput, LedgerdeskError
from ledgerdesk.knowledge.actions import ImportReport

T = TypeVar("T")


def _run(work: Callable[[Database], Awaitable[T]]) -> T:
    from ledgerdesk.cli import _settings_or_exit

    settings = _settings_or_exit()

    async def run() -> T:
        db = Database.from_settings(settings)
        try:
            return await work(db)
        finally:
            await db.dispose()

    return asyncio.run(run())


@click.group()
def kb() -> None:
    """Import and export the knowledge base as Markdown files."""


def _print_report(report: ImportReport, dry_run: bool) -> None:
    verb = "would be " if dry_run else ""
    for name in report.created:
        click.echo(f"created    {name}")
    for name, changed in report.updated.items():
        click.echo(f"updated    {name}: {', '.join(changed)}")
    for slug in report.categories_named:
        click.echo(f"category   {slug}: names {verb}updated")
    click.echo(
        f"{len(report.created)} {verb}created, {len(report.updated)} {verb}updated, "
        f"{len(report.unchanged)} unchanged"
        + (" (dry run: nothing was written)" if dry_run else "")
    )


@kb.command("import")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="report what would change, write nothing")
@click.option("--json", "as_json", is_flag=True, help="print the report as JSON")
def import_command(directory: Path, dry_run: bool, as_json: bool) -> None:
    """Create or update articles from DIRECTORY/<slug>.<locale>.md files.

    All or nothing: if any file is wrong, every problem is listed and nothing is
    imported (exit status 1). Articles missing from the directory are kept.
    """
    from ledgerdesk.knowledge.transfer import import_directory

    try:
        report = _run(lambda db: import_directory(db, directory, dry_run=dry_run))
    except InvalidInput as exc:
        click.echo(f"ledgerdesk: {exc.message}", err=True)
        for detail in exc.details:
            click.echo(f"  {detail['field']}: {detail['message']}", err=True)
        sys.exit(1)
    except LedgerdeskError as exc:
        click.echo(f"ledgerdesk: {exc.message}", err=True)
        sys.exit(1)
    if as_json:
        click.echo(json.dumps({**report.as_dict(), "dry_run": dry_run}, ensure_ascii=False))
    else:
        _print_report(report, dry_run)


@kb.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def export_command(directory: Path) -> None:
    """Write every article (drafts too) to DIRECTORY as <slug>.<locale>.md files."""
    from ledgerdesk.knowledge.transfer import export_directory

    written = _run(lambda db: export_directory(db, directory))
    click.echo(f"{len(written)} files written to {directory}")
