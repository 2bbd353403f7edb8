"""The stored vectors job, the eval commands and threshold selection on a small fixture."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from ledgerdesk.assistant.dense import DIM, MODEL_NAME, FloatArray
from ledgerdesk.assistant.evaluate import Outcome, read_questions, summarise
from ledgerdesk.assistant.store import load_published
from ledgerdesk.assistant.tasks import embed_article
from ledgerdesk.cli import main
from ledgerdesk.db.base import utcnow
from ledgerdesk.db.engine import Database
from ledgerdesk.knowledge.models import Article
from ledgerdesk.knowledge.transfer import import_directory
from ledgerdesk.settings import Settings
from tests.assistant_fixtures import write_kb, write_questions

REQUIRED_KEYS = {
    "n", "top1", "top3", "handoff_recall", "false_handoff_rate",
    "latency_ms_p50", "latency_ms_p95",
}  # fmt: skip


class Deterministic:
    """An embedder for the storage test: vectors from the text's hash, counted calls."""

    name = MODEL_NAME

    def __init__(self) -> None:
        self.calls = 0

    def passages(self, texts: list[str]) -> FloatArray:
        self.calls += 1
        rows = [np.random.default_rng(abs(hash(t)) % 2**32).random(DIM) for t in texts]
        matrix = np.array(rows, dtype=np.float32)
        return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)

    def query(self, text: str) -> FloatArray:
        return self.passages([text])[0]


async def test_embedding_an_article_stores_its_vectors_once_per_version(
    db: Database, tmp_path: Path
) -> None:
    await import_directory(db, write_kb(tmp_path / "kb"))
    async with db.sessionmaker() as session:
        article = (
            (await session.execute(select(Article).where(Article.slug == "deposit-not-credited")))
            .scalars()
            .first()
        )
    assert article is not None and article.embedding is None
    embedder = Deterministic()

    assert await embed_article(db, article.id, embedder) is True
    assert await embed_article(db, article.id, embedder) is False  # same version: nothing to do
    assert embedder.calls == 1

    async with db.sessionmaker() as session:
        docs, vectors = await load_published(session)
        stored = await session.get(Article, article.id)
    assert stored is not None
    assert stored.embedding_model == MODEL_NAME
    assert stored.embedded_version == stored.version
    key = (article.slug, article.locale)
    assert key in vectors and len(vectors) == 1  # the others are not embedded yet
    assert vectors[key].shape == (3, DIM)  # intro and two sections
    assert vectors[key].dtype == np.float32
    assert len(docs) == 10
    assert await embed_article(db, 10**9, embedder) is False  # a deleted article


async def test_vectors_of_an_older_version_are_not_loaded(db: Database, tmp_path: Path) -> None:
    await import_directory(db, write_kb(tmp_path / "kb"))
    async with db.sessionmaker() as session:
        article_id = (await session.execute(select(Article.id).limit(1))).scalar_one()
    await embed_article(db, article_id, Deterministic())
    async with db.writer() as session:
        article = await session.get(Article, article_id)
        assert article is not None
        article.version += 1
        await session.commit()
    async with db.sessionmaker() as session:
        _docs, vectors = await load_published(session)
    assert vectors == {}


def test_the_eval_command_prints_the_figures_and_writes_one_row_per_question(
    tmp_path: Path,
) -> None:
    kb = write_kb(tmp_path / "kb")
    questions = write_questions(tmp_path / "questions.jsonl")
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(
        main,
        ["eval", "assistant", "--kb", str(kb), "--questions", str(questions),
         "--out", str(out), "--cache", str(tmp_path / "vectors.npz")],
        env={"LEDGERDESK_DATA_DIR": str(tmp_path), "LEDGERDESK_ASSISTANT_DENSE": "false"},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output.strip().splitlines()[-1])
    assert set(figures) >= REQUIRED_KEYS
    assert figures["n"] == 6
    assert 0 <= figures["top1"] <= figures["top3"] <= 1
    assert figures["handoff_recall"] == 1.0  # both null questions need a person
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [row["id"] for row in rows] == ["q1", "q2", "q3", "q4", "q5", "q6"]
    assert rows[4]["reason"] == "needs_human:account_compromised"


def test_the_eval_command_refuses_a_broken_question_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "1"}\n')
    result = CliRunner().invoke(
        main,
        ["eval", "assistant", "--kb", str(write_kb(tmp_path / "kb")), "--questions", str(bad)],
        env={"LEDGERDESK_DATA_DIR": str(tmp_path)},
    )
    assert result.exit_code == 2
    assert "line 1" in result.output


def test_the_threshold_command_chooses_values_on_a_validation_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["eval", "assistant-thresholds", "--kb", str(write_kb(tmp_path / "kb")),
         "--questions", str(write_questions(tmp_path / "validation.jsonl"))],
        env={"LEDGERDESK_DATA_DIR": str(tmp_path), "LEDGERDESK_ASSISTANT_DENSE": "false"},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    chosen = json.loads(result.output.strip().splitlines()[-1])
    assert set(chosen["settings"]) >= {
        "LEDGERDESK_ASSISTANT_MIN_CONFIDENCE",
        "LEDGERDESK_ASSISTANT_MIN_MARGIN",
        "LEDGERDESK_ASSISTANT_OUT_OF_SCOPE_BELOW",
    }
    assert chosen["validation"]["handoff_recall"] >= 0.9


def test_summary_rates_are_computed_on_the_right_questions(tmp_path: Path) -> None:
    def outcome(expected: str | None, sources: list[str], handoff: bool) -> Outcome:
        return Outcome("i", "q", expected, sources, handoff, None, 0.5, 10.0)

    figures = summarise(
        [
            outcome("a", ["a", "b"], False),
            outcome("a", ["b", "c", "a"], True),
            outcome("a", ["b", "c", "d"], False),
            outcome(None, ["a"], True),
        ]
    )
    assert figures["n"] == 4
    assert figures["top1"] == round(1 / 3, 4)
    assert figures["top3"] == round(2 / 3, 4)
    assert figures["handoff_recall"] == 1.0
    assert figures["false_handoff_rate"] == round(1 / 3, 4)
    path = write_questions(tmp_path / "q.jsonl")
    assert read_questions(path)[1].locale is None


async def test_the_embedding_job_is_registered_and_stores_real_vectors(
    db: Database, tmp_path: Path, settings: Settings
) -> None:
    from ledgerdesk.assistant.tasks import EMBED_ARTICLE
    from ledgerdesk.jobs.context import JobContext
    from ledgerdesk.jobs.registry import get_handler

    await import_directory(db, write_kb(tmp_path / "kb"))
    async with db.sessionmaker() as session:
        article_id = (
            await session.execute(select(Article.id).where(Article.slug == "staking-rewards"))
        ).scalar_one()
    spec = get_handler(EMBED_ARTICLE)
    assert spec is not None
    ctx = JobContext(db, settings, None, 1, EMBED_ARTICLE, 1, spec.max_attempts, utcnow())
    with pytest.raises(ValueError, match="article_id"):
        await spec.func(ctx, {"article_id": "7"})
    await spec.func(ctx, {"article_id": article_id})
    async with db.sessionmaker() as session:
        _docs, vectors = await load_published(session)
    (vector,) = vectors.values()
    assert vector.shape == (1, DIM)
    assert abs(float(np.linalg.norm(vector[0])) - 1.0) < 1e-3
