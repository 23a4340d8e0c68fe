"""Benchmark of the sales report pages' server time on PostgreSQL with 100,000 deals.

Unless ``--reuse`` is given and the database already holds the demo, it drops and recreates the
PostgreSQL database ``opportune_reports_bench``, migrates it and loads ``manage.py seed_demo
--opportunities N --seed 1 --no-snapshots`` (the reports do not read snapshots); with
``DATABASE_URL`` set it uses that database instead, as it is (seeded only when it holds no
deals), and never drops it. Then, inside this process, it requests every report page with
Django's test client logged in (``force_login``) as ``admin`` (who sees all 100,000 deals) and
as ``manager1`` (one team): a few warm-up requests, then ``--requests`` timed ones per page,
with the default filters (the last twelve months). Server time is the time to produce the
response (URL resolution, middleware, queries, template render); the median is reported.

Usage:  .venv/bin/python bench/reports.py [--requests 20] [--opportunities 100000]
        [--pg postgres://postgres@127.0.0.1:5432] [--reuse]

Prints the figures per page and viewer; the last line is one JSON object: the manager's
medians as {"funnel_ms": .., "stages_ms": .., ...} (the manager is who asks the weekly
questions) and the admin's as {"admin_funnel_ms": .., ...}, plus the machine's load average
while it ran (other work on the machine inflates every figure). Target: every report <= 300 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import demo_database  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DB_NAME = "opportune_reports_bench"

PAGES = [
    ("funnel", "forecasting:report_funnel", {}),
    ("stages", "forecasting:report_stages", {}),
    ("win_rate", "forecasting:report_win_rate", {}),
    ("pipeline", "forecasting:report_pipeline", {}),
    ("rotting", "forecasting:report_rotting", {}),
    ("scorecards", "forecasting:report_scorecards", {}),
    ("scorecard", "forecasting:report_scorecard", {"rep": True}),
    ("priorities", "forecasting:report_priorities", {"owner": True}),
    ("drilldown", "forecasting:report_deals", {"kind": "won"}),
    ("home", "home", {}),
]


def measure(username: str, requests: int) -> dict[str, float]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from accounts.models import User

    user = User.objects.get(username=username)
    rep = User.objects.filter(role="rep", team=user.team).order_by("username").first()
    rep = rep or User.objects.filter(role="rep").order_by("username").first()
    client = Client()
    client.force_login(user)
    out = {}
    for key, name, extra in PAGES:
        url = reverse(name, args=[rep.pk]) if extra.get("rep") else reverse(name)
        params = {k: v for k, v in extra.items() if k not in ("rep", "owner")}
        if extra.get("owner"):
            params["owner"] = rep.pk
        for _ in range(2):
            assert client.get(url, params).status_code == 200
        times = []
        for _ in range(requests):
            started = time.perf_counter()
            response = client.get(url, params)
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (url, response.status_code)
        with CaptureQueriesContext(connection) as ctx:
            client.get(url, params)
        out[key] = statistics.median(times)
        print(
            f"{username:>9} {key:<11} median {out[key]:7.1f} ms  "
            f"p90 {sorted(times)[int(len(times) * 0.9) - 1]:7.1f} ms  queries {len(ctx)}"
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--opportunities", type=int, default=100_000)
    parser.add_argument(
        "--pg", default=os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
    )
    parser.add_argument("--reuse", action="store_true", help="keep an already seeded database")
    args = parser.parse_args()

    url = demo_database(DB_NAME, args.opportunities, server=args.pg, reuse=args.reuse)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("OPPORTUNE_DEV", "1")
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings

    settings.ALLOWED_HOSTS = ["testserver"]
    manager = measure("manager1", args.requests)
    admin = measure("admin", args.requests)
    load = os.getloadavg()[0]
    slowest = max(manager.values()), max(admin.values())
    print(f"slowest report: manager {slowest[0]:.1f} ms, admin {slowest[1]:.1f} ms")
    print(f"load average (1 min) at the end: {load:.2f} on {os.cpu_count()} CPUs; target <= 300 ms")
    figures = {f"{k}_ms": round(v, 1) for k, v in manager.items()}
    figures.update({f"admin_{k}_ms": round(v, 1) for k, v in admin.items()})
    figures["load_average"] = round(load, 2)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
