"""Shared helpers for the benchmarks.

Every benchmark honours ``DATABASE_URL``: when it is set, the benchmark runs on that database
(an operator's prepared one, e.g. a copy of production), seeds it only when it holds no deals,
and never drops it. When it is unset, the benchmark creates its own database on the local
server (``BENCH_PG``) as before, under a fixed name, dropped and created anew. Each says which
database it used.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")


def given_database() -> str | None:
    """The operator's ``DATABASE_URL``, when set; benchmarks need PostgreSQL."""
    url = os.environ.get("DATABASE_URL", "").strip()
    if not url:
        return None
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit(f"DATABASE_URL must be a PostgreSQL URL for the benchmarks, not {shown(url)}")
    return url


def shown(url: str) -> str:
    """``url`` with any password masked, for printing."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts)


def announce(url: str, *, given: bool) -> None:
    how = "from DATABASE_URL, kept as it is" if given else "created by this benchmark"
    print(f"database: {shown(url)} ({how})", flush=True)


def fresh_database(name: str, server: str = PG) -> str:
    """Drop and create ``name`` on the benchmark server; return its URL."""
    for sql in (f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'):
        subprocess.run(
            ["psql", f"{server}/postgres", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql], check=True
        )
    return f"{server}/{name}"


def deal_count(url: str) -> int:
    """Deals in the database at ``url``; 0 when it has none or is not migrated yet."""
    import psycopg

    with psycopg.connect(url) as conn:
        exists = conn.execute("SELECT to_regclass('pipeline_opportunity')").fetchone()[0]
        if exists is None:
            return 0
        return conn.execute("SELECT count(*) FROM pipeline_opportunity").fetchone()[0]


def seed_demo(url: str, size: int) -> None:
    """Migrate the database at ``url`` and load ``seed_demo`` with ``size`` deals (no snapshot
    back-fill), then refresh the planner's statistics."""
    import psycopg

    env = {**os.environ, "DATABASE_URL": url, "OPPORTUNE_DEV": "1", "DEBUG": "0"}
    started = time.monotonic()
    for args in (
        ["migrate", "--no-input", "-v0"],
        ["seed_demo", "--opportunities", str(size), "--seed", "1", "--no-snapshots"],
    ):
        subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True,
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    print(f"  seeded {size:,} deals in {time.monotonic() - started:.1f}s", flush=True)


def demo_database(name: str, size: int, *, server: str = PG, reuse: bool = False) -> str:
    """The database a page benchmark measures: ``DATABASE_URL`` when set (seeded with ``size``
    deals only if it has none), else ``name`` on ``server``, created and seeded anew (or kept
    when ``reuse`` and it already holds ``size`` deals). Prints which one; returns its URL."""
    given = given_database()
    if given:
        announce(given, given=True)
        count = deal_count(given)
        if count == 0:
            seed_demo(given, size)
        else:
            print(f"  it holds {count:,} deals: measuring them as they are", flush=True)
        return given
    url = f"{server}/{name}"
    if reuse:
        try:
            if deal_count(url) == size:
                announce(url, given=False)
                print(f"  reusing its {size:,} deals", flush=True)
                return url
        except Exception:  # no such database yet
            pass
    fresh_database(name, server)
    announce(url, given=False)
    seed_demo(url, size)
    return url


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("OPPORTUNE_DEV", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
