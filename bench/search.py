"""Benchmark of the workspace search (/pipeline/search/) at 100,000 deals.

Seeds PostgreSQL like ``bench/board.py`` (database ``opportune_board_bench``; ``--reuse``
keeps one that already holds the deals; ``DATABASE_URL`` names a database to use instead, as it
is), then, as ``rep1``, ``manager1`` and ``admin``,
requests the search page for a common word, a word that matches nothing and a two-word
query: a few warm-up requests, then the median of ``--requests`` timed ones.

Usage:  .venv/bin/python bench/search.py [--requests 15] [--reuse]

Last line: one JSON object ``{"<user>_<query>_ms": .., ..., "max_ms": .., "max_queries": ..}``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

QUERIES = {"common": "globex", "none": "zzzz", "two_words": "dana smith"}
USERS = ("rep1", "manager1", "admin")


def measure(requests: int) -> dict:
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from accounts.models import User

    out: dict = {}
    most_queries = 0
    for username in USERS:
        client = Client()
        client.force_login(User.objects.get(username=username))
        for key, q in QUERIES.items():
            for _ in range(3):
                assert client.get("/pipeline/search/", {"q": q}).status_code == 200
            timings = []
            for _ in range(requests):
                started = time.perf_counter()
                client.get("/pipeline/search/", {"q": q})
                timings.append((time.perf_counter() - started) * 1000)
            with CaptureQueriesContext(connection) as ctx:
                client.get("/pipeline/search/", {"q": q})
            most_queries = max(most_queries, len(ctx.captured_queries))
            out[f"{username}_{key}_ms"] = round(statistics.median(timings), 1)
    out["max_ms"] = max(v for k, v in out.items() if k.endswith("_ms"))
    out["max_queries"] = most_queries
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=15)
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument(
        "--pg", default=os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
    )
    parser.add_argument("--measure-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    if args.measure_only:
        print(json.dumps(measure(args.requests)))
        return
    import board  # bench/board.py: the same seeded database

    url = board.demo_database(board.DB_NAME, 100_000, server=args.pg, reuse=args.reuse)
    figures = board.measure_in_child(__file__, url, args.requests)
    for key, value in figures.items():
        print(f"  {key}: {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
