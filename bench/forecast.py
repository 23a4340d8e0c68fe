"""Benchmark: taking one forecast snapshot over N opportunities on PostgreSQL.

    .venv/bin/python bench/forecast.py --opportunities 1000000

Loads N deals with generate_series into a dedicated database (``opportune_forecast_bench``
on ``BENCH_PG_SERVER``, default postgres://postgres@127.0.0.1:5432; with ``DATABASE_URL`` set,
into that database, and only when it holds no deals yet), then times:

* ``snapshot_s``: ``forecasting.services.take_snapshot(ranges=False)`` for today: lock,
  delete, the ORM INSERT … SELECT grouped by period × owner × pipeline — the same sums as
  the plain SQL below;
* ``ranges_s``: the Monte Carlo ranges of the current and the next quarter (10,000 trials
  over their open deals), and ``nightly_s``: the whole nightly job (both in one transaction);
* ``sql_s``: a hand-written SQL ``INSERT … SELECT`` computing the same sums into a scratch
  table, in the same run;

and records the process's peak RSS (``resource.getrusage``). Last line: one JSON object.

With ``--mixed`` (its own database, ``opportune_forecast_bench_fx``) 15 % of the deals are in
EUR and GBP, with 600 days of daily rates, and the plain SQL converts too, by the rule of
``pipeline.conversion``: open deals at today's rate, closed deals at their closed date's
(a correlated probe of the rates' (currency, date) index), rounded to the cent per deal.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from _common import announce, given_database  # noqa: E402

SQL_SUMS = """
INSERT INTO bench_snapshot (taken_on, period, owner_id, pipeline_id, open_count, open_amount,
    weighted_amount, commit_amount, best_case_amount, won_amount, won_count, lost_count,
    lost_amount)
SELECT %(today)s, date_trunc('month', CASE WHEN s.kind = 'open' THEN o.expected_close_date
           ELSE COALESCE(o.closed_on, o.expected_close_date) END)::date AS period,
       o.owner_id, o.pipeline_id,
       COUNT(*) FILTER (WHERE s.kind = 'open'),
       COALESCE(SUM(o.amount) FILTER (WHERE s.kind = 'open'), 0),
       COALESCE(SUM(o.amount * COALESCE(o.probability, s.probability) / 100.0)
                FILTER (WHERE s.kind = 'open'), 0),
       COALESCE(SUM(o.amount) FILTER (WHERE s.kind = 'open'
                AND COALESCE(NULLIF(o.forecast_category, ''), s.forecast_category) = 'commit'), 0),
       COALESCE(SUM(o.amount) FILTER (WHERE s.kind = 'open'
                AND COALESCE(NULLIF(o.forecast_category, ''), s.forecast_category)
                    = 'best_case'), 0),
       COALESCE(SUM(o.amount) FILTER (WHERE s.kind = 'won'), 0),
       COUNT(*) FILTER (WHERE s.kind = 'won'),
       COUNT(*) FILTER (WHERE s.kind = 'lost'),
       COALESCE(SUM(o.amount) FILTER (WHERE s.kind = 'lost'), 0)
FROM pipeline_opportunity o JOIN pipeline_stage s ON s.id = o.stage_id
GROUP BY 2, 3, 4
"""


# The same sums in the reporting currency: each deal converted once in a subquery.
SQL_SUMS_MIXED = """
WITH today_rate AS (
    SELECT DISTINCT ON (currency) currency, rate FROM pipeline_exchangerate
    WHERE on_date <= %(today)s ORDER BY currency, on_date DESC
), d AS (
    SELECT o.owner_id, o.pipeline_id, o.probability, o.forecast_category,
           o.expected_close_date, o.closed_on, s.kind, s.probability AS s_prob,
           s.forecast_category AS s_cat,
           CASE WHEN o.currency = %(reporting)s THEN o.amount
                WHEN s.kind = 'open' THEN round(o.amount * t.rate, 2)
                ELSE round(o.amount * (
                    SELECT r.rate FROM pipeline_exchangerate r
                    WHERE r.currency = o.currency
                      AND r.on_date <= COALESCE(o.closed_on, o.expected_close_date)
                    ORDER BY r.on_date DESC LIMIT 1), 2) END AS amount
    FROM pipeline_opportunity o JOIN pipeline_stage s ON s.id = o.stage_id
    LEFT JOIN today_rate t ON t.currency = o.currency
)
INSERT INTO bench_snapshot (taken_on, period, owner_id, pipeline_id, open_count, open_amount,
    weighted_amount, commit_amount, best_case_amount, won_amount, won_count, lost_count,
    lost_amount)
SELECT %(today)s, date_trunc('month', CASE WHEN o.kind = 'open' THEN o.expected_close_date
           ELSE COALESCE(o.closed_on, o.expected_close_date) END)::date AS period,
       o.owner_id, o.pipeline_id,
       COUNT(*) FILTER (WHERE o.kind = 'open'),
       COALESCE(SUM(o.amount) FILTER (WHERE o.kind = 'open'), 0),
       COALESCE(SUM(o.amount * COALESCE(o.probability, o.s_prob) / 100.0)
                FILTER (WHERE o.kind = 'open'), 0),
       COALESCE(SUM(o.amount) FILTER (WHERE o.kind = 'open'
                AND COALESCE(NULLIF(o.forecast_category, ''), o.s_cat) = 'commit'), 0),
       COALESCE(SUM(o.amount) FILTER (WHERE o.kind = 'open'
                AND COALESCE(NULLIF(o.forecast_category, ''), o.s_cat) = 'best_case'), 0),
       COALESCE(SUM(o.amount) FILTER (WHERE o.kind = 'won'), 0),
       COUNT(*) FILTER (WHERE o.kind = 'won'),
       COUNT(*) FILTER (WHERE o.kind = 'lost'),
       COALESCE(SUM(o.amount) FILTER (WHERE o.kind = 'lost'), 0)
FROM d o
GROUP BY 2, 3, 4
"""
RATE_DAYS = 600


def load_currencies(today) -> None:
    """15 % of the deals in EUR or GBP and RATE_DAYS of daily rates for both (once)."""
    from django.db import connection

    from pipeline.models import ExchangeRate

    if ExchangeRate.objects.exists():
        return
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO pipeline_exchangerate (currency, on_date, rate)
            SELECT c.code, %(today)s - d, (c.base + 0.05 * sin(d / 40.0))::numeric(18, 8)
            FROM (VALUES ('EUR', 1.08), ('GBP', 1.27)) AS c(code, base),
                 generate_series(0, %(days)s - 1) AS d
            """,
            {"today": today, "days": RATE_DAYS},
        )
        cursor.execute(
            "UPDATE pipeline_opportunity SET currency = CASE WHEN id % 100 >= 95 THEN 'GBP' "
            "ELSE 'EUR' END WHERE id % 100 >= 85"
        )
        cursor.execute("ANALYZE pipeline_opportunity")
        cursor.execute("ANALYZE pipeline_exchangerate")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def ensure_database(server: str, name: str, fresh: bool) -> None:
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and fresh:
            conn.execute(f'DROP DATABASE "{name}"')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def load(n: int) -> None:
    """Reps, two teams, a pipeline and N deals: ~15 % open (close dates over the next six
    months), the rest won or lost over the past 18 months."""
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from accounts.models import Team, User
    from pipeline.models import Company, Pipeline, Stage

    call_command("migrate", verbosity=0)
    if Company.objects.exists():
        return
    teams = [Team.objects.create(name=f"Team {i}") for i in range(4)]
    reps = [
        User.objects.create(username=f"bench{i}", role="rep", team=teams[i % 4]) for i in range(40)
    ]
    pipeline = Pipeline.objects.create(name="Bench")
    spec = [("Qualification", "open", 10, "pipeline"), ("Discovery", "open", 25, "pipeline"),
            ("Proposal", "open", 50, "best_case"), ("Negotiation", "open", 75, "commit"),
            ("Won", "won", 100, "closed"), ("Lost", "lost", 0, "omitted")]  # fmt: skip
    stages = [
        Stage.objects.create(pipeline=pipeline, name=a, position=i, kind=k, probability=p,
                             forecast_category=c)
        for i, (a, k, p, c) in enumerate(spec)
    ]  # fmt: skip
    company = Company.objects.create(name="Bench Co", owner=reps[0])
    open_ids = [s.pk for s in stages[:4]]
    won_id, lost_id = stages[4].pk, stages[5].pk
    first_rep, n_reps = reps[0].pk, len(reps)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO pipeline_opportunity (name, company_id, owner_id, pipeline_id, stage_id,
                amount, probability, expected_close_date, closed_on, forecast_category,
                lost_note, next_step, version, created_at, updated_at, stage_entered_at,
                currency)
            SELECT 'Deal ' || g, {company.pk}, {first_rep} + (g %% {n_reps}), {pipeline.pk},
                   CASE WHEN g %% 100 < 15 THEN (ARRAY{open_ids})[1 + (g %% 4)]
                        WHEN g %% 100 < 45 THEN {won_id} ELSE {lost_id} END,
                   (1000 + (g::bigint * 7919) %% 99000)::numeric(14,2),
                   CASE WHEN g %% 100 < 15 AND g %% 7 = 0 THEN 35 ELSE NULL END,
                   CASE WHEN g %% 100 < 15 THEN current_date + (g %% 183)
                        ELSE current_date - (g %% 540) END,
                   CASE WHEN g %% 100 < 15 THEN NULL ELSE current_date - (g %% 540) END,
                   CASE WHEN g %% 100 < 15 AND g %% 11 = 0 THEN 'commit' ELSE '' END,
                   '', '', 1, now() - interval '600 days', now(), now(), %s
            FROM generate_series(1, %s) AS g
            """,  # nosec B608: ids and counts are ints from this script, no user input
            [settings.OPPORTUNE_CURRENCY, n],
        )
        cursor.execute("ANALYZE pipeline_opportunity")
        cursor.execute("ANALYZE pipeline_stage")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--opportunities", type=int, default=1_000_000)
    parser.add_argument("--database", default="opportune_forecast_bench")
    parser.add_argument("--fresh", action="store_true", help="drop and reload the database")
    parser.add_argument(
        "--mixed", action="store_true", help="15 %% of the deals in EUR and GBP (own database)"
    )
    args = parser.parse_args()
    if args.mixed and args.database == parser.get_default("database"):
        args.database += "_fx"

    given = given_database()
    if given:  # the operator's database: loaded only when it has no deals, never dropped
        url = given
    else:
        server = os.environ.get("BENCH_PG_SERVER", "postgres://postgres@127.0.0.1:5432")
        ensure_database(server, args.database, args.fresh)
        url = f"{server}/{args.database}"
    announce(url, given=bool(given))
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("OPPORTUNE_DEV", "1")
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection, transaction
    from django.utils import timezone

    from forecasting import services
    from forecasting.models import ForecastSnapshot
    from pipeline.models import Opportunity

    started = time.perf_counter()
    load(args.opportunities)
    today = timezone.localdate()
    if args.mixed:
        load_currencies(today)
    n = Opportunity.objects.count()
    foreign = Opportunity.objects.exclude(currency=settings.OPPORTUNE_CURRENCY).count()
    print(
        f"deals: {n:,}, {foreign:,} in another currency (load {time.perf_counter() - started:.1f}s)"
    )

    services.take_snapshot(taken_on=today)  # warm the cache once, like the nightly run
    t = time.perf_counter()
    rows = services.take_snapshot(taken_on=today, ranges=False)
    snapshot_s = time.perf_counter() - t
    print(f"snapshot rows: {rows} in {snapshot_s:.2f}s")
    t = time.perf_counter()
    with transaction.atomic():
        ranges = services.simulate_ranges(taken_on=today)
    ranges_s = time.perf_counter() - t
    print(f"Monte Carlo ranges: {ranges} rows in {ranges_s:.2f}s")
    t = time.perf_counter()
    services.take_snapshot(taken_on=today)
    nightly_s = time.perf_counter() - t
    print(f"nightly job (snapshot rows + ranges, one transaction): {nightly_s:.2f}s")

    with connection.cursor() as cursor:
        cursor.execute(
            "DROP TABLE IF EXISTS bench_snapshot; "
            "CREATE TABLE bench_snapshot (LIKE forecasting_forecastsnapshot INCLUDING ALL)"
        )
    t = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM bench_snapshot")
        cursor.execute(f"SET LOCAL work_mem = '{services.SNAPSHOT_WORK_MEM}'")
        sums = SQL_SUMS_MIXED if foreign else SQL_SUMS
        cursor.execute(sums, {"today": today, "reporting": settings.OPPORTUNE_CURRENCY})
        sql_rows = cursor.rowcount
    sql_s = time.perf_counter() - t
    print(f"plain SQL INSERT … SELECT: {sql_rows} rows in {sql_s:.2f}s")

    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT count(*) FROM (
                 SELECT period, owner_id, pipeline_id, open_count, open_amount,
                        round(weighted_amount, 2), commit_amount, best_case_amount, won_amount,
                        won_count, lost_count, lost_amount FROM bench_snapshot
                 EXCEPT
                 SELECT period, owner_id, pipeline_id, open_count, open_amount,
                        weighted_amount, commit_amount, best_case_amount, won_amount,
                        won_count, lost_count, lost_amount
                 FROM forecasting_forecastsnapshot WHERE taken_on = %s) d""",
            [today],
        )
        differing = cursor.fetchone()[0]
    assert ForecastSnapshot.objects.filter(taken_on=today).count() == sql_rows
    print(f"rows differing between the two: {differing}")
    result = {
        "n": n,
        "foreign": foreign,
        "snapshot_s": round(snapshot_s, 3),
        "sql_s": round(sql_s, 3),
        "ratio": round(snapshot_s / sql_s, 2),
        "ranges_s": round(ranges_s, 3),
        "nightly_s": round(nightly_s, 3),
        "nightly_ratio": round(nightly_s / sql_s, 2),
        "rows": rows,
        "rows_differing": differing,
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
