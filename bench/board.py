"""Benchmark of the pipeline board's server time and query count at 1,000 and 100,000 deals.

For each size it drops and recreates the PostgreSQL database ``opportune_board_bench``,
migrates it, loads ``manage.py seed_demo --opportunities N --seed 1 --no-snapshots`` and
then, in a child process, requests /pipeline/board/ with Django's test client logged in
as ``manager1`` (no filter): a few warm-up requests, then ``--requests`` timed ones. Server
time is the time to produce the response (URL resolution, middleware, queries, template render).
With ``DATABASE_URL`` set it measures that database alone, as it is (seeded with the last size
only when it holds no deals), and never drops it.

Usage:  .venv/bin/python bench/board.py [--requests 40] [--sizes 1000,100000]
        [--pg postgres://postgres@127.0.0.1:5432]

The demo sells in three currencies (``seed_demo``: a minority of recent deals in the two
currencies besides the reporting one, with a year of daily rates), so every run is a
mixed-currency run: the column totals convert each deal at today's rates. The figures say how
many of the open deals manager1 sees are in another currency (``foreign_open``).

Prints the figures per size; the last line is one JSON object:
{"board_ms_1k": .., "board_ms_100k": .., "ratio_100k_1k": .., "queries_100k": ..,
 "foreign_open_100k": .., "currencies_100k": ..}
Targets: ratio <= 1.5, queries <= 15, board_ms_100k <= 80.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import deal_count, demo_database, given_database  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DB_NAME = "opportune_board_bench"


def measure(requests: int) -> dict:
    """Runs in a child process whose DATABASE_URL points at the seeded database."""
    import django

    django.setup()
    from django.db import connection, connections
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from accounts.models import User
    from pipeline.currency import reporting_currency
    from pipeline.models import Opportunity

    manager = User.objects.get(username="manager1")
    client = Client()
    client.force_login(manager)
    url = "/pipeline/board/"
    for _ in range(5):
        response = client.get(url)
        assert response.status_code == 200, response.status_code
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    queries = len(ctx.captured_queries)
    timings = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    cards = response.content.count(b'<li class="card')
    visible_open = Opportunity.objects.visible_to(manager).open()
    result = {
        "deals": Opportunity.objects.count(),
        "visible_open": visible_open.count(),
        "foreign_open": visible_open.exclude(currency=reporting_currency()).count(),
        "currencies": visible_open.values("currency").distinct().count(),
        "median_ms": round(statistics.median(timings), 2),
        "p90_ms": round(statistics.quantiles(timings, n=10)[-1], 2),
        "min_ms": round(min(timings), 2),
        "queries": queries,
        "cards": cards,
        "bytes": len(response.content),
    }
    connections.close_all()
    return result


def measure_in_child(script: str, database_url: str, requests: int) -> dict:
    """Run ``script --measure-only`` in a child process whose Django uses ``database_url``;
    return the JSON object it prints last (its figures)."""
    env = {**os.environ, "DATABASE_URL": database_url, "OPPORTUNE_DEV": "1", "DEBUG": "0"}
    out = subprocess.run(
        [sys.executable, script, "--measure-only", "--requests", str(requests)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--sizes", default="1000,100000")
    parser.add_argument(
        "--pg", default=os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
    )
    parser.add_argument("--measure-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))

    if args.measure_only:
        print(json.dumps(measure(max(30, args.requests))))
        return

    sizes = [int(s) for s in args.sizes.split(",")]
    if given_database():
        sizes = sizes[-1:]  # one database: measured as it is (seeded with the last size if empty)
    results = {}
    for size in sizes:
        url = demo_database(DB_NAME, size, server=args.pg)
        size = deal_count(url)
        print(f"board with {size:,} deals:", flush=True)
        figures = measure_in_child(__file__, url, args.requests)
        results[size] = figures
        print(
            f"  median {figures['median_ms']} ms (p90 {figures['p90_ms']}, min "
            f"{figures['min_ms']}) over {max(30, args.requests)} requests; "
            f"{figures['queries']} queries; {figures['cards']} cards, "
            f"{figures['visible_open']:,} open deals visible to manager1 "
            f"({figures['foreign_open']:,} in another currency, {figures['currencies']} "
            "currencies), "
            f"{figures['bytes']:,} bytes",
            flush=True,
        )

    small, big = results.get(1000), results.get(100000)
    summary = {
        "board_ms_1k": small["median_ms"] if small else None,
        "board_ms_100k": big["median_ms"] if big else None,
        "ratio_100k_1k": round(big["median_ms"] / small["median_ms"], 2) if small and big else None,
        "queries_100k": big["queries"] if big else None,
        "foreign_open_100k": big["foreign_open"] if big else None,
        "currencies_100k": big["currencies"] if big else None,
    }
    if given_database():  # one database of the operator's, whatever its size
        ((count, figures),) = results.items()
        summary.update(
            deals=count,
            board_ms=figures["median_ms"],
            queries=figures["queries"],
            foreign_open=figures["foreign_open"],
        )
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
