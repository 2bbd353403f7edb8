"""Choosing the clustering threshold on hand-labelled questions.

    python -m ledgerdesk.analytics.gaps.evaluate [--tune FILE] [--report FILE ...] [--write-means]

Each labelled question has a topic (``expected`` in the assistant's evaluation sets:
the article that answers it; ``topic`` in tests/fixtures/gaps_questions.jsonl);
paraphrases in English and Chinese share it. A threshold is good when questions of
one topic share a group and different topics do not: pairwise F1 (precision: of
the pairs put together, the share of same-topic pairs; recall: of the same-topic
pairs, the share put together) and the adjusted Rand index. The threshold with
the best F1 on the tuning file is chosen; the report files are only measured.

The language means that centre the vectors (cluster.py) are measured on the tuning
file too; ``--write-means`` stores them in ``language_means.json``.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import combinations
from pathlib import Path

import numpy as np

from ledgerdesk.analytics.gaps.cluster import (
    LANGUAGE_MEANS,
    FloatArray,
    cluster_labels,
    language_of,
)
from ledgerdesk.analytics.gaps.embed import E5QuestionEmbedder, QuestionEmbedder

ROOT = Path(__file__).resolve().parents[4]
TUNE = ROOT / "eval" / "assistant_validation.jsonl"
REPORT = (
    ROOT / "eval" / "assistant_questions.jsonl",
    ROOT / "tests" / "fixtures" / "gaps_questions.jsonl",
)
GRID = tuple(round(0.5 + 0.025 * step, 3) for step in range(19))  # 0.5 .. 0.95


@dataclass(frozen=True)
class Labelled:
    text: str
    topic: str
    locale: str


@dataclass(frozen=True)
class Score:
    threshold: float
    precision: float
    recall: float
    f1: float
    ari: float
    groups: int


def load(path: Path) -> list[Labelled]:
    """Questions with a topic (those without one, e.g. out of scope, are left out)."""
    found: list[Labelled] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        topic = row.get("topic") or row.get("expected")
        if topic:
            found.append(Labelled(row["question"], str(topic), row.get("locale", "en")))
    return found


def pairwise(labels: list[int], topics: list[str]) -> tuple[float, float, float]:
    together = same = both = 0
    for i, j in combinations(range(len(labels)), 2):
        grouped = labels[i] == labels[j]
        related = topics[i] == topics[j]
        together += grouped
        same += related
        both += grouped and related
    precision = both / together if together else 1.0
    recall = both / same if same else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def measure_means(rows: list[Labelled], vectors: FloatArray) -> dict[str, FloatArray]:
    languages = sorted({language_of(row.locale) for row in rows})
    return {
        language: vectors[[language_of(row.locale) == language for row in rows]].mean(axis=0)
        for language in languages
    }


def centred(rows: list[Labelled], vectors: FloatArray, means: dict[str, FloatArray]) -> FloatArray:
    fallback = np.mean(list(means.values()), axis=0)
    shifted = np.array(
        [
            vector - means.get(language_of(row.locale), fallback)
            for row, vector in zip(rows, vectors, strict=True)
        ],
        dtype=np.float32,
    )
    result: FloatArray = (shifted / np.linalg.norm(shifted, axis=1, keepdims=True)).astype(
        np.float32
    )
    return result


def score(vectors: FloatArray, topics: list[str], threshold: float) -> Score:
    from sklearn.metrics import adjusted_rand_score

    labels = cluster_labels(vectors, threshold)
    precision, recall, f1 = pairwise(labels, topics)
    ari = float(adjusted_rand_score(topics, labels))
    return Score(threshold, precision, recall, f1, ari, len(set(labels)))


def sweep(vectors: FloatArray, topics: list[str], grid: tuple[float, ...] = GRID) -> list[Score]:
    return [score(vectors, topics, threshold) for threshold in grid]


def best(scores: list[Score]) -> Score:
    return max(scores, key=lambda s: (round(s.f1, 4), round(s.ari, 4)))


def embed(rows: list[Labelled], embedder: QuestionEmbedder) -> FloatArray:
    vectors = [
        embedder.embed([row.text for row in rows[i : i + 32]]) for i in range(0, len(rows), 32)
    ]
    return np.vstack(vectors).astype(np.float32)


def _line(name: str, s: Score, count: int, topics: int) -> str:
    return (
        f"{name}: {count} questions, {topics} topics -> {s.groups} groups at {s.threshold:.3f}: "
        f"pairwise precision {s.precision:.3f}, recall {s.recall:.3f}, "
        f"F1 {s.f1:.3f}, ARI {s.ari:.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tune", type=Path, default=TUNE)
    parser.add_argument("--report", type=Path, nargs="*", default=list(REPORT))
    parser.add_argument("--write-means", action="store_true", help="store the language means")
    parser.add_argument(
        "--timing", type=int, default=0, help="also time embedding and grouping N questions"
    )
    args = parser.parse_args()
    embedder = E5QuestionEmbedder(threads=1)  # a shared, busy machine
    rows = load(args.tune)
    topics = [row.topic for row in rows]
    raw = embed(rows, embedder)
    means = measure_means(rows, raw)
    if args.write_means:
        stored = {key: [round(float(x), 6) for x in value] for key, value in means.items()}
        LANGUAGE_MEANS.write_text(json.dumps(stored) + "\n", encoding="utf-8")
        print(f"wrote {LANGUAGE_MEANS.name}: {', '.join(stored)}")
    vectors = centred(rows, raw, means)
    scores = sweep(vectors, topics)
    for s in scores:
        print(
            f"  {s.threshold:.3f}  P {s.precision:.3f}  R {s.recall:.3f}  F1 {s.f1:.3f}  "
            f"ARI {s.ari:.3f}  groups {s.groups}"
        )
    chosen = best(scores)
    print(_line(f"tune {args.tune.name}", chosen, len(rows), len(set(topics))))
    for path in args.report:
        report_rows = load(path)
        report_topics = [row.topic for row in report_rows]
        report_vectors = centred(report_rows, embed(report_rows, embedder), means)
        measured = score(report_vectors, report_topics, chosen.threshold)
        print(_line(f"report {path.name}", measured, len(report_rows), len(set(report_topics))))
    if args.timing:
        timing(rows, raw, embedder, args.timing)


def timing(rows: list[Labelled], raw: FloatArray, embedder: QuestionEmbedder, count: int) -> None:
    """Seconds to embed the tuning questions, and to group ``count`` questions as the page
    does (the tuning vectors repeated with a little noise, so groups have many members)."""
    import platform
    import time

    from ledgerdesk.analytics.gaps.cluster import Item, group_questions

    texts = [row.text for row in rows]
    started = time.perf_counter()
    embedder.embed(texts)
    per_question = (time.perf_counter() - started) / len(texts)
    generator = np.random.default_rng(7)
    picks = generator.integers(0, len(rows), size=count)
    noisy = raw[picks] + generator.normal(0, 0.01, size=(count, raw.shape[1])).astype(np.float32)
    noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
    now = datetime.now(UTC)
    items = [Item(i, rows[p].text, rows[p].locale, "handoff", now) for i, p in enumerate(picks)]
    started = time.perf_counter()
    groups = group_questions(items, noisy.astype(np.float32))
    grouping = time.perf_counter() - started
    print(
        f"timing on {platform.processor() or platform.machine()}, {os.cpu_count()} cores: "
        f"embedding {per_question * 1000:.1f} ms per question (one thread); "
        f"grouping {count} questions into {len(groups)} groups {grouping:.2f} s"
    )


if __name__ == "__main__":
    main()
