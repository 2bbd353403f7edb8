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
time), and the CPU time of the answer summed over its threads. A question is
embedded on ``--query-threads`` OpenMP threads (the server's setting
``assistant_query_threads``, default 2); ``--query-threads 1`` for a before/after
comparison in the same conditions.

    .venv/bin/python bench/assistant_bench.py --articles 1000 --limit 200
    .venv/bin/python bench/assistant_bench.py --articles 1000 --limit 200 --query-threads 1
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

import numpy as np

from ledgerdesk.assistant.answer import Assistant, Thresholds
from ledgerdesk.assistant.dense import DIM, QUERY_THREADS, CachedEmbedder, E5Embedder, FloatArray
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


def build(articles: int, cache: Path, query_threads: int) -> tuple[Assistant, TimedEmbedder, float]:
    demo = read_kb_dir(KB)
    model = E5Embedder(query_cache_size=0, query_threads=query_threads)
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
    return Assistant(index, Thresholds()), embedder, build_seconds


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(share * len(ordered) + 0.999999) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--cache", type=Path, default=ROOT / "var" / "assistant-vectors.npz")
    parser.add_argument("--limit", type=int, default=0, help="ask only N of the questions")
    parser.add_argument(
        "--query-threads",
        type=int,
        default=QUERY_THREADS,
        help="OpenMP threads for a question's embedding (the server's default: 2)",
    )
    args = parser.parse_args()

    questions = [
        json.loads(line)["question"]
        for path in QUESTION_FILES
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    if args.limit:
        # Every third question, so the sample mixes both files, languages and lengths.
        questions = questions[::3][: args.limit]
    assistant, embedder, build_seconds = build(args.articles, args.cache, args.query_threads)
    index = assistant.index
    passages = sum(len(group) for group in index.passages)
    warm_up()
    for question in questions[:5]:
        assistant.answer(question)
    embedder.query_ms.clear()

    total_ms: list[float] = []
    cpu_ms: list[float] = []
    for question in questions:
        started, cpu_started = time.perf_counter(), time.process_time()
        assistant.answer(question)
        total_ms.append((time.perf_counter() - started) * 1000)
        cpu_ms.append((time.process_time() - cpu_started) * 1000)

    print(describe())
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(
        f"knowledge base: {len(index.docs)} articles, {passages} passages "
        f"(index built from stored vectors in {build_seconds:.1f} s)"
    )
    print(
        f"questions: {len(total_ms)}, each asked once, no LLM; "
        f"{args.query_threads} embedding thread(s) per question"
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
    rest = [t - q for t, q in zip(total_ms, embedder.query_ms, strict=True)]
    print(
        f"  {'without embedding':>18}: p50 {percentile(rest, 0.5):.1f} ms, "
        f"p95 {percentile(rest, 0.95):.1f} ms  (BM25, fusion, hand-off rules, answer text)"
    )
    print("target: answer p95 <= 50 ms on 2 cores")


if __name__ == "__main__":
    main()
