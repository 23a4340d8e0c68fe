"""Benchmark: reading the past on PostgreSQL (what changed, past snapshots, back-fill, the
board as of a date).

Runs on ``DATABASE_URL`` (meant for a copy of the 100,000-deal demo with 18+ months of
history; it is written to: snapshots are rebuilt) or, when unset, on a fresh demo database of
``--deals`` deals. Measures, through Django's test client (``force_login``):

* ``/forecasting/changes/`` with no parameters (the last 7 days of the current quarter) and for
  the previous quarter (its first to its last day), as ``admin`` (every deal) and as
  ``manager1`` (one team): median of ``--repeat`` requests after one warm-up;
* ``take_snapshot(ranges=False)`` of the date six months back and of today (median of
  ``--repeat``), without the Monte Carlo ranges;
* ``take_snapshot(ranges=False)`` of 52 weekly dates ending last week, one pass;
* the board as ``manager1``, today and ``?as_of=`` six months back.

The last line is one JSON object: ``changes_ms_admin`` / ``changes_ms_manager`` (the slower of
the two ranges), ``past_snapshot_s``, ``today_snapshot_s``, ``backfill_52_s``, ``board_ms``,
``board_as_of_ms`` (null when the board does not read ``as_of``), and the per-range figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import time

from _common import demo_database, setup_django


def median_ms(client, url, params, repeat):
    response = client.get(url, params)
    assert response.status_code == 200, (url, response.status_code)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url, params)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return statistics.median(times), response


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    url = demo_database("opportune_bench_history", args.deals, reuse=True)
    setup_django(url)

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from accounts.models import User
    from forecasting import services
    from forecasting.periods import Period, add_months, quarter_start, today

    now = today()
    past = now - dt.timedelta(days=182)
    q_start = add_months(quarter_start(now), -3)
    previous_q = Period.parse(f"{q_start.year}-Q{(q_start.month - 1) // 3 + 1}")
    ranges = {
        "default": {},
        "quarter": {
            "period": previous_q.param,
            "start": q_start.isoformat(),
            "end": previous_q.last_day.isoformat(),
        },
    }
    out: dict[str, float | None] = {}
    changes_url = reverse("forecasting:changes")
    for who, username in (("admin", "admin"), ("manager", "manager1")):
        client = Client()
        client.force_login(User.objects.get(username=username))
        worst = 0.0
        for key, params in ranges.items():
            ms, _ = median_ms(client, changes_url, params, args.repeat)
            with CaptureQueriesContext(connection) as ctx:
                client.get(changes_url, params)
            print(f"what changed {key:<8} as {who:<8} median {ms:8.1f} ms  queries {len(ctx)}")
            out[f"changes_{key}_ms_{who}"] = round(ms, 1)
            worst = max(worst, ms)
        out[f"changes_ms_{who}"] = round(worst, 1)

    def snapshot_s(day):
        times = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            services.take_snapshot(taken_on=day, ranges=False)
            times.append(time.perf_counter() - started)
        return statistics.median(times)

    out["today_snapshot_s"] = round(snapshot_s(now), 3)
    out["past_snapshot_s"] = round(snapshot_s(past), 3)
    print(f"snapshot today {out['today_snapshot_s']} s, of {past} {out['past_snapshot_s']} s")

    dates = [now - dt.timedelta(days=7 * i) for i in range(52, 0, -1)]
    started = time.perf_counter()
    for day in dates:
        services.take_snapshot(taken_on=day, ranges=False)
    out["backfill_52_s"] = round(time.perf_counter() - started, 1)
    print(f"back-fill of 52 weekly dates ({dates[0]} … {dates[-1]}): {out['backfill_52_s']} s")

    client = Client()
    client.force_login(User.objects.get(username="manager1"))
    board_url = reverse("pipeline:board")
    ms, _ = median_ms(client, board_url, {}, args.repeat)
    out["board_ms"] = round(ms, 1)
    ms, response = median_ms(client, board_url, {"as_of": past.isoformat()}, args.repeat)
    if b"data-as-of" in response.content:
        out["board_as_of_ms"] = round(ms, 1)
    else:
        out["board_as_of_ms"] = None
        print("board_as_of_ms: null: the board does not read ?as_of= (shows today's pipeline)")
    print(f"board {out['board_ms']} ms, as of {past}: {out['board_as_of_ms']} ms")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
