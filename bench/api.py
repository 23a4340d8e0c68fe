"""REST API benchmark: the opportunity list (a page of 100) and one opportunity, as a
manager's personal token.

1. Server time and queries, in-process through Django's full stack (middleware, token
   authentication, throttle, serializer), median of ``--repeat`` requests after a warm-up,
   on the 100,000-deal database (``DATABASE_URL``, e.g. a copy of ``tpl_100k`` migrated with
   this branch) and on a 1,000-deal one the script seeds (``opportune_api_bench_1k``): the
   query counts must be the same.
2. Requests per second for one record under ``wrk`` at 32 connections (``--connections``)
   on gunicorn with production settings and 2 sync workers (``config/gunicorn.conf.py``), as
   ``bench/load.py`` starts it. The token's throttle rate is set far above the load (the
   default rates are ``OPPORTUNE_API_TOKEN_RATE`` = 1200/min per token and
   ``OPPORTUNE_API_USER_RATE`` = 600/min per signed-in user, documented in README).

Usage:  DATABASE_URL=postgres://…/opportune_x_100k .venv/bin/python bench/api.py
        [--repeat 30] [--duration 20] [--connections 32] [--user manager1]
Needs ``wrk`` (Debian: apt-get install wrk) for step 2.
Last line: {"list_ms_100k", "detail_ms_100k", "queries_1k", "queries_100k", "detail_rps", ...}
Targets: list <= 50 ms, queries_1k == queries_100k, detail_rps >= 200.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PG, deal_count, fresh_database, given_database, seed_demo  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SMALL = "opportune_api_bench_1k"


def measure_child(args) -> None:
    """Runs in its own process on one database: server time and queries of both requests."""
    os.environ["DATABASE_URL"] = args.measure
    os.environ.setdefault("OPPORTUNE_DEV", "1")
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from accounts.models import User
    from api import tokens
    from pipeline.models import Opportunity

    user = User.objects.get(username=args.user)
    token, raw = tokens.create_token(user=user, by=user, name="bench", scope="read")
    token.throttle_rate = "1000000/min"
    token.save(update_fields=["throttle_rate"])
    deal = Opportunity.objects.visible_to(user).order_by("-id").first()
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    paths = {
        "list": "/api/v1/opportunities/?page_size=100",
        "detail": f"/api/v1/opportunities/{deal.pk}/",
    }
    out = {}
    try:
        for name, path in paths.items():
            for _ in range(3):
                assert client.get(path).status_code == 200
            times = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                response = client.get(path)
                times.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, response.content[:300]
            # last_used_at is written at most once a minute: count a request without it.
            with CaptureQueriesContext(connection) as queries:
                client.get(path)
            out[f"{name}_ms"] = round(statistics.median(times), 2)
            out[f"{name}_queries"] = len(queries)
            if name == "list":
                out["list_rows"] = len(response.json()["results"])
        out["deal"] = deal.pk
        out["deals"] = Opportunity.objects.count()
    finally:
        token.delete()
    print(json.dumps(out))


def measure(url: str, args) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--measure",
        url,
        "--repeat",
        str(args.repeat),
        "--user",
        args.user,
    ]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    if done.returncode:
        raise SystemExit(f"measuring {url} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def load(url: str, args, deal: int) -> tuple[float, float]:
    """wrk against one record on gunicorn (production settings, 2 workers): req/s, and
    gunicorn's CPU milliseconds per request (what a request costs whatever else the machine
    runs: 2 cores allow about 2,000 / cpu_ms req/s, less what PostgreSQL and wrk use)."""
    from load import (
        _free_port,
        collect_static,
        production_env,
        server_cpu_seconds,
        start_gunicorn,
        stop,
    )

    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")
    token_cmd = [
        sys.executable, "-c",
        "import django, os; django.setup();"
        "from accounts.models import User; from api import tokens;"
        f"u = User.objects.get(username={args.user!r});"
        "t, raw = tokens.create_token(user=u, by=u, name='bench-load', scope='read');"
        "t.throttle_rate = '1000000/min'; t.save(); print(t.pk, raw)",
    ]  # fmt: skip
    env_dev = {**os.environ, "DATABASE_URL": url, "OPPORTUNE_DEV": "1",
               "DJANGO_SETTINGS_MODULE": "config.settings"}  # fmt: skip
    pk, raw = subprocess.run(
        token_cmd, cwd=ROOT, env=env_dev, check=True, capture_output=True, text=True
    ).stdout.split()
    tmp = Path(tempfile.mkdtemp(prefix="opportune-api-bench-"))
    server = None
    try:
        port = _free_port()
        env = production_env(url, tmp, port)
        env["GUNICORN_ACCESS_LOG"] = str(tmp / "access.log")
        collect_static(env)
        server = start_gunicorn(env, port, tmp / "gunicorn.log")
        target = f"http://127.0.0.1:{port}/api/v1/opportunities/{deal}/"
        header = f"Authorization: Bearer {raw}"
        subprocess.run(["wrk", "-t2", "-c8", "-d3s", "-H", header, target], check=True,
                       capture_output=True)  # warm-up  # fmt: skip
        cpu_before = server_cpu_seconds(server.pid)
        done = subprocess.run(
            ["wrk", "-t2", f"-c{args.connections}", f"-d{args.duration}s", "--latency",
             "-H", header, target],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        cpu = server_cpu_seconds(server.pid) - cpu_before
        print(done.stdout, flush=True)
        non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", done.stdout)
        if non2xx:
            raise SystemExit(f"{non2xx.group(1)} requests did not answer 200; see above")
        served = int(re.search(r"(\d+) requests in", done.stdout).group(1))
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", done.stdout).group(1))
        return rps, cpu * 1000 / max(served, 1)
    finally:
        stop(server)
        shutil.rmtree(tmp, ignore_errors=True)
        subprocess.run(
            [sys.executable, "-c", "import django; django.setup(); from api.models import "
             f"ApiToken; ApiToken.objects.filter(pk={pk}).delete()"],
            cwd=ROOT, env=env_dev, check=False,
        )  # fmt: skip


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--user", default="manager1")
    parser.add_argument("--pg", default=PG)
    args = parser.parse_args()
    if args.measure:
        return measure_child(args)
    big = given_database()
    if not big:
        raise SystemExit("Set DATABASE_URL to the 100,000-deal database (a copy of tpl_100k).")
    print(f"100k database: {big} ({deal_count(big):,} deals)", flush=True)
    small = f"{args.pg}/{SMALL}"
    try:
        reuse = deal_count(small) == 1000
    except Exception:  # no such database yet
        reuse = False
    if not reuse:
        fresh_database(SMALL, args.pg)
        seed_demo(small, 1000)
    else:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--no-input", "-v0"], cwd=ROOT,
            env={**os.environ, "DATABASE_URL": small, "OPPORTUNE_DEV": "1"}, check=True,
        )  # fmt: skip
    at_1k = measure(small, args)
    at_100k = measure(big, args)
    print(f"1k:   {at_1k}\n100k: {at_100k}", flush=True)
    load_before = os.getloadavg()[0]
    rps, cpu_ms = load(big, args, at_100k["deal"])
    result = {
        "list_ms_100k": at_100k["list_ms"],
        "detail_ms_100k": at_100k["detail_ms"],
        "list_ms_1k": at_1k["list_ms"],
        "queries_1k": {"list": at_1k["list_queries"], "detail": at_1k["detail_queries"]},
        "queries_100k": {"list": at_100k["list_queries"], "detail": at_100k["detail_queries"]},
        "list_rows": at_100k["list_rows"],
        "detail_rps": round(rps, 1),
        "cpu_ms_detail": round(cpu_ms, 2),
        "connections": args.connections,
        "load_avg_1m": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
