"""``ledgerdesk ask``, ``ledgerdesk eval assistant`` and ``eval assistant-thresholds``."""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import click

from ledgerdesk.assistant.answer import Assistant, build_assistant
from ledgerdesk.assistant.dense import CachedEmbedder, default_embedder
from ledgerdesk.assistant.evaluate import (
    QuestionFileError,
    ask_all,
    choose_thresholds,
    outcome_row,
    read_questions,
    summarise,
)
from ledgerdesk.assistant.schemas import AnswerOut
from ledgerdesk.settings import Settings

DEFAULT_CACHE = Path("var/assistant-vectors.npz")


def _settings() -> Settings:
    from ledgerdesk.cli import _settings_or_exit

    return _settings_or_exit()


@click.command()
@click.argument("question")
@click.option(
    "--locale", default=None, help="the customer's language (read from the text if not given)"
)
def ask(question: str, locale: str | None) -> None:
    """Ask the assistant a question, answered from this install's help center (JSON)."""
    from ledgerdesk.assistant.runtime import AssistantRuntime
    from ledgerdesk.db.engine import Database

    settings = _settings()
    if not question.strip():
        click.echo("ledgerdesk: the question is empty", err=True)
        sys.exit(2)

    async def run() -> AnswerOut:
        db = Database.from_settings(settings)
        try:
            runtime = AssistantRuntime(settings)
            try:
                return AnswerOut.of(await runtime.answer(db, question, locale))
            finally:
                await runtime.close()
        finally:
            await db.dispose()

    result = asyncio.run(run())
    click.echo(json.dumps(result.model_dump(), ensure_ascii=False, indent=2))


@click.group("eval")
def eval_group() -> None:
    """Measure the assistant on a question set."""


async def _scratch_assistant(
    kb: Path, workdir: Path, settings: Settings, cache: Path | None
) -> Assistant:
    """Import ``kb`` into a fresh SQLite database, embed every article, load the index.

    The same path as the server: the knowledge importer, the embedding job, the
    index loaded from stored vectors.
    """
    from ledgerdesk.assistant.store import load_published
    from ledgerdesk.assistant.tasks import embed_article
    from ledgerdesk.cli import run_migrations
    from ledgerdesk.db.engine import Database
    from ledgerdesk.knowledge.models import Article
    from ledgerdesk.knowledge.transfer import import_directory

    url = f"sqlite+aiosqlite:///{workdir / 'eval.db'}"
    await asyncio.to_thread(run_migrations, url)
    db = Database(url)
    embedder = CachedEmbedder(default_embedder(), cache) if cache else default_embedder()
    try:
        await import_directory(db, kb)
        if settings.assistant_dense:
            async with db.sessionmaker() as session:
                from sqlalchemy import select

                ids = list((await session.execute(select(Article.id))).scalars())
            for article_id in ids:
                await embed_article(db, article_id, embedder)
            if isinstance(embedder, CachedEmbedder):
                embedder.save()
        async with db.sessionmaker() as session:
            docs, vectors = await load_published(session)
    finally:
        await db.dispose()
    return await asyncio.to_thread(build_assistant, docs, settings, vectors)


def _load_assistant(kb: Path, settings: Settings, cache: Path | None) -> Assistant:
    if not kb.is_dir():
        raise click.BadParameter(f"{kb} is not a directory", param_hint="--kb")
    with tempfile.TemporaryDirectory(prefix="ledgerdesk-eval-") as workdir:
        return asyncio.run(_scratch_assistant(kb, Path(workdir), settings, cache))


_common = [
    click.option("--kb", "kb", required=True, type=click.Path(path_type=Path),
                 help="directory of <slug>.<locale>.md files"),
    click.option("--questions", required=True, type=click.Path(exists=True, path_type=Path),
                 help="JSON lines {id, question, locale, expected}"),
    click.option("--cache", type=click.Path(path_type=Path), default=DEFAULT_CACHE,
                 show_default=True, help="file keeping passage vectors between runs"),
    click.option("--no-cache", is_flag=True, help="embed every article again"),
]  # fmt: skip


def _with_common(func: Any) -> Any:
    for option in reversed(_common):
        func = option(func)
    return func


def _questions(path: Path) -> list[Any]:
    try:
        return read_questions(path)
    except QuestionFileError as exc:
        raise click.BadParameter(str(exc), param_hint="--questions") from None


@eval_group.command("assistant")
@_with_common
@click.option("--out", type=click.Path(path_type=Path), help="write one JSON line per question")
def eval_assistant(
    kb: Path, questions: Path, cache: Path, no_cache: bool, out: Path | None
) -> None:
    """Import KB into a scratch database, ask every question, print the figures as JSON."""
    settings = _settings()
    asked = _questions(questions)
    assistant = _load_assistant(kb, settings, None if no_cache else cache)
    assistant.answer("warm up", "en")  # load jieba and the model before timing
    outcomes = ask_all(assistant, asked)
    if out is not None:
        with out.open("w", encoding="utf-8") as handle:
            for outcome in outcomes:
                handle.write(json.dumps(outcome_row(outcome), ensure_ascii=False) + "\n")
    click.echo(json.dumps(summarise(outcomes)))


@eval_group.command("assistant-thresholds")
@_with_common
@click.option("--min-handoff-recall", default=0.9, show_default=True, type=click.FloatRange(0, 1))
@click.option(
    "--max-false-handoff",
    default=1.0,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="refuse thresholds that hand off more of the answerable questions than this",
)
def eval_thresholds(
    kb: Path,
    questions: Path,
    cache: Path,
    no_cache: bool,
    min_handoff_recall: float,
    max_false_handoff: float,
) -> None:
    """Choose fusion weights and hand-off thresholds on a VALIDATION set; print settings."""
    settings = _settings()
    asked = _questions(questions)
    assistant = _load_assistant(kb, settings, None if no_cache else cache)
    try:
        choice = choose_thresholds(assistant, asked, min_handoff_recall, max_false_handoff)
    except ValueError as exc:
        click.echo(f"ledgerdesk: {exc}", err=True)
        sys.exit(1)
    fusion, thresholds = choice.fusion, choice.thresholds
    click.echo(
        json.dumps(
            {
                "settings": {
                    "LEDGERDESK_ASSISTANT_DENSE_WEIGHT": fusion.dense_weight,
                    "LEDGERDESK_ASSISTANT_DENSE_FLOOR": fusion.dense_floor,
                    "LEDGERDESK_ASSISTANT_DENSE_CEILING": fusion.dense_ceiling,
                    "LEDGERDESK_ASSISTANT_MIN_CONFIDENCE": thresholds.min_confidence,
                    "LEDGERDESK_ASSISTANT_MIN_MARGIN": thresholds.min_margin,
                    "LEDGERDESK_ASSISTANT_OUT_OF_SCOPE_BELOW": thresholds.out_of_scope_below,
                },
                "validation": choice.metrics,
            }
        )
    )
