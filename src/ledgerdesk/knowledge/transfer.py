"""Import a directory of article files into a database, and export it back.

Used by ``ledgerdesk kb import|export``, the demo seed and the assistant's eval
command (which imports a knowledge base into a scratch database).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from ledgerdesk.db.engine import Database
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.events.bus import EventBus
from ledgerdesk.knowledge.actions import ImportReport, article_file, do_import_bundle
from ledgerdesk.knowledge.files import read_directory, write_directory
from ledgerdesk.knowledge.queries import all_articles, list_categories


async def import_directory(
    db: Database, directory: Path, *, dry_run: bool = False, bus: EventBus | None = None
) -> ImportReport:
    """Import every ``<slug>.<locale>.md`` of ``directory`` in one transaction.

    Raises InvalidInput listing every problem (per file) when any file is wrong;
    nothing is written then. ``dry_run`` reports what would change and rolls back.
    """
    bundle = await asyncio.to_thread(read_directory, directory)
    async with db.writer() as session, UnitOfWork(session, bus) as uow:
        report = await do_import_bundle(uow, actor=None, bundle=bundle)
        if dry_run:
            await uow.rollback()
        else:
            await uow.commit()
    return report


async def export_directory(db: Database, directory: Path) -> list[str]:
    """Write every article (drafts too) and the category names; returns the file names."""
    async with db.sessionmaker() as session:
        articles = [article_file(article) for article in await all_articles(session)]
        categories = {c.slug: dict(c.names) for c in await list_categories(session)}
    return await asyncio.to_thread(write_directory, directory, articles, categories)
