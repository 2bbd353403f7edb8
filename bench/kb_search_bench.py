"""The help center's lexical search over 1,000 articles: index build time and query latency.

Builds 1,000 articles by repeating the demo help center (English and Chinese,
slugs made unique), indexes them with ``knowledge/search.py`` and ranks a mix of
English, Chinese and mixed questions for a Chinese reader. Times are CPU time of
this process (``time.process_time``), so other load on a shared machine slows
them less than wall time would.

    .venv/bin/python bench/kb_search_bench.py
    .venv/bin/python bench/kb_search_bench.py --articles 300 --rounds 10   # quick
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ledgerdesk.knowledge.files import read_directory
from ledgerdesk.knowledge.search import LexicalIndex, rank, tokenize
from machine import describe

HELP_CENTER = Path(__file__).parent.parent / "src" / "ledgerdesk" / "demo_data" / "helpcenter"
QUESTIONS = [
    "withdrawal pending for hours",
    "USDT充值没到账",
    "I sent USDT on the wrong network TRC20",
    "谷歌验证器丢了怎么办",
    "how do I reset 2FA",
    "KYC rejected why",
    "提币到交易所需要多久",
    "my deposit has not arrived after 3 confirmations",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    bundle = read_directory(HELP_CENTER)
    if not bundle.articles:
        raise SystemExit(f"no articles in {HELP_CENTER}")
    rows: list[tuple[int, str, str, str, str, list[str], str]] = []
    copy = 0
    while len(rows) < args.articles:
        for article in bundle.articles[: args.articles - len(rows)]:
            slug = f"{article.slug}-{copy}"
            rows.append(
                (len(rows) + 1, slug, article.locale, article.title, article.category,
                 list(article.tags), article.body)
            )  # fmt: skip
        copy += 1
    tokenize("预热 warm-up")  # jieba loads its dictionary once per process
    started = time.process_time()
    index = LexicalIndex.of(rows)
    build = time.process_time() - started
    latencies = []
    for _ in range(args.rounds):
        for question in QUESTIONS:
            started = time.process_time()
            rank(index, question, "zh-Hans", 10)
            latencies.append((time.process_time() - started) * 1000)
    latencies.sort()
    p50 = latencies[len(latencies) // 2]
    p95 = latencies[int(len(latencies) * 0.95)]
    print(describe())
    print(
        f"{len(rows)} articles ({sum(len(r[6]) for r in rows):,} characters of Markdown): "
        f"index built in {build:.2f} s CPU; {len(latencies)} questions ranked, "
        f"p50 {p50:.2f} ms, p95 {p95:.2f} ms CPU"
    )


if __name__ == "__main__":
    main()
