"""Benchmark of the daily digest: 1,000 users' digests over the 100,000-deal demo.

Seeds its own PostgreSQL database (``opportune_digest_bench``; ``--reuse`` keeps one that
already holds the deals and the users), adds bench reps until 1,000 users are active and
spreads the demo's deals and tasks over the reps, so every digest has something to say.
``DATABASE_URL`` names a database to measure instead, as it is (seeded only when it holds no
deals, never dropped, its users and deals untouched): up to 1,000 of its active users.

The run builds, sends (to Django's in-memory mail backend) and records every due digest as
``manage.py send_digests`` does, one user after the other, inside one transaction that is
rolled back at the end, so the database is left as it was and the run can be repeated.

Usage:  .venv/bin/python bench/digest.py [--users 1000] [--reuse]

Last line: one JSON object ``{"users": .., "digest_s": .., "queries_per_user": .., ...}``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import _common  # noqa: E402

DB_NAME = "opportune_digest_bench"
DEALS = 100_000


def spread_over_reps(target_users: int) -> None:
    """Own database only: top the active users up to ``target_users`` with bench reps (spread
    over the demo's teams) and deal the deals and their tasks out to the reps in turn."""
    from django.db import connection

    from accounts.models import Team, User

    active = User.objects.filter(is_active=True).count()
    if active >= target_users:
        return
    teams = list(Team.objects.order_by("pk"))
    missing = target_users - active
    User.objects.bulk_create(
        [
            User(
                username=f"bench-rep-{i}",
                first_name="Bench",
                last_name=f"Rep {i}",
                email=f"bench-rep-{i}@example.com",
                role=User.Role.REP,
                team=teams[i % len(teams)] if teams else None,
                password="!",  # unusable
            )
            for i in range(missing)
        ],
        batch_size=500,
    )
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH reps AS (
                SELECT id, row_number() OVER (ORDER BY id) - 1 AS k
                FROM accounts_user WHERE is_active AND role = 'rep'
            ), n AS (SELECT count(*) AS c FROM reps),
            deals AS (
                SELECT id, row_number() OVER (ORDER BY id) - 1 AS k FROM pipeline_opportunity
            )
            UPDATE pipeline_opportunity AS o SET owner_id = reps.id
            FROM deals, reps, n WHERE o.id = deals.id AND reps.k = deals.k % n.c
            """
        )
        cursor.execute(
            """
            UPDATE pipeline_activity AS a SET owner_id = o.owner_id
            FROM pipeline_opportunity AS o WHERE a.opportunity_id = o.id
            """
        )
        cursor.execute("ANALYZE")
    print(f"  added {missing} bench reps and spread the deals over the reps", flush=True)


def measure(users_wanted: int) -> dict:
    import datetime as dt

    from django.core.mail import get_connection
    from django.db import connection, transaction
    from django.db.models import Count
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from notifications import selectors, services
    from pipeline.models import Opportunity

    # 23:00 today in TIME_ZONE: every user on the default hour is due.
    now = timezone.make_aware(dt.datetime.combine(timezone.localdate(), dt.time(23, 0)))
    deals_of = dict(
        Opportunity.objects.values("owner_id").annotate(n=Count("pk")).values_list("owner_id", "n")
    )
    per_user: list[tuple[int, int]] = []  # (queries, deals owned)
    outcomes: dict[str, int] = {}
    mail = get_connection("django.core.mail.backends.locmem.EmailBackend")

    class Rollback(Exception):
        pass

    started = time.perf_counter()
    try:
        with transaction.atomic():
            with CaptureQueriesContext(connection) as shared:
                due = services.due_users(now)[:users_wanted]
                ctx = selectors.DigestContext(now)
            for user, _pref, day in due:
                with CaptureQueriesContext(connection) as captured:
                    outcome = services.send_digest(user=user, day=day, ctx=ctx, connection=mail)
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
                per_user.append((len(captured.captured_queries), deals_of.get(user.pk, 0)))
            elapsed = time.perf_counter() - started
            raise Rollback
    except Rollback:
        pass
    queries = [q for q, _ in per_user]
    most = max(per_user, key=lambda r: r[1]) if per_user else (0, 0)
    fewest = min(per_user, key=lambda r: r[1]) if per_user else (0, 0)
    return {
        "users": len(per_user),
        "digest_s": round(elapsed, 2),
        "queries_per_user": round(statistics.mean(queries), 2) if queries else 0,
        "queries_per_user_max": max(queries, default=0),
        "queries_shared": len(shared.captured_queries),
        "queries_of_user_with_most_deals": most[0],
        "most_deals_of_a_user": most[1],
        "queries_of_user_with_fewest_deals": fewest[0],
        "fewest_deals_of_a_user": fewest[1],
        "sent": outcomes.get("sent", 0),
        "empty": outcomes.get("empty", 0),
        "deals": Opportunity.objects.count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--pg", default=_common.PG)
    args = parser.parse_args()
    given = _common.given_database()
    url = _common.demo_database(DB_NAME, DEALS, server=args.pg, reuse=args.reuse)
    os.environ["EMAIL_URL"] = "memorymail://"  # never a real mail server
    os.environ["DEBUG"] = "0"
    _common.setup_django(url)
    if not given:
        spread_over_reps(args.users)
    figures = measure(args.users)
    for key, value in figures.items():
        print(f"  {key}: {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
