"""The laptop setup, checked: what ``make run`` gives a newcomer, on SQLite and without Redis.

`make laptop-check` (and CI, beside the PostgreSQL suite) runs this. In a temporary folder it
creates an SQLite database, runs the migrations and ``seed_demo`` exactly as ``make run``
does (the demo and its back-filled snapshot history), then signs in as an admin, a manager
and a rep through Django's test client and opens every main page (``scripts/main_pages.py``)
and the pages they link to (a few of each kind: a deal, a company, a report's drill-down,
the pipeline as of a date …). It fails when the seed fails, on any answer of 500 or above
and on a main page that does not answer 200; it prints how many pages each user opened.

The suite runs on PostgreSQL; this is the one place that proves the SQLite path, which the
database-specific code (lateral joins, ``DISTINCT ON``, ``COPY``, arrays) has a form of its
own for.

Usage:  .venv/bin/python scripts/laptop_check.py [--per-kind 3] [--limit 400]
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urljoin, urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SKIP = ("/accounts/logout", "/static/", "/admin/", "format=", "/export", ".csv", "/api/")


def _prepare(db_path: Path) -> dict[str, str]:
    """The environment ``make run`` has on a laptop, with the database at ``db_path``."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        OPPORTUNE_DEV="1",
        DEBUG="1",
        DATABASE_URL=f"sqlite:///{db_path}",
        DJANGO_SETTINGS_MODULE="config.settings",
    )
    for command in (["migrate", "-v", "0"], ["seed_demo", "--if-empty"]):
        print("  manage.py", " ".join(command), flush=True)
        subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), *command], env=env, cwd=ROOT, check=True
        )
    return env


def _links(html: str, here: str) -> list[str]:
    out = []
    for href in re.findall(r'href="([^"#]+)"', html):
        url = urlparse(urljoin("http://testserver" + here, href.replace("&amp;", "&")))
        if url.netloc != "testserver":
            continue
        path = url.path + (f"?{url.query}" if url.query else "")
        if not any(s in path for s in SKIP):
            out.append(path)
    return out


def crawl(username: str, start: list[str], *, per_kind: int, limit: int) -> tuple[int, list]:
    """(pages opened, [(status, path)] of failures) for one user."""
    from django.test import Client

    from accounts.models import User

    client = Client(raise_request_exception=False)
    client.force_login(User.objects.get(username=username))
    seen: set[str] = set()
    kinds: collections.Counter = collections.Counter()
    queue = collections.deque(start)
    failures = []
    must_open = set(start)
    while queue and len(seen) < limit:
        path = queue.popleft()
        if path in seen:
            continue
        seen.add(path)
        response = client.get(path, follow=True)
        status = response.status_code
        if status >= 500 or (path in must_open and status != 200):
            failures.append((status, path))
            continue
        if "text/html" not in response.get("Content-Type", ""):
            continue
        for link in _links(response.content.decode(), path):
            kind = re.sub(r"\d+", "N", urlparse(link).path)
            if link in seen or kinds[kind] >= per_kind:
                continue
            kinds[kind] += 1
            queue.append(link)
    return len(seen), failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-kind", type=int, default=3, help="links followed per URL shape")
    parser.add_argument("--limit", type=int, default=400, help="pages opened per user at most")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="opportune-laptop-") as tmp:
        env = _prepare(Path(tmp) / "db.sqlite3")
        os.environ.clear()
        os.environ.update(env)
        import django

        django.setup()
        from django.conf import settings

        assert settings.DATABASES["default"]["ENGINE"].endswith("sqlite3")
        from scripts.main_pages import ADMIN_ONLY_PAGES, FORECAST_PAGES, WORK_PAGES

        plans = {
            "admin": WORK_PAGES + FORECAST_PAGES + ADMIN_ONLY_PAGES,
            "manager1": WORK_PAGES + FORECAST_PAGES,
            "rep1": WORK_PAGES + FORECAST_PAGES,
        }
        failed = []
        for username, start in plans.items():
            opened, failures = crawl(username, start, per_kind=args.per_kind, limit=args.limit)
            print(f"  {username}: {opened} pages opened, {len(failures)} failed", flush=True)
            failed += [(username, status, path) for status, path in failures]
        for username, status, path in failed:
            print(f"FAILED {username} {status} {path}")
        if failed:
            return 1
        print("Laptop setup (SQLite, no Redis): every page opened.")
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
