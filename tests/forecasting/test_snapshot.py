import datetime as dt
import os
import threading
import time
from decimal import ROUND_HALF_UP, Decimal

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django_celery_beat.models import PeriodicTask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forecasting import aggregates, services
from forecasting.models import ForecastRange, ForecastSnapshot
from forecasting.tasks import snapshot_forecasts
from pipeline import services as deals
from pipeline.models import Opportunity
from tests.factories import OpportunityFactory, current_version, stage
from tests.forecasting.conftest import BOOK, MARCH, NOW, TODAY

ON_POSTGRES = os.environ.get("DATABASE_URL", "").startswith("postgres")
COLUMNS = ("period", "owner_id", "pipeline_id", *aggregates.SNAPSHOT_COLUMNS)


def rows(day):
    return list(
        ForecastSnapshot.objects.filter(taken_on=day)
        .order_by("period", "owner_id", "pipeline_id")
        .values_list(*COLUMNS)
    )


def march_row(user):
    return ForecastSnapshot.objects.filter(taken_on=TODAY, period=MARCH, owner=user).values(
        *aggregates.SNAPSHOT_COLUMNS
    )[0]


def test_take_snapshot_hand_computed_figures(book, rep, rep2):
    services.take_snapshot(taken_on=TODAY)
    assert march_row(rep) == BOOK["rep"]
    assert march_row(rep2) == BOOK["rep2"]
    april = ForecastSnapshot.objects.get(taken_on=TODAY, period=dt.date(2026, 4, 1))
    assert (april.owner, april.open_count, april.weighted_amount) == (rep2, 1, Decimal("700"))
    row = ForecastSnapshot.objects.get(taken_on=TODAY, period=MARCH, owner=rep)
    assert row.commit_forecast == Decimal("28000")
    assert row.best_case_forecast == Decimal("33000")
    assert row.weighted_forecast == Decimal("26500")


def test_take_snapshot_twice_gives_identical_rows(book):
    first = services.take_snapshot(taken_on=TODAY)
    before = rows(TODAY)
    ranges = list(ForecastRange.objects.order_by("pk").values_list("period", "p10", "p50", "p90"))
    second = services.take_snapshot(taken_on=TODAY)
    assert first == second == len(before) == 3
    assert rows(TODAY) == before
    again = list(ForecastRange.objects.order_by("pk").values_list("period", "p10", "p50", "p90"))
    assert again == ranges


def test_take_snapshot_failure_half_way_keeps_previous_rows(book, rep, monkeypatch, frozen):
    services.take_snapshot(taken_on=TODAY)
    before = rows(TODAY)
    ranges_before = ForecastRange.objects.filter(taken_on=TODAY).count()
    deals.close_won(opportunity=book["A"], version=current_version(book["A"]), by=rep)

    def explode(**kwargs):
        # The new snapshot rows are inserted by now; the error must roll them back.
        assert ForecastSnapshot.objects.filter(taken_on=TODAY).exists()
        raise RuntimeError("simulated crash half-way")

    monkeypatch.setattr(services, "simulate_ranges", explode)
    with pytest.raises(RuntimeError):
        services.take_snapshot(taken_on=TODAY)
    assert rows(TODAY) == before
    assert ForecastRange.objects.filter(taken_on=TODAY).count() == ranges_before > 0


def test_take_snapshot_refuses_future_dates(db, frozen):
    with pytest.raises(ValidationError):
        services.take_snapshot(taken_on=TODAY + dt.timedelta(days=1))


def test_take_snapshot_past_date_matches_live_snapshot_taken_then(rep, pipeline, lost_reason):
    """A reconstructed snapshot of a past day equals the live one taken at the end of it."""
    live = {}
    with time_machine.travel(dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC), tick=False) as t:
        a = OpportunityFactory(
            owner=rep,
            pipeline=pipeline,
            amount=Decimal("10000"),
            expected_close_date=dt.date(2026, 3, 20),
        )
        b = OpportunityFactory(owner=rep, pipeline=pipeline, amount=Decimal("6000"),
                               expected_close_date=dt.date(2026, 4, 20))  # fmt: skip
        t.move_to(dt.datetime(2026, 3, 2, 23, 0, tzinfo=dt.UTC))
        services.take_snapshot(taken_on=dt.date(2026, 3, 2))
        live[2] = rows(dt.date(2026, 3, 2))
        t.move_to(dt.datetime(2026, 3, 3, 10, 0, tzinfo=dt.UTC))
        a = deals.move_opportunity(
            opportunity=a, version=current_version(a), to_stage=stage(pipeline, "Proposal"), by=rep
        )
        a = deals.update_opportunity(opportunity=a, by=rep, version=a.version,
                                     amount=Decimal("12500"), probability=60,
                                     forecast_category="commit")  # fmt: skip
        b = deals.update_opportunity(opportunity=b, by=rep, version=b.version,
                                     expected_close_date=dt.date(2026, 3, 28))  # fmt: skip
        t.move_to(dt.datetime(2026, 3, 3, 23, 0, tzinfo=dt.UTC))
        services.take_snapshot(taken_on=dt.date(2026, 3, 3))
        live[3] = rows(dt.date(2026, 3, 3))
        t.move_to(dt.datetime(2026, 3, 4, 10, 0, tzinfo=dt.UTC))
        deals.close_won(opportunity=a, version=current_version(a), by=rep)
        deals.close_lost(opportunity=b, version=current_version(b), by=rep, lost_reason=lost_reason)
        OpportunityFactory(owner=rep, pipeline=pipeline, amount=Decimal("999"),
                           expected_close_date=dt.date(2026, 3, 20))  # fmt: skip
        t.move_to(dt.datetime(2026, 3, 4, 23, 0, tzinfo=dt.UTC))
        services.take_snapshot(taken_on=dt.date(2026, 3, 4))
        live[4] = rows(dt.date(2026, 3, 4))
        t.move_to(dt.datetime(2026, 3, 20, 12, 0, tzinfo=dt.UTC))
        for day in (2, 3, 4):
            services.take_snapshot(taken_on=dt.date(2026, 3, day))
            assert rows(dt.date(2026, 3, day)) == live[day], day
    march_3 = dict(zip(COLUMNS, live[3][0], strict=True))
    assert march_3["weighted_amount"] == Decimal("7500") + Decimal(
        "600"
    )  # 12,500×60 % + 6,000×10 %
    assert march_3["commit_amount"] == Decimal("12500")


def test_backfill_snapshots_weekly_and_month_starts(rep, pipeline, frozen):
    OpportunityFactory(owner=rep, pipeline=pipeline)
    start = dt.date(2026, 1, 15)
    expected = services.backfill_dates(start=start, end=TODAY)
    assert dt.date(2026, 2, 1) in expected and dt.date(2026, 3, 1) in expected
    assert dt.date(2026, 1, 22) in expected and dt.date(2026, 3, 5) in expected
    assert all(d <= TODAY for d in expected)
    assert services.backfill_snapshots(start=start, end=TODAY) == len(expected) == 10
    # The only deal was created today, after every back-filled date: no rows for them.
    assert not ForecastSnapshot.objects.exists()


def test_backfill_dates_stepped_from_a_later_day_keeps_the_earlier_month_starts():
    dates = services.backfill_dates(
        start=dt.date(2025, 10, 20), end=dt.date(2026, 1, 15), stepped_from=dt.date(2026, 1, 1)
    )
    assert dates == [
        dt.date(2025, 11, 1),
        dt.date(2025, 12, 1),
        dt.date(2026, 1, 1),
        dt.date(2026, 1, 8),
        dt.date(2026, 1, 15),
    ]


def test_backfill_computes_ranges_on_each_quarters_last_date(rep, pipeline):
    with time_machine.travel(dt.datetime(2025, 12, 1, 9, tzinfo=dt.UTC), tick=False):
        for close in (dt.date(2025, 12, 30), dt.date(2026, 3, 31)):
            OpportunityFactory(owner=rep, pipeline=pipeline, expected_close_date=close)
    with time_machine.travel(NOW, tick=False):
        services.backfill_snapshots(start=dt.date(2025, 12, 5), end=TODAY)
    taken = set(ForecastRange.objects.values_list("taken_on", flat=True))
    assert taken == {dt.date(2025, 12, 26), dt.date(2026, 3, 6)}  # Q4 2025's last, Q1 2026's
    assert ForecastSnapshot.objects.filter(taken_on=dt.date(2026, 1, 1)).count() == 2


@given(
    spec=st.lists(
        st.tuples(
            st.integers(min_value=1, max_value=500_000_00).map(lambda c: Decimal(c) / 100),
            st.sampled_from(["Qualification", "Discovery", "Proposal", "Won", "Lost"]),
            st.one_of(st.none(), st.integers(min_value=0, max_value=100)),
        ),
        min_size=1,
        max_size=8,
    )
)
@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_snapshot_properties_weighted_sum_idempotent_and_atomic(
    spec, rep, pipeline, lost_reason, frozen
):
    Opportunity.objects.all().delete()
    expected = Decimal(0)
    for amount, stage_name, override in spec:
        target = stage(pipeline, stage_name)
        first = stage(pipeline, "Proposal" if stage_name == "Proposal" else "Qualification")
        deal = OpportunityFactory(owner=rep, pipeline=pipeline, amount=amount,
                                  expected_close_date=TODAY, stage=first)  # fmt: skip
        if stage_name == "Won":
            deals.close_won(opportunity=deal, version=current_version(deal), by=rep)
            expected += amount
        elif stage_name == "Lost":
            deals.close_lost(
                opportunity=deal, version=current_version(deal), by=rep, lost_reason=lost_reason
            )
        else:
            if target != first:
                deal = deals.move_opportunity(
                    opportunity=deal, version=current_version(deal), to_stage=target, by=rep
                )
            if override is not None:
                deals.update_opportunity(
                    opportunity=deal, by=rep, version=deal.version, probability=override
                )
            p = override if override is not None else target.probability
            expected += amount * p / Decimal(100)
    services.take_snapshot(taken_on=TODAY)
    snap = ForecastSnapshot.objects.get(taken_on=TODAY, period=MARCH)
    tolerance = Decimal("0") if connection.vendor == "postgresql" else Decimal("0.01")
    # The exact sum, rounded to cents half away from zero as PostgreSQL's numeric does.
    exact = expected.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert abs(snap.weighted_forecast - exact) <= tolerance

    # Twice → the same rows; a failure half-way through a third run → still the same rows.
    before = rows(TODAY)
    services.take_snapshot(taken_on=TODAY)
    assert rows(TODAY) == before
    real = services.simulate_ranges
    services.simulate_ranges = _explode
    try:
        with pytest.raises(RuntimeError):
            services.take_snapshot(taken_on=TODAY)
    finally:
        services.simulate_ranges = real
    assert rows(TODAY) == before


def _explode(**kwargs):
    raise RuntimeError("simulated crash after the snapshot rows were inserted")


def test_snapshot_task_body_takes_the_snapshot(book, rep):
    """The task's own code, run in this process (``apply``) whatever the broker settings."""
    result = snapshot_forecasts.apply(args=[TODAY.isoformat()])
    assert result.get() == {"taken_on": "2026-03-10", "rows": 3}
    assert march_row(rep) == BOOK["rep"]
    assert snapshot_forecasts.apply().get()["taken_on"] == "2026-03-10"  # default: today


def test_snapshot_task_retries_database_errors_with_backoff():
    from django.db import DatabaseError

    assert DatabaseError in snapshot_forecasts.autoretry_for
    assert snapshot_forecasts.retry_backoff and snapshot_forecasts.max_retries == 5


def test_snapshot_command_takes_a_date_and_rejects_the_future(book, rep, capsys):
    call_command("snapshot_forecasts", "--date", "2026-03-10")
    assert "3 rows for 2026-03-10" in capsys.readouterr().out
    assert march_row(rep) == BOOK["rep"]
    with pytest.raises(CommandError, match="future"):
        call_command("snapshot_forecasts", "--date", "2026-03-11")


def test_nightly_schedule_is_a_beat_periodic_task_at_two(db):
    task = PeriodicTask.objects.get(name="Nightly forecast snapshot")
    assert task.task == "forecasting.tasks.snapshot_forecasts"
    assert task.enabled
    assert (task.crontab.hour, task.crontab.minute) == ("2", "0")
    from django.conf import settings as django_settings

    assert str(task.crontab.timezone) == django_settings.TIME_ZONE


@pytest.mark.skipif(not ON_POSTGRES, reason="advisory locks are PostgreSQL's (set DATABASE_URL)")
@pytest.mark.django_db(transaction=True)
def test_take_snapshot_waits_for_a_concurrent_run_of_the_same_date(rep, pipeline):
    with time_machine.travel(NOW, tick=False):
        OpportunityFactory(owner=rep, pipeline=pipeline, expected_close_date=TODAY)
    done = threading.Event()

    def other_run():
        from django.db import connection as conn

        try:
            with time_machine.travel(NOW, tick=False):
                services.take_snapshot(taken_on=TODAY)
        finally:
            conn.close()
            done.set()

    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)",
                [services.ADVISORY_LOCK_NAMESPACE, TODAY.toordinal()],
            )
        worker = threading.Thread(target=other_run)
        worker.start()
        time.sleep(1.0)
        assert not done.is_set()  # blocked behind the lock
        assert not ForecastSnapshot.objects.filter(taken_on=TODAY).exists()
    worker.join(timeout=30)
    assert done.is_set()
    assert ForecastSnapshot.objects.filter(taken_on=TODAY).count() == 1
