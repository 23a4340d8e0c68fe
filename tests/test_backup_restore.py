"""scripts/backup.sh and scripts/restore.sh, end to end on real PostgreSQL databases.

A fresh database gets the demo (200 deals with their history and weekly forecast snapshots)
and today's snapshot; it is backed up, restored into another new database, and the two are
compared: every table's row count, every sequence, and the snapshot sums per day. Both
databases are dropped afterwards.
"""

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
DATABASE_URL = os.environ.get("DATABASE_URL", "")
SERVER = DATABASE_URL.rsplit("/", 1)[0]

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not DATABASE_URL.startswith("postgres"),
        reason="backup and restore need PostgreSQL: set DATABASE_URL",
    ),
]


def _admin():
    return psycopg.connect(f"{SERVER}/postgres", autocommit=True)


def _drop(name: str) -> None:
    with _admin() as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture
def databases():
    """Names of a source and a target database, neither existing yet; dropped afterwards."""
    suffix = f"{os.getpid()}"
    names = (f"opportune_backup_src_{suffix}", f"opportune_backup_dst_{suffix}")
    for name in names:
        _drop(name)
    with _admin() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(names[0])))
    try:
        yield names
    finally:
        for name in names:
            _drop(name)


def _manage(url: str, *args: str) -> None:
    env = {**os.environ, "DATABASE_URL": url, "OPPORTUNE_DEV": "1", "REDIS_URL": ""}
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]


def _script(name: str, *args: str, url: str | None = None):
    env = {**os.environ}
    if url is not None:
        env["DATABASE_URL"] = url
    return subprocess.run(
        ["bash", str(ROOT / "scripts" / name), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _profile(url: str) -> dict:
    """Row count of every table, every sequence's position, and the snapshot sums per day."""
    with psycopg.connect(url) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
            )
        ]
        counts = {
            t: conn.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(t))
            ).fetchone()[0]
            for t in tables
        }
        sequences = dict(
            conn.execute(
                "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'public'"
            ).fetchall()
        )
        sums = conn.execute(
            """
            SELECT taken_on, count(*), sum(open_count), sum(open_amount), sum(weighted_amount),
                   sum(commit_amount), sum(best_case_amount), sum(won_amount), sum(won_count),
                   sum(lost_count)
            FROM forecasting_forecastsnapshot GROUP BY taken_on ORDER BY taken_on
            """
        ).fetchall()
    return {"counts": counts, "sequences": sequences, "snapshot_sums": sums}


def test_backup_and_restore_round_trip_keeps_every_row_and_snapshot_sum(databases, tmp_path):
    source, target = databases
    source_url, target_url = f"{SERVER}/{source}", f"{SERVER}/{target}"
    _manage(source_url, "migrate", "--no-input")
    _manage(source_url, "seed_demo", "--opportunities", "200")
    _manage(source_url, "snapshot_forecasts")
    before = _profile(source_url)
    assert before["counts"]["pipeline_opportunity"] >= 200
    assert len(before["snapshot_sums"]) > 1 and before["counts"]["django_migrations"] > 0

    dump = tmp_path / "nightly" / "opportune.dump"
    backup = _script("backup.sh", str(dump), url=source_url)
    assert backup.returncode == 0, backup.stderr
    assert backup.stdout.strip() == str(dump) and dump.stat().st_size > 0
    assert not list(dump.parent.glob("*.partial*"))

    restore = _script("restore.sh", str(dump), target_url)
    assert restore.returncode == 0, restore.stderr
    after = _profile(target_url)
    assert after == before
    # The restored database is what the app expects: nothing left to migrate.
    _manage(target_url, "migrate", "--check")

    # Restoring again would overwrite live data: refused, and nothing changes.
    again = _script("restore.sh", str(dump), target_url)
    assert again.returncode == 1
    assert "already has" in again.stderr and "restore into a new database" in again.stderr
    assert _profile(target_url) == before


def test_backup_refuses_without_a_postgres_url(tmp_path):
    missing = _script("backup.sh", str(tmp_path / "x.dump"), url="")
    assert missing.returncode == 2 and "set DATABASE_URL" in missing.stderr
    sqlite = _script("backup.sh", str(tmp_path / "x.dump"), url="sqlite:///db.sqlite3")
    assert sqlite.returncode == 2 and "postgres://" in sqlite.stderr
    assert not (tmp_path / "x.dump").exists()


def test_restore_refuses_a_missing_file_or_a_bad_target(tmp_path):
    no_file = _script("restore.sh", str(tmp_path / "none.dump"), f"{SERVER}/whatever")
    assert no_file.returncode == 2 and "no backup file" in no_file.stderr
    (tmp_path / "b.dump").write_bytes(b"x")
    bad = _script("restore.sh", str(tmp_path / "b.dump"), f"{SERVER}/bad;name")
    assert bad.returncode == 2 and "database name" in bad.stderr
    usage = _script("restore.sh", str(tmp_path / "b.dump"))
    assert usage.returncode == 2 and "usage" in usage.stderr
