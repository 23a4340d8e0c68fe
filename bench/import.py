"""Benchmark of the importer: a 50,000-row deals file with companies, contacts and three
history dates per row (created, engaged, closed), previewed, imported and undone.

Runs on its own PostgreSQL database (``opportune_import_bench``, dropped and created anew)
or on ``DATABASE_URL`` when set (migrated, never dropped; the import is undone at the end, so
the database is left as it was). The file is generated in memory: 2,000 companies with
websites, 20,000 contacts with emails, owners by full name, M/D/YYYY dates over the last two
years, money like ``$12,500.00``, CRLF line endings; two thirds of the deals are closed.

Measured: ``preview_s`` (reading the file and planning every row: what the preview page
shows), ``import_s`` (the confirmed import: plan and set-wise write in one transaction),
``undo_s``, and the process's peak RSS. ``*_cpu_s`` are the CPU seconds of the same steps,
this process's and its PostgreSQL backend's together (when the server is local), and
``load_avg_1m`` the machine's load at the end: on a loaded machine the wall-clock times are
mostly waiting for a core, the CPU times are not. ``--backfill`` also times the snapshot back-fill
that follows an import (``backfill_s``), on its own.

Usage:  .venv/bin/python bench/import.py [--rows 50000] [--backfill]

Targets (issue): preview ≤ 10 s, import ≤ 60 s, peak RSS ≤ 300 MB, undo ≤ 30 s.
Last line: one JSON object with ``rows``, ``preview_s``, ``import_s``, ``peak_rss_mb``,
``undo_s``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

import _common  # noqa: E402

DB_NAME = "opportune_import_bench"
STAGES = ["Prospecting", "Engaging", "Won", "Lost"]


def make_file(rows: int, owners: list[str], today: dt.date) -> bytes:
    rnd = random.Random(7)
    lines = [
        "Opportunity ID,Opportunity,Sales agent,Deal stage,Account,Website,Contact,"
        "Contact email,Created,Engage date,Close date,Close value,Lost reason"
    ]
    for i in range(rows):
        company = rnd.randrange(2000)
        person = rnd.randrange(20_000)
        created = today - dt.timedelta(days=rnd.randrange(90, 730))
        engaged = created + dt.timedelta(days=rnd.randrange(1, 30))
        closed = engaged + dt.timedelta(days=rnd.randrange(1, 50))
        r = rnd.random()
        stage = "Won" if r < 0.4 else "Lost" if r < 0.67 else rnd.choice(STAGES[:2])
        closing = f"{closed.month}/{closed.day}/{closed.year}" if stage in ("Won", "Lost") else ""
        value = f'"${rnd.randrange(500, 90_000):,}.00"'
        lines.append(
            ",".join(
                [
                    f"BENCH-{i}",
                    f"Deal {i}",
                    owners[i % len(owners)],
                    stage,
                    f"Company {company}",
                    f"https://www.company{company}.example",
                    f"Person {person}",
                    f"person{person}@company{company}.example",
                    f"{created.month}/{created.day}/{created.year}",
                    f"{engaged.month}/{engaged.day}/{engaged.year}",
                    closing,
                    value,
                    "Price" if stage == "Lost" else "",
                ]
            )
        )
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def setup():
    from accounts.models import Team, User
    from pipeline.models import LostReason, Pipeline, Stage

    admin, _ = User.objects.get_or_create(
        username="bench_importer", defaults={"role": "admin", "first_name": "Bench"}
    )
    team, _ = Team.objects.get_or_create(name="Import bench")
    owners = []
    for i in range(8):
        user, _ = User.objects.get_or_create(
            username=f"bench_rep_{i}",
            defaults={"first_name": "Rep", "last_name": f"Number{i}", "team": team},
        )
        owners.append(user.get_full_name())
    pipeline, created = Pipeline.objects.get_or_create(name="Import bench pipeline")
    if created:
        for pos, (name, kind, prob, cat) in enumerate(
            [
                ("Qualification", "open", 10, "pipeline"),
                ("Discovery", "open", 30, "pipeline"),
                ("Won", "won", 100, "closed"),
                ("Lost", "lost", 0, "omitted"),
            ]
        ):
            Stage.objects.create(
                pipeline=pipeline,
                name=name,
                position=pos,
                kind=kind,
                probability=prob,
                forecast_category=cat,
            )
    reason, _ = LostReason.objects.get_or_create(name="Price")
    stages = {s.name: s.pk for s in pipeline.stages.all()}
    options = {
        "pipeline": pipeline.pk,
        "stage_map": {
            "Prospecting": stages["Qualification"],
            "Engaging": stages["Discovery"],
        },
        "default_lost_reason": reason.pk,
        "date_order": "mdy",
    }
    return admin, owners, options


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_s() -> float | None:
    """CPU seconds used so far by this process and by its PostgreSQL backend (when the
    server runs on this machine): the work itself, which a loaded machine's wall-clock
    times hide under waiting for a core."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    server = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return time.process_time() + server


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--backfill", action="store_true")
    args = parser.parse_args()

    given = _common.given_database()
    url = given or _common.fresh_database(DB_NAME)
    _common.announce(url, given=bool(given))
    env = {**os.environ, "DATABASE_URL": url, "OPPORTUNE_DEV": "1", "DEBUG": "0"}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    os.environ.update({"DATABASE_URL": url, "OPPORTUNE_DEV": "1", "DEBUG": "0"})
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.utils import timezone

    from imports import services
    from pipeline.models import Opportunity, StageTransition

    admin, owners, options = setup()
    data = make_file(args.rows, owners, timezone.localdate())
    print(f"file: {args.rows:,} rows, {len(data) / 1e6:.1f} MB", flush=True)
    deals_before = Opportunity.objects.count()

    cpu = {"start": cpu_s()}
    started = time.perf_counter()
    batch = services.create_batch(by=admin, kind="deals", file_name="bench.csv", data=data)
    services.save_options(batch=batch, by=admin, options=options)
    plan = services.preview(batch=batch, by=admin)
    preview_s = time.perf_counter() - started
    cpu["preview"] = cpu_s()
    print(f"preview: {preview_s:.1f} s {plan.counts} (peak RSS {rss_mb():.0f} MB)", flush=True)
    for e in plan.errors[:5]:
        print("  refused:", e.as_dict(), flush=True)
    del plan
    batch.refresh_from_db()

    started = time.perf_counter()
    batch, _ = services.confirm(batch=batch, by=admin, token=batch.preview_token)
    batch = services.run(batch_id=batch.pk)
    import_s = time.perf_counter() - started
    cpu["import"] = cpu_s()
    assert batch.status == "done", batch.message
    imported = Opportunity.objects.count() - deals_before
    transitions = StageTransition.objects.filter(opportunity__name__startswith="Deal ").count()
    print(
        f"import: {import_s:.1f} s, {imported:,} deals, {transitions:,} transitions "
        f"(peak RSS {rss_mb():.0f} MB)",
        flush=True,
    )

    result = {"rows": args.rows, "preview_s": round(preview_s, 2), "import_s": round(import_s, 2)}
    if args.backfill:
        started = time.perf_counter()
        dates = services.backfill_after_import(batch_id=batch.pk)
        result["backfill_s"] = round(time.perf_counter() - started, 2)
        result["backfill_dates"] = len(dates)
        print(f"backfill: {result['backfill_s']} s, {len(dates)} dates", flush=True)
        batch.refresh_from_db()

    cpu["before_undo"] = cpu_s()
    started = time.perf_counter()
    services.undo(batch=batch, by=admin)
    undo_s = time.perf_counter() - started
    cpu["undo"] = cpu_s()
    assert Opportunity.objects.count() == deals_before
    print(f"undo: {undo_s:.1f} s", flush=True)
    peak_mb = rss_mb()
    result.update(peak_rss_mb=round(peak_mb, 1), undo_s=round(undo_s, 2))
    if None not in cpu.values():
        result.update(
            preview_cpu_s=round(cpu["preview"] - cpu["start"], 2),
            import_cpu_s=round(cpu["import"] - cpu["preview"], 2),
            undo_cpu_s=round(cpu["undo"] - cpu["before_undo"], 2),
        )
    result["load_avg_1m"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
