"""Measuring the assistant on a question set, and choosing its thresholds on a validation set.

A question set is JSON lines ``{"id", "question", "locale", "expected"}``; ``expected``
is the slug of the article that answers it, or null when the assistant should hand
the question to a person (it needs one, or the help center does not cover it).

Threshold selection (:func:`choose_thresholds`) replays the retrieval of every
validation question once, then searches a grid of fusion weights and thresholds:
the fusion weight that ranks best (top-1, then top-3), then the thresholds with
the most correct answers given minus wrong answers given, among those whose
hand-off recall on null questions is at least ``min_handoff_recall`` and whose
false hand-off rate is at most ``max_false_handoff``.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ledgerdesk.assistant.answer import Assistant, Thresholds, decide
from ledgerdesk.assistant.handoff import needs_human
from ledgerdesk.assistant.index import FusionParams, Hit
from ledgerdesk.assistant.scope import other_platform


class QuestionFileError(ValueError):
    """A question file the evaluation cannot use; the message names the line."""


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    question: str
    locale: str | None
    expected: str | None


@dataclass(frozen=True, slots=True)
class Outcome:
    id: str
    question: str
    expected: str | None
    sources: list[str]
    handoff: bool
    reason: str | None
    confidence: float
    latency_ms: float

    @property
    def top1(self) -> bool:
        return bool(self.sources) and self.sources[0] == self.expected

    @property
    def top3(self) -> bool:
        return self.expected in self.sources[:3]


def read_questions(path: Path) -> list[Question]:
    questions: list[Question] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            question = Question(
                id=str(row.get("id", number)),
                question=str(row["question"]),
                locale=row.get("locale") or None,
                expected=row.get("expected") or None,
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise QuestionFileError(f"{path.name} line {number}: {exc}") from None
        questions.append(question)
    return questions


def ask_all(assistant: Assistant, questions: Iterable[Question]) -> list[Outcome]:
    outcomes: list[Outcome] = []
    for question in questions:
        started = time.perf_counter()
        result = assistant.answer(question.question, question.locale)
        elapsed = (time.perf_counter() - started) * 1000
        outcomes.append(
            Outcome(
                id=question.id,
                question=question.question,
                expected=question.expected,
                sources=[source.slug for source in result.sources],
                handoff=result.handoff,
                reason=result.reason,
                confidence=result.confidence,
                latency_ms=round(elapsed, 2),
            )
        )
    return outcomes


def _percentile(values: Sequence[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, math.ceil(share * len(ordered)) - 1)
    return round(ordered[rank], 2)


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def summarise(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    answerable = [o for o in outcomes if o.expected is not None]
    to_hand_off = [o for o in outcomes if o.expected is None]
    latencies = [o.latency_ms for o in outcomes]
    return {
        "n": len(outcomes),
        "top1": _rate(sum(o.top1 for o in answerable), len(answerable)),
        "top3": _rate(sum(o.top3 for o in answerable), len(answerable)),
        "handoff_recall": _rate(sum(o.handoff for o in to_hand_off), len(to_hand_off)),
        "false_handoff_rate": _rate(sum(o.handoff for o in answerable), len(answerable)),
        "latency_ms_p50": _percentile(latencies, 0.5),
        "latency_ms_p95": _percentile(latencies, 0.95),
        # Beyond the required keys: answered with the right article, no hand-off.
        "answered_correctly": _rate(
            sum(o.top1 and not o.handoff for o in answerable), len(answerable)
        ),
        "n_expected": len(answerable),
        "n_handoff": len(to_hand_off),
    }


def outcome_row(outcome: Outcome) -> dict[str, Any]:
    row = asdict(outcome)
    row["top1"] = outcome.top1
    row["top3"] = outcome.top3
    return row


# Threshold selection ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Replay:
    """One validation question's raw retrieval signals, to re-fuse without re-embedding."""

    question: Question
    lexical: np.ndarray[Any, np.dtype[np.float32]]
    dense: np.ndarray[Any, np.dtype[np.float32]]
    has_dense: bool
    human: bool
    other_platform: bool


def replay_all(assistant: Assistant, questions: Sequence[Question]) -> list[Replay]:
    index = assistant.index
    replays = []
    for question in questions:
        query = index.query(question.question)
        perfect = index.lexical.max_score(query.terms)
        raw = index.lexical.scores(query.terms)
        lexical = np.clip(raw / perfect, 0, 1) if perfect > 0 else np.zeros_like(raw)
        dense = index._dense_by_doc(query)
        replays.append(
            Replay(
                question,
                lexical.astype(np.float32),
                dense,
                query.vector is not None,
                needs_human(question.question) is not None,
                other_platform(question.question) is not None,
            )
        )
    return replays


def _hits(assistant: Assistant, replay: Replay, fusion: FusionParams) -> list[Hit]:
    index = assistant.index
    if replay.has_dense:
        span = fusion.dense_ceiling - fusion.dense_floor
        scaled = np.clip((replay.dense - fusion.dense_floor) / span, 0, 1)
        fused = fusion.dense_weight * scaled + (1 - fusion.dense_weight) * replay.lexical
    else:
        fused = replay.lexical
    hits: list[Hit] = []
    seen: set[str] = set()
    for i in np.argsort(-fused, kind="stable"):
        doc = index.docs[int(i)]
        if doc.slug in seen:
            continue
        seen.add(doc.slug)
        hits.append(
            Hit(doc, int(i), float(fused[i]), float(replay.lexical[i]), float(replay.dense[i]))
        )
        if len(hits) == 3:
            break
    return hits


@dataclass(frozen=True, slots=True)
class Choice:
    fusion: FusionParams
    thresholds: Thresholds
    metrics: dict[str, float | None]


def _grid(start: float, stop: float, step: float) -> list[float]:
    count = round((stop - start) / step)
    return [round(start + i * step, 4) for i in range(count + 1)]


def choose_thresholds(
    assistant: Assistant,
    questions: Sequence[Question],
    min_handoff_recall: float = 0.9,
    max_false_handoff: float = 1.0,
) -> Choice:
    replays = replay_all(assistant, questions)
    answerable = [r for r in replays if r.question.expected is not None]
    nulls = [r for r in replays if r.question.expected is None]
    base = assistant.index.fusion

    best_fusion: tuple[tuple[int, int], FusionParams] | None = None
    for weight in _grid(0.0, 1.0, 0.1):
        for floor in (0.72, 0.75, 0.78, 0.8):
            for ceiling in (0.88, 0.9, 0.92):
                fusion = replace(
                    base, method="weighted", dense_weight=weight,
                    dense_floor=floor, dense_ceiling=ceiling,
                )  # fmt: skip
                top1 = top3 = 0
                for replay in answerable:
                    slugs = [hit.doc.slug for hit in _hits(assistant, replay, fusion)]
                    top1 += bool(slugs) and slugs[0] == replay.question.expected
                    top3 += replay.question.expected in slugs
                ranking = (top1, top3)
                if best_fusion is None or ranking > best_fusion[0]:
                    best_fusion = (ranking, fusion)
    assert best_fusion is not None
    fusion = best_fusion[1]
    ranked = [(r, _hits(assistant, r, fusion)) for r in replays]

    best: tuple[tuple[float, ...], Choice] | None = None
    for oos in _grid(0.0, 0.6, 0.025):
        for confidence in _grid(oos, 0.8, 0.025):
            for margin in _grid(0.0, 0.15, 0.01):
                thresholds = Thresholds(confidence, margin, oos)
                metrics = _threshold_metrics(ranked, thresholds, len(answerable), len(nulls))
                recall = metrics["handoff_recall"]
                if recall is not None and recall < min_handoff_recall:
                    continue
                if (metrics["false_handoff_rate"] or 0.0) > max_false_handoff:
                    continue
                score = metrics["net_correct"] or 0.0
                key = (score, -(metrics["false_handoff_rate"] or 0.0), -confidence, -margin)
                if best is None or key > best[0]:
                    best = (key, Choice(fusion, thresholds, metrics))
    if best is None:
        raise ValueError(
            f"no thresholds reach a hand-off recall of {min_handoff_recall} "
            f"with at most {max_false_handoff} false hand-offs"
        )
    return best[1]


def _threshold_metrics(
    ranked: Sequence[tuple[Replay, list[Hit]]],
    thresholds: Thresholds,
    answerable: int,
    nulls: int,
) -> dict[str, float | None]:
    right = wrong = false_handoffs = handed_off_nulls = top1 = 0
    for replay, hits in ranked:
        handoff = replay.human or replay.other_platform or decide(hits, "", thresholds).handoff
        expected = replay.question.expected
        if expected is None:
            handed_off_nulls += handoff
            continue
        correct = bool(hits) and hits[0].doc.slug == expected
        top1 += correct
        if handoff:
            false_handoffs += 1
        elif correct:
            right += 1
        else:
            wrong += 1
    return {
        "top1": _rate(top1, answerable),
        "handoff_recall": _rate(handed_off_nulls, nulls),
        "false_handoff_rate": _rate(false_handoffs, answerable),
        # A wrong answer misleads the customer; a hand-off only costs a person's time.
        "net_correct": _rate(right - wrong, answerable),
    }
