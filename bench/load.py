"""Load test: gunicorn with production settings under a real load generator (locust).

It starts gunicorn as the image does (``config/gunicorn.conf.py``: 2 sync workers) on
127.0.0.1 with production settings (``DEBUG`` off, no ``OPPORTUNE_DEV``, a random
``SECRET_KEY``, whitenoise's manifest storage after ``collectstatic`` into a temporary
``STATIC_ROOT``; the switches that assume HTTPS are turned off for this plain-HTTP loopback
run) on a database of 100,000 deals: ``DATABASE_URL`` when set (seeded only when it holds no
deals, never dropped), else ``opportune_load_bench`` on ``--pg``, created and seeded anew
(``seed_demo --no-snapshots``: the dashboard then has no snapshot history to read). It logs
in through the login form as ``manager1`` and as ``rep1``; then, for each connection count
and each page (the board, a deal page, the deal list, the forecast dashboard and the
pipeline report), locust's headless runner keeps that many simulated users (half of them
each login, no think time) requesting the page for ``--duration`` seconds. Deal pages are
the deals on each user's own board. Only 127.0.0.1 is contacted; every phase is bounded in
time, and gunicorn and the temporary files are removed at the end, also on Ctrl-C.

A request fails when it does not answer ``200`` (a redirect to the login page included) or
does not answer at all; a timeout is a request without an answer within ``--timeout``
seconds, or one that gunicorn's arbiter killed (``WORKER TIMEOUT``). ``REDIS_URL`` is passed
on to gunicorn (the cache the board uses); the load average is sampled while it runs (the
machine's other work slows every figure down).

Usage:  .venv/bin/pip install ".[bench]"    # locust
        .venv/bin/python bench/load.py [--duration 60] [--users 32,64]
        [--pages board,deal,deal_list,dashboard,report] [--deals 100000]
        [--timeout 30] [--pg postgres://postgres@127.0.0.1:5432]

Prints req/s, p50/p99 and errors per page and connection count; the last line is one JSON
object, figures at the first connection count (32): ``board_rps``, ``errors`` (failed
requests on every page, timeouts included), ``timeouts``, ``p99_ms_board``, ``p99_ms_deal``,
``p99_ms_max`` (the worst page), ``rps``/``p50_ms``/``p99_ms`` per page, the same at the other
counts under ``at_64`` ..., ``cpu_ms_<page>`` (gunicorn's CPU time per request: what the
page costs the server whatever else the machine runs; 2 cores allow about 2,000 / cpu_ms
req/s, less what PostgreSQL and the load generator use) and ``load_avg_1m`` (mean and max
while it ran).
Targets at 32 connections: 0 errors and 0 timeouts; board >= 150 req/s; p99 <= 500 ms for
the board and the deal page, <= 3 s for every other page.
"""

from __future__ import annotations

import argparse
import contextlib
import http.cookiejar
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import deal_count, demo_database  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DB_NAME = "opportune_load_bench"
PAGES = {
    "board": "/pipeline/board/",
    "deal": None,  # the deals on the user's own board
    "deal_list": "/pipeline/opportunities/",
    "dashboard": "/forecasting/",
    "report": "/forecasting/reports/pipeline/",
}
LOGINS = ("manager1", "rep1")
TARGET_P99_MS = {"board": 500, "deal": 500}
OTHER_P99_MS = 3000
# Production defaults that assume HTTPS, off for a plain-HTTP run on the loopback.
PLAIN_HTTP = {
    "SECURE_SSL_REDIRECT": "0",
    "SECURE_HSTS_SECONDS": "0",
    "SESSION_COOKIE_SECURE": "0",
    "CSRF_COOKIE_SECURE": "0",
}


# --- the database ----------------------------------------------------------------------------


# --- the server ------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def production_env(database_url: str, tmp: Path, port: int) -> dict:
    """Production settings (as the image runs them), with STATIC_ROOT in ``tmp``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("OPPORTUNE_DEV", "DEBUG", "STATICFILES_BACKEND", "WHITENOISE_USE_FINDERS")
    }
    env.update(PLAIN_HTTP)
    env.update(
        {
            "DATABASE_URL": database_url,
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1",
            "STATIC_ROOT": str(tmp / "static"),
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "WEB_CONCURRENCY": "2",
            "LOG_LEVEL": "WARNING",
        }
    )
    return env


def collect_static(env: dict) -> str:
    """collectstatic with the production storage; the plain storage if that one fails."""
    cmd = [sys.executable, "manage.py", "collectstatic", "--no-input", "-v0"]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode == 0:
        return "whitenoise.storage.CompressedManifestStaticFilesStorage"
    last = (done.stderr.strip().splitlines() or ["?"])[-1]
    print(f"  collectstatic failed with the manifest storage ({last}); using plain files")
    env["STATICFILES_BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"
    subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True)
    return env["STATICFILES_BACKEND"]


def start_gunicorn(env: dict, port: int, log: Path) -> subprocess.Popen:
    """gunicorn through the image's config (config/gunicorn.conf.py: 2 sync workers, its
    timeout and worker recycling), its access and error logs into ``log``."""
    cmd = [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py", "config.wsgi"]
    out = log.open("ab")
    server = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )
    out.close()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with {server.returncode}; see {log}")
        try:
            url = f"http://127.0.0.1:{port}/accounts/login/"
            # Plain HTTP to the loopback address only, never a user-given URL.
            with urllib.request.urlopen(url, timeout=5):  # nosec B310
                return server
        except (urllib.error.URLError, OSError):
            time.sleep(0.5)
    stop(server)
    raise SystemExit("gunicorn did not answer within 60 s")


def server_cpu_seconds(master: int) -> float:
    """CPU time used so far by gunicorn: its master, its live workers and the workers it has
    reaped (recycled ones included), from /proc. A figure that the machine's other work
    hardly changes, unlike req/s: divided by the requests served, CPU per request."""

    def times(pid) -> list[int]:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return [int(x) for x in fields[11:15]]  # utime, stime, cutime, cstime

    try:
        total = sum(times(master))
        for child in Path(f"/proc/{master}/task/{master}/children").read_text().split():
            with contextlib.suppress(FileNotFoundError):  # recycled meanwhile: counted once reaped
                total += sum(times(child)[:2])
    except OSError:  # no /proc (not Linux)
        return float("nan")
    return total / os.sysconf("SC_CLK_TCK")


def stop(server: subprocess.Popen | None) -> None:
    if server is None or server.poll() is not None:
        return
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=5)


# --- logging in ------------------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def login(base: str, username: str, password: str) -> dict:
    """Log in through the login form; return the session's cookie header and deal pages."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _NoRedirect)
    # ``base`` is always http://127.0.0.1:<port> of the gunicorn this script started.
    with opener.open(f"{base}/accounts/login/", timeout=30) as r:  # nosec B310
        page = r.read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    data = urllib.parse.urlencode(
        {"username": username, "password": password, "csrfmiddlewaretoken": token}
    ).encode()
    request = urllib.request.Request(
        f"{base}/accounts/login/", data=data, headers={"Referer": f"{base}/accounts/login/"}
    )
    try:
        opener.open(request, timeout=30)
        raise SystemExit(f"logging in as {username} did not redirect: wrong password?")
    except urllib.error.HTTPError as e:
        if e.code != 302:
            raise SystemExit(f"logging in as {username} answered {e.code}") from None
    cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
    if "sessionid=" not in cookie:
        raise SystemExit(f"no session cookie for {username} (a Secure cookie over plain HTTP?)")
    board = fetch(base, PAGES["board"], cookie)
    deals = sorted(set(re.findall(r'href="(/pipeline/opportunities/\d+/)"', board)))
    if not deals:
        raise SystemExit(f"{username}'s board shows no deal")
    return {"user": username, "cookie": cookie, "deals": deals[:200]}


def fetch(base: str, path: str, cookie: str) -> str:
    opener = urllib.request.build_opener(_NoRedirect)
    request = urllib.request.Request(base + path, headers={"Cookie": cookie})
    try:
        with opener.open(request, timeout=60) as r:
            return r.read().decode()
    except urllib.error.HTTPError as e:
        raise SystemExit(f"GET {path} answered {e.code} before the load started") from None


# --- the load --------------------------------------------------------------------------------


class LoadSampler(threading.Thread):
    def __init__(self):
        super().__init__(daemon=True)
        self.samples: list[float] = []
        self.done = threading.Event()

    def run(self):
        while not self.done.wait(2):
            self.samples.append(os.getloadavg()[0])

    def figures(self) -> dict:
        s = self.samples or [os.getloadavg()[0]]
        return {"mean": round(sum(s) / len(s), 2), "max": round(max(s), 2)}


def run_phase(args, base: str, page: str, users: int, sessions: list[dict]) -> dict:
    """One page at one connection count, in a child process running locust."""
    cmd = [
        sys.executable,
        __file__,
        "--locust-child",
        "--host",
        base,
        "--page",
        page,
        "--child-users",
        str(users),
        "--duration",
        str(args.duration),
        "--timeout",
        str(args.timeout),
    ]
    env = {**os.environ, "LOAD_SESSIONS": json.dumps(sessions)}
    done = subprocess.run(
        cmd,
        env=env,
        capture_output=True,
        text=True,
        timeout=args.duration + args.timeout + 60,
    )
    if done.returncode != 0:
        raise SystemExit(f"the load generator failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def locust_child(args) -> None:
    """Runs in its own process: locust's gevent monkey-patching stays out of the driver."""
    import itertools
    import random

    import gevent
    from locust import FastHttpUser, constant, task
    from locust.env import Environment

    sessions = json.loads(os.environ["LOAD_SESSIONS"])
    page = args.page
    order = itertools.count()
    timeouts = [0]
    served = [0]  # every request of the phase, the first second's included (CPU per request)

    class Visitor(FastHttpUser):
        host = args.host
        wait_time = constant(0)
        network_timeout = float(args.timeout)
        connection_timeout = float(args.timeout)

        def on_start(self):
            s = sessions[next(order) % len(sessions)]
            self.headers = {"Cookie": s["cookie"]}
            self.paths = s["deals"] if page == "deal" else [PAGES[page]]

        @task
        def visit(self):
            # Which of the user's pages to ask for next: nothing secret hangs on it.
            path = random.choice(self.paths)  # nosec B311
            served[0] += 1
            with self.client.get(
                path, name=page, headers=self.headers, allow_redirects=False, catch_response=True
            ) as r:
                if r.status_code == 200:
                    r.success()
                    return
                error = str(r.error or "")
                if r.status_code == 0 and ("timed out" in error or "timeout" in error.lower()):
                    timeouts[0] += 1
                    r.failure(f"timeout: {error}")
                else:
                    r.failure(f"HTTP {r.status_code} {error}".strip())

    env = Environment(user_classes=[Visitor])
    runner = env.create_local_runner()
    runner.start(args.child_users, spawn_rate=args.child_users)
    gevent.sleep(1)  # every user started
    env.stats.reset_all()
    timeouts[0] = 0
    started = time.monotonic()
    gevent.sleep(args.duration)
    elapsed = time.monotonic() - started
    entry = env.stats.get(page, "GET")
    figures = {
        "requests": entry.num_requests,
        "errors": entry.num_failures,
        "timeouts": timeouts[0],
        "rps": round(entry.num_requests / elapsed, 1),
        "p50_ms": entry.get_response_time_percentile(0.5) or 0,
        "p99_ms": entry.get_response_time_percentile(0.99) or 0,
        "max_ms": round(entry.max_response_time or 0),
        "failures": sorted({str(e.error) for e in env.stats.errors.values()})[:5],
    }
    runner.quit()
    figures["served"] = served[0]
    print(json.dumps(figures))


def summarise(results: dict, counts: list[int], worker_timeouts: int, load: dict) -> dict:
    def at(n: int) -> dict:
        pages = results[n]
        out = {
            "errors": sum(p["errors"] for p in pages.values()),
            "timeouts": sum(p["timeouts"] for p in pages.values()),
            "p99_ms_max": max(p["p99_ms"] for p in pages.values()),
        }
        for name, p in pages.items():
            out[f"cpu_ms_{name}"] = p["cpu_ms"]
            out[f"rps_{name}"] = p["rps"]
            out[f"p50_ms_{name}"] = p["p50_ms"]
            out[f"p99_ms_{name}"] = p["p99_ms"]
        return out

    first = at(counts[0])
    summary = {
        "connections": counts[0],
        "board_rps": first.get("rps_board"),
        "errors": first["errors"],
        "timeouts": first["timeouts"] + worker_timeouts,
        "p99_ms_board": first.get("p99_ms_board"),
        "p99_ms_deal": first.get("p99_ms_deal"),
        "p99_ms_max": first["p99_ms_max"],
        **{k: v for k, v in first.items() if k not in ("errors", "timeouts", "p99_ms_max")},
    }
    for n in counts[1:]:
        summary[f"at_{n}"] = at(n)
    summary["gunicorn_worker_timeouts"] = worker_timeouts
    summary["load_avg_1m"] = load
    summary["cpus"] = os.cpu_count()
    return summary


def verdict(summary: dict) -> list[str]:
    misses = []
    if summary["errors"] or summary["timeouts"]:
        misses.append(f"{summary['errors']} errors, {summary['timeouts']} timeouts (target 0)")
    if summary["board_rps"] is not None and summary["board_rps"] < 150:
        misses.append(f"board {summary['board_rps']} req/s (target >= 150)")
    for key, value in summary.items():
        if key.startswith("p99_ms_") and key != "p99_ms_max" and value is not None:
            page = key.removeprefix("p99_ms_")
            limit = TARGET_P99_MS.get(page, OTHER_P99_MS)
            if value > limit:
                misses.append(f"{page} p99 {value} ms (target <= {limit} ms)")
    return misses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=60, help="seconds per page and count")
    parser.add_argument("--users", default="32,64", help="connection counts, the first reported")
    parser.add_argument("--pages", default=",".join(PAGES))
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--timeout", type=int, default=30, help="seconds before a timeout")
    parser.add_argument(
        "--pg", default=os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
    )
    parser.add_argument("--locust-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--host", help=argparse.SUPPRESS)
    parser.add_argument("--page", help=argparse.SUPPRESS)
    parser.add_argument("--child-users", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.locust_child:
        locust_child(args)
        return
    try:
        import locust  # noqa: F401  (only checked here: imported by the child)
    except ImportError:
        raise SystemExit('locust is not installed: .venv/bin/pip install ".[bench]"') from None
    pages = [p.strip() for p in args.pages.split(",") if p.strip()]
    unknown = set(pages) - set(PAGES)
    if unknown:
        raise SystemExit(f"unknown pages {sorted(unknown)}; choose from {', '.join(PAGES)}")
    counts = [int(n) for n in args.users.split(",")]

    database_url = demo_database(DB_NAME, args.deals, server=args.pg)
    pending = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--check", "--no-input", "-v0"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url, "OPPORTUNE_DEV": "1"},
        capture_output=True,
    )
    if pending.returncode != 0:  # the pages would answer 500: say so instead of measuring it
        raise SystemExit(f"{database_url} has unapplied migrations: run manage.py migrate first")
    deals = deal_count(database_url)
    print(f"  {deals:,} deals", flush=True)
    print(f"cache: {os.environ.get('REDIS_URL') or 'none (REDIS_URL unset)'}", flush=True)

    tmp = Path(tempfile.mkdtemp(prefix="opportune-load-"))
    server = None
    sampler = LoadSampler()
    try:
        port = _free_port()
        env = production_env(database_url, tmp, port)
        storage = collect_static(env)
        log = tmp / "gunicorn.log"
        server = start_gunicorn(env, port, log)
        base = f"http://127.0.0.1:{port}"
        print(f"gunicorn: 2 sync workers on {base}, DEBUG off, static storage {storage}")
        demo = (ROOT / "pipeline" / "demo.py").read_text()
        password = re.search(r'^DEMO_PASSWORD = "([^"]+)"', demo, re.M).group(1)
        sessions = [login(base, name, password) for name in LOGINS]
        for s in sessions:  # warm up every page once per login (templates, caches)
            for page in pages:
                path = s["deals"][0] if page == "deal" else PAGES[page]
                fetch(base, path, s["cookie"])
        public = [{"cookie": s["cookie"], "deals": s["deals"]} for s in sessions]
        sampler.start()
        results: dict[int, dict] = {}
        for n in counts:
            results[n] = {}
            for page in pages:
                cpu = server_cpu_seconds(server.pid)
                r = run_phase(args, base, page, n, public)
                used = server_cpu_seconds(server.pid) - cpu
                r["cpu_ms"] = round(used * 1000 / max(1, r.pop("served")), 1)
                results[n][page] = r
                print(
                    f"  {n:>3} connections  {page:<10} {r['rps']:>7.1f} req/s  "
                    f"p50 {r['p50_ms']:>6} ms  p99 {r['p99_ms']:>6} ms  "
                    f"errors {r['errors']} (timeouts {r['timeouts']}) of {r['requests']:,}  "
                    f"gunicorn CPU {r['cpu_ms']} ms a request"
                    + (f"  {r['failures']}" if r["failures"] else ""),
                    flush=True,
                )
        sampler.done.set()
        worker_timeouts = log.read_text().count("WORKER TIMEOUT") if log.exists() else 0
    finally:
        sampler.done.set()
        stop(server)
        shutil.rmtree(tmp, ignore_errors=True)
    load = sampler.figures()
    print(f"load average (1 min) while it ran: mean {load['mean']}, max {load['max']}")
    summary = summarise(results, counts, worker_timeouts, load)
    summary["deals"] = deals
    for miss in verdict(summary):
        print(f"  target missed: {miss}")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
