"""``ledgerdesk analytics refresh`` and ``ledgerdesk analytics rebuild``."""

from __future__ import annotations

import asyncio

import click

from ledgerdesk.analytics.actions import (
    RefreshResult,
    do_rebuild_analytics,
    do_refresh_analytics,
)
from ledgerdesk.db.engine import Database


def _run(rebuild: bool) -> RefreshResult:
    from ledgerdesk.cli import _settings_or_exit

    settings = _settings_or_exit()

    async def run() -> RefreshResult:
        db = Database.from_settings(settings)
        try:
            if rebuild:
                return await do_rebuild_analytics(db)
            return await do_refresh_analytics(db)
        finally:
            await db.dispose()

    return asyncio.run(run())


@click.group()
def analytics() -> None:
    """Keep the analytics figures up to date (the server also refreshes them every 5 s)."""


@analytics.command()
def refresh() -> None:
    """Recompute the figures of conversations changed since the last refresh."""
    result = _run(rebuild=False)
    click.echo(f"refreshed {result.conversations} conversations in {result.seconds:.2f} s")


@analytics.command()
def rebuild() -> None:
    """Recompute every conversation's figures and all rollups from scratch."""
    result = _run(rebuild=True)
    click.echo(
        f"rebuilt {result.conversations} conversations over {result.days} days "
        f"in {result.seconds:.2f} s"
    )
