"""CPU time per API request with the app called in process: quick, for comparing changes.

The app runs as ``instructions_bench.py`` runs it (production settings on a SQLite
file, raw ASGI calls, no sockets or HTTP parsing, the embedded job worker off), but
timed with the process's CPU clock instead of counted by valgrind: a run takes
seconds, not minutes, and moves by a few percent between runs on this shared
machine, so compare trees run alternately. After a warm-up it creates ``--requests``
conversations, then posts one reply to each (each its conversation's first reply,
as in ``api_bench.py``'s reply phase), and prints the CPU time of each phase.

    python bench/inprocess_bench.py --requests 4000
    python bench/inprocess_bench.py --database postgres   # a fresh database on PostgreSQL
    PYTHONPATH=/path/to/other/tree/src python bench/inprocess_bench.py  # compare trees
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from instructions_bench import _call, conversation_body, reply_body, use_bench_environment
from machine import describe

WARM_UP = 50


async def run(requests: int, database: str = "sqlite") -> dict[str, float]:
    from api_bench import fresh_postgres_database, prepare

    data_dir = tempfile.mkdtemp(prefix="ledgerdesk-inprocess-")
    url = use_bench_environment(data_dir)
    if database == "postgres":
        url = os.environ["LEDGERDESK_DATABASE_URL"] = await fresh_postgres_database()
    from ledgerdesk.app import create_app

    token, customer_id = await prepare(url)
    app = create_app()
    created: list[int] = []

    async def create(index: int) -> None:
        body = conversation_body(customer_id, index)
        answer = await _call(app, "POST", "/api/v1/conversations", body, token)
        created.append(answer["id"])

    async def reply(index: int) -> None:
        path = f"/api/v1/conversations/{created[index]}/messages"
        await _call(app, "POST", path, reply_body(index), token)

    figures: dict[str, float] = {}
    try:
        async with app.router.lifespan_context(app):
            for index in range(WARM_UP):
                await create(index)
                await reply(index)
            gc.collect()
            for name, operation in (("create", create), ("first reply", reply)):
                started = time.process_time()
                for index in range(WARM_UP, WARM_UP + requests):
                    await operation(index)
                figures[name] = (time.process_time() - started) / requests
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    print(describe())
    print(f"database: {args.database}")
    for name, seconds in asyncio.run(run(args.requests, args.database)).items():
        print(f"  {name:<12} {seconds * 1e3:.3f} ms CPU a request over {args.requests}")


if __name__ == "__main__":
    main()
