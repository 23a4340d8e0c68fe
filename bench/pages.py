"""Benchmark: every main page at 10,000 and 100,000 deals, as a manager and as an admin.

For each size it measures one database: ``--db-10k`` / ``--db-100k`` (URLs of prepared demo
databases, e.g. copies of the 100,000-deal template, measured as they are), else
``opportune_pages_10k`` / ``opportune_pages_100k`` on the local server (``BENCH_PG``), seeded
with ``seed_demo --seed 1 --no-snapshots`` unless they already hold that many deals. In a child
process per size, through Django's test client (``force_login``) as ``manager1`` (one team)
and ``admin`` (every deal), each page gets two warm-up requests and ``--requests`` timed ones;
server time is the time to produce the response (URL resolution, middleware, queries, template
rendering). The caches are off (the board's and that of computed figures: every request
builds its page), so the figures are the work a page costs, not a cache hit.

The sizes take turns, ``--rounds`` times (10k, 100k, 10k, 100k …), and a page's median is over
the timed requests of every round: a shared machine's speed drifts by a third or more over a
few minutes, and measuring all of one size before the other would put that drift into the
100k/10k ratios.

Pages: home, board, deal list, a deal's page, leads, companies, contacts, tasks, the forecast
dashboard, what changed, accuracy, and each report. "List pages" (whose cost must not grow
with the table) are the board, the deal, lead, company and contact lists and the tasks.

Prints one line per page, size and viewer (median ms, queries) and the machine's load
average (``uptime``) before and after; the last line is one JSON object with
``worst_ms_100k_manager``, ``worst_ms_100k_admin``, ``worst_list_ratio`` (the largest
100k/10k ratio of a list page's median, over both viewers), the page that set each, every
median (``<page>_<size>_<viewer>_ms``) and the load averages.
Targets: every page <= 150 ms at 100k as a manager and <= 300 ms as an admin; list pages'
100k/10k <= 1.5.

Usage:  .venv/bin/python bench/pages.py [--requests 8] [--rounds 2] [--db-10k URL] [--db-100k URL]
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
from _common import PG, deal_count, fresh_database, seed_demo, shown  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SIZES = {"10k": 10_000, "100k": 100_000}
LISTS = ("board", "deals", "leads", "companies", "contacts", "tasks")

# (key, URL name, what the URL needs)
PAGES = [
    ("home", "home", ""),
    ("board", "pipeline:board", ""),
    ("deals", "pipeline:opportunity_list", ""),
    ("deal", "pipeline:opportunity_detail", "deal"),
    ("leads", "pipeline:lead_list", ""),
    ("companies", "pipeline:company_list", ""),
    ("contacts", "pipeline:contact_list", ""),
    ("tasks", "pipeline:tasks", ""),
    ("dashboard", "forecasting:dashboard", ""),
    ("changes", "forecasting:changes", ""),
    ("accuracy", "forecasting:accuracy", ""),
    ("funnel", "forecasting:report_funnel", ""),
    ("stages", "forecasting:report_stages", ""),
    ("win_rate", "forecasting:report_win_rate", ""),
    ("pipeline", "forecasting:report_pipeline", ""),
    ("rotting", "forecasting:report_rotting", ""),
    ("scorecards", "forecasting:report_scorecards", ""),
    ("scorecard", "forecasting:report_scorecard", "rep"),
    ("priorities", "forecasting:report_priorities", "owner"),
    ("drilldown", "forecasting:report_deals", "won"),
]


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def measure(requests: int) -> dict:
    """In the child: every page as manager1 and as admin; returns
    {viewer: {page: ([ms of each timed request], queries)}}."""
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from accounts.models import User
    from pipeline.models import Opportunity

    settings.ALLOWED_HOSTS = ["testserver"]
    out = {}
    for viewer, username in (("manager", "manager1"), ("admin", "admin")):
        user = User.objects.get(username=username)
        team = User.objects.get(username="manager1").team
        rep = User.objects.filter(role="rep", team=team).order_by("username").first()
        deal = Opportunity.objects.visible_to(user).filter(owner=rep).order_by("id").values("id")[0]
        client = Client()
        client.force_login(user)
        figures = {}
        for key, name, needs in PAGES:
            args = {"deal": [deal["id"]], "rep": [rep.pk]}.get(needs, [])
            params = {"owner": {"owner": rep.pk}, "won": {"kind": "won"}}.get(needs, {})
            url = reverse(name, args=args)
            for _ in range(2):
                response = client.get(url, params)
                assert response.status_code == 200, (url, response.status_code)
            times = []
            for _ in range(requests):
                started = time.perf_counter()
                response = client.get(url, params)
                times.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, (url, response.status_code)
            with CaptureQueriesContext(connection) as ctx:
                client.get(url, params)
            figures[key] = (times, len(ctx))
        out[viewer] = figures
    return out


def database(size: str, given: str | None) -> str:
    if given:
        print(f"{size}: {shown(given)} (given, measured as it is)", flush=True)
        return given
    url = f"{PG}/opportune_pages_{size}"
    try:
        if deal_count(url) == SIZES[size]:
            print(f"{size}: {shown(url)} (reused)", flush=True)
            return url
    except Exception:  # no such database yet
        pass
    fresh_database(f"opportune_pages_{size}")
    seed_demo(url, SIZES[size])
    print(f"{size}: {shown(url)} (seeded)", flush=True)
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=8, help="timed requests per round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--db-10k")
    parser.add_argument("--db-100k")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        sys.path.insert(0, str(ROOT))
        print(json.dumps(measure(args.requests)))
        return

    load_before = uptime()
    print(f"uptime before: {load_before}", flush=True)
    urls = {
        size: database(size, given)
        for size, given in (("10k", args.db_10k), ("100k", args.db_100k))
    }
    times: dict = {size: {} for size in SIZES}  # size -> viewer -> page -> [ms]
    queries: dict = {size: {} for size in SIZES}
    for turn in range(args.rounds):
        for size, url in urls.items():
            env = {
                **{k: v for k, v in os.environ.items() if k != "REDIS_URL"},
                "DATABASE_URL": url,
                "OPPORTUNE_DEV": "1",
                "DEBUG": "0",
                "OPPORTUNE_BOARD_CACHE_SECONDS": "0",
                "OPPORTUNE_READ_CACHE_SECONDS": "0",
                "DJANGO_SETTINGS_MODULE": "config.settings",
            }
            child = subprocess.run(
                [sys.executable, __file__, "--child", "--requests", str(args.requests)],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
            )
            if child.returncode:
                sys.exit(child.stderr)
            found = json.loads(child.stdout.strip().splitlines()[-1])
            for viewer, figures in found.items():
                for key, (ms, count) in figures.items():
                    times[size].setdefault(viewer, {}).setdefault(key, []).extend(ms)
                    queries[size].setdefault(viewer, {})[key] = count
            print(f"round {turn + 1}/{args.rounds}: {size} measured", flush=True)
    results = {
        size: {
            viewer: {
                key: (round(statistics.median(ms), 1), queries[size][viewer][key])
                for key, ms in figures.items()
            }
            for viewer, figures in by_viewer.items()
        }
        for size, by_viewer in times.items()
    }
    for size, by_viewer in results.items():
        for viewer, figures in by_viewer.items():
            for key, (ms, count) in figures.items():
                print(f"{size:>4} {viewer:<8} {key:<11} median {ms:8.1f} ms  queries {count}")
    load_after = uptime()
    print(f"uptime after: {load_after}")

    out: dict = {}
    for viewer in ("manager", "admin"):
        big = results["100k"][viewer]
        worst = max(big, key=lambda k: big[k][0])
        out[f"worst_ms_100k_{viewer}"] = big[worst][0]
        out[f"worst_page_100k_{viewer}"] = worst
    ratios = {
        f"{key}_{viewer}": results["100k"][viewer][key][0] / results["10k"][viewer][key][0]
        for viewer in ("manager", "admin")
        for key in LISTS
    }
    worst = max(ratios, key=ratios.get)
    out["worst_list_ratio"] = round(ratios[worst], 2)
    out["worst_list_ratio_page"] = worst
    for size, by_viewer in results.items():
        for viewer, figures in by_viewer.items():
            for key, (ms, queries) in figures.items():
                out[f"{key}_{size}_{viewer}_ms"] = ms
                out[f"{key}_{size}_{viewer}_queries"] = queries
    out["uptime_before"] = load_before
    out["uptime_after"] = load_after
    out["rounds"], out["requests_per_round"] = args.rounds, args.requests
    print(json.dumps(out))


if __name__ == "__main__":
    main()
