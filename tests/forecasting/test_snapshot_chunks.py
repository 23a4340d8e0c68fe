"""The nightly snapshot split into per-pipeline chunks (a Celery chord): same rows as one
task, idempotent, a failed chunk rolls back only its own pipeline, and the run record.

Tasks run inline here (``task_always_eager``, the project's mode without a broker); the
same chord through Redis and a real worker is in ``test_worker.py``.
"""

import datetime as dt
import os
import threading
import time
from decimal import Decimal

import pytest
import time_machine
from django.db import connection, transaction
from django.db.models import Sum

from config.celery import app as celery_app
from forecasting import aggregates, services
from forecasting.models import ForecastRange, ForecastSnapshot, SnapshotRun
from forecasting.tasks import snapshot_forecasts, snapshot_pipeline_chunk
from pipeline import services as deals
from tests.factories import OpportunityFactory, PipelineFactory, current_version, stage
from tests.forecasting.conftest import NOW, TODAY

ON_POSTGRES = os.environ.get("DATABASE_URL", "").startswith("postgres")
COLUMNS = ("period", "owner_id", "pipeline_id", *aggregates.SNAPSHOT_COLUMNS)
RANGE_COLUMNS = ("period_kind", "period", "owner_id", "team_id", "pipeline_id", "p10", "p50",
                 "p90", "won_amount", "open_count")  # fmt: skip


def rows(day):
    return list(
        ForecastSnapshot.objects.filter(taken_on=day)
        .order_by("period", "owner_id", "pipeline_id")
        .values_list(*COLUMNS)
    )


def ranges(day):
    return sorted(
        ForecastRange.objects.filter(taken_on=day).values_list(*RANGE_COLUMNS),
        key=repr,
    )


def sums(day):
    return ForecastSnapshot.objects.filter(taken_on=day).aggregate(
        **{c: Sum(c) for c in aggregates.SNAPSHOT_COLUMNS}
    )


@pytest.fixture
def eager(monkeypatch):
    """Run Celery tasks (and chords) inline, as without ``REDIS_URL``."""
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)
    monkeypatch.setitem(celery_app.conf, "task_eager_propagates", True)


@pytest.fixture
def chunk_everything(settings):
    settings.OPPORTUNE_SNAPSHOT_CHUNK_PIPELINES = 2
    settings.OPPORTUNE_SNAPSHOT_CHUNK_DEALS = 0


@pytest.fixture
def renewals(book, rep, rep2, lost_reason):
    """A second pipeline beside ``book``'s, with deals of both reps (one created a week ago
    and moved since, so past dates reconstruct a different state), and a third, empty one."""
    line = PipelineFactory(name="Renewals")
    PipelineFactory(name="Partners")  # no deals: a chunk that writes no row
    with time_machine.travel(NOW - dt.timedelta(days=7), tick=False):
        old = OpportunityFactory(owner=rep, pipeline=line, amount=Decimal("9000"),
                                 expected_close_date=dt.date(2026, 3, 30))  # fmt: skip
    with time_machine.travel(NOW - dt.timedelta(days=3), tick=False):
        old = deals.move_opportunity(
            opportunity=old, to_stage=stage(line, "Proposal"), by=rep, version=current_version(old)
        )
    made = [
        OpportunityFactory(owner=rep2, pipeline=line, amount=Decimal("4500"),
                           expected_close_date=dt.date(2026, 3, 12),
                           stage=stage(line, "Proposal")),
        OpportunityFactory(owner=rep2, pipeline=line, amount=Decimal("1250.50"),
                           expected_close_date=dt.date(2026, 5, 2)),
        OpportunityFactory(owner=rep, pipeline=line, amount=Decimal("3000"),
                           expected_close_date=dt.date(2026, 3, 15)),
    ]  # fmt: skip
    deals.close_won(opportunity=made[2], by=rep, version=current_version(made[2]))
    return line


def one_task_then_chunked(day):
    """Rows and ranges of ``day`` taken in one task, then again by the chunked task."""
    services.take_snapshot(taken_on=day)
    single = (rows(day), sums(day), ranges(day))
    result = snapshot_forecasts.apply(args=[day.isoformat()]).get()
    chunked = (rows(day), sums(day), ranges(day))
    return single, chunked, result


def test_snapshot_chunk_pipelines_below_thresholds_is_one_task(renewals, settings):
    settings.OPPORTUNE_SNAPSHOT_CHUNK_PIPELINES = 4  # there are 3
    settings.OPPORTUNE_SNAPSHOT_CHUNK_DEALS = 100  # there are 8 open deals
    assert services.snapshot_chunk_pipelines() == []


def test_snapshot_chunk_pipelines_by_pipeline_count(renewals, settings):
    settings.OPPORTUNE_SNAPSHOT_CHUNK_PIPELINES = 3
    settings.OPPORTUNE_SNAPSHOT_CHUNK_DEALS = 0
    ids = services.snapshot_chunk_pipelines()
    assert len(ids) == 3 and ids == sorted(ids)


def test_snapshot_chunk_pipelines_by_open_deal_count(renewals, settings):
    settings.OPPORTUNE_SNAPSHOT_CHUNK_PIPELINES = 0
    settings.OPPORTUNE_SNAPSHOT_CHUNK_DEALS = 8  # 5 open in book's pipeline + 3 in renewals
    assert len(services.snapshot_chunk_pipelines()) == 3
    settings.OPPORTUNE_SNAPSHOT_CHUNK_DEALS = 9
    assert services.snapshot_chunk_pipelines() == []


def test_snapshot_chunk_pipelines_never_splits_a_single_pipeline(book, settings):
    settings.OPPORTUNE_SNAPSHOT_CHUNK_PIPELINES = 1
    settings.OPPORTUNE_SNAPSHOT_CHUNK_DEALS = 1
    assert services.snapshot_chunk_pipelines() == []


def test_snapshot_task_below_threshold_runs_one_task_and_records_the_run(book, settings, eager):
    settings.OPPORTUNE_SNAPSHOT_CHUNK_PIPELINES = 8
    assert snapshot_forecasts.apply(args=[TODAY.isoformat()]).get() == {
        "taken_on": "2026-03-10",
        "rows": 3,
    }
    run = SnapshotRun.objects.get(taken_on=TODAY)
    assert (run.mode, run.chunks, run.chunks_done, run.rows) == (SnapshotRun.Mode.SINGLE, 1, 1, 3)
    assert run.finished_at is not None and run.duration >= dt.timedelta(0)


def test_snapshot_task_chunked_gives_exactly_the_rows_of_one_task(
    renewals, pipeline, chunk_everything, eager
):
    single, chunked, result = one_task_then_chunked(TODAY)
    assert result == {"taken_on": "2026-03-10", "chunks": 3}
    assert chunked == single
    assert len(single[0]) == 6 and {r[2] for r in single[0]} == {renewals.pk, pipeline.pk}
    assert single[1]["open_amount"] == Decimal("35000") + Decimal("47000") + Decimal("14750.50")
    assert single[2]  # the chord's callback stored the ranges, as the one task does
    run = SnapshotRun.objects.get(taken_on=TODAY)
    assert (run.mode, run.chunks, run.chunks_done, run.rows) == (SnapshotRun.Mode.CHUNKED, 3, 3, 6)
    assert sorted(run.chunk_rows.values()) == [0, 3, 3]
    assert run.finished_at >= run.started_at


def test_snapshot_task_chunked_past_date_matches_one_task(renewals, rep, chunk_everything, eager):
    """A reconstructed past date: the deal moved three days ago counts in its old stage."""
    day = TODAY - dt.timedelta(days=5)
    single, chunked, _ = one_task_then_chunked(day)
    assert chunked == single
    assert single[0] == [
        (dt.date(2026, 3, 1), rep.pk, renewals.pk, 1, Decimal("9000"), Decimal("900"),
         Decimal("900"), Decimal("900"),  # by the configured percentages, by the model
         Decimal("0"), Decimal("0"), Decimal("0"), 0, 0, Decimal("0"))
    ]  # fmt: skip


def test_snapshot_task_chunked_twice_gives_the_same_rows_and_no_duplicates(
    renewals, chunk_everything, eager
):
    snapshot_forecasts.apply(args=[TODAY.isoformat()]).get()
    first = rows(TODAY), ranges(TODAY)
    snapshot_forecasts.apply(args=[TODAY.isoformat()]).get()
    assert (rows(TODAY), ranges(TODAY)) == first
    assert ForecastSnapshot.objects.filter(taken_on=TODAY).count() == 6
    assert SnapshotRun.objects.filter(taken_on=TODAY).count() == 1
    assert SnapshotRun.objects.get(taken_on=TODAY).chunks_done == 3


def test_snapshot_chunk_failure_rolls_back_its_pipeline_only_and_a_retry_rebuilds_it(
    renewals, book, rep, chunk_everything, eager, monkeypatch
):
    snapshot_forecasts.apply(args=[TODAY.isoformat()]).get()
    before = rows(TODAY)
    # Both pipelines change; the renewals chunk then crashes after inserting its new rows.
    deals.close_won(opportunity=book["A"], by=rep, version=current_version(book["A"]))
    renewal = renewals.opportunities.get(amount=Decimal("9000"))
    deals.close_won(opportunity=renewal, by=rep, version=current_version(renewal))
    real = services._rebuild_snapshot_rows

    def crash_after_insert(taken_on, rates, *, pipeline_id=None):
        written = real(taken_on, rates, pipeline_id=pipeline_id)
        if pipeline_id == renewals.pk:
            raise RuntimeError("simulated crash after the chunk's rows were inserted")
        return written

    monkeypatch.setattr(services, "_rebuild_snapshot_rows", crash_after_insert)
    with pytest.raises(RuntimeError):
        snapshot_forecasts.apply(args=[TODAY.isoformat()]).get()
    after = rows(TODAY)
    # The renewals rows are the previous run's; book's pipeline (its chunk ran first) is new.
    assert [r for r in after if r[2] == renewals.pk] == [r for r in before if r[2] == renewals.pk]
    assert [r for r in after if r[2] != renewals.pk] != [r for r in before if r[2] != renewals.pk]
    run = SnapshotRun.objects.get(taken_on=TODAY)
    assert run.finished_at is None and run.chunks_done < run.chunks == 3
    assert str(renewals.pk) not in run.chunk_rows

    monkeypatch.setattr(services, "_rebuild_snapshot_rows", real)
    assert snapshot_pipeline_chunk.apply(args=[TODAY.isoformat(), renewals.pk]).get() == 3
    services.finish_snapshot_run(taken_on=TODAY)
    chunked = rows(TODAY)
    services.take_snapshot(taken_on=TODAY)
    assert chunked == rows(TODAY)  # exactly one task's rows: nothing doubled, nothing missing
    assert ForecastSnapshot.objects.filter(taken_on=TODAY, pipeline=renewals).count() == 3


def test_snapshot_chunk_run_twice_counts_once(renewals, chunk_everything, frozen):
    ids = services.snapshot_chunk_pipelines()
    services.start_snapshot_run(taken_on=TODAY, pipeline_ids=ids)
    services.take_pipeline_snapshot(taken_on=TODAY, pipeline_id=renewals.pk)
    services.take_pipeline_snapshot(taken_on=TODAY, pipeline_id=renewals.pk)  # redelivered
    run = SnapshotRun.objects.get(taken_on=TODAY)
    assert (run.chunks_done, run.rows, run.finished_at) == (1, 3, None)
    assert ForecastSnapshot.objects.filter(taken_on=TODAY, pipeline=renewals).count() == 3


def test_snapshot_chunk_refuses_future_dates(renewals, frozen):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        services.take_pipeline_snapshot(taken_on=TODAY + dt.timedelta(days=1), pipeline_id=1)
    with pytest.raises(ValidationError):
        services.start_snapshot_run(taken_on=TODAY + dt.timedelta(days=1), pipeline_ids=[1])


@pytest.mark.skipif(not ON_POSTGRES, reason="advisory locks are PostgreSQL's (set DATABASE_URL)")
@pytest.mark.django_db(transaction=True)
def test_snapshot_chunks_run_side_by_side_but_wait_for_a_whole_date_rebuild(rep):
    with time_machine.travel(NOW, tick=False):
        first, second = PipelineFactory(name="First"), PipelineFactory(name="Second")
        for line in (first, second):
            OpportunityFactory(owner=rep, pipeline=line, expected_close_date=TODAY)

    def chunk_in_thread(pipeline_id):
        done = threading.Event()

        def run():
            from django.db import connection as conn

            try:
                with time_machine.travel(NOW, tick=False):
                    services.take_pipeline_snapshot(taken_on=TODAY, pipeline_id=pipeline_id)
            finally:
                conn.close()
                done.set()

        thread = threading.Thread(target=run)
        thread.start()
        return thread, done

    def lock(sql, *args):
        with connection.cursor() as cursor:
            cursor.execute(sql, list(args))

    # A chunk of another pipeline of the same date goes ahead while this one is being written.
    with transaction.atomic():
        lock("SELECT pg_advisory_xact_lock_shared(%s, %s)",
             services.ADVISORY_LOCK_NAMESPACE, TODAY.toordinal())  # fmt: skip
        lock("SELECT pg_advisory_xact_lock(%s)", services._chunk_lock_key(TODAY, first.pk))
        thread, done = chunk_in_thread(second.pk)
        thread.join(timeout=30)
        assert done.is_set()
    assert ForecastSnapshot.objects.filter(taken_on=TODAY, pipeline=second).count() == 1

    # A whole-date rebuild holding the date: the chunk waits for it.
    with transaction.atomic():
        lock("SELECT pg_advisory_xact_lock(%s, %s)",
             services.ADVISORY_LOCK_NAMESPACE, TODAY.toordinal())  # fmt: skip
        thread, done = chunk_in_thread(first.pk)
        time.sleep(1.0)
        assert not done.is_set()
    thread.join(timeout=30)
    assert done.is_set()
    assert ForecastSnapshot.objects.filter(taken_on=TODAY, pipeline=first).count() == 1


def test_snapshot_run_admin_lists_runs_read_only(renewals, chunk_everything, eager, client):
    from tests.factories import UserFactory

    snapshot_forecasts.apply(args=[TODAY.isoformat()]).get()
    admin = UserFactory(username="root", role="admin", is_staff=True, is_superuser=True)
    client.force_login(admin)
    listing = client.get("/admin/forecasting/snapshotrun/")
    assert listing.status_code == 200
    assert "Per-pipeline chunks" in listing.content.decode()
    run = SnapshotRun.objects.get(taken_on=TODAY)
    page = client.get(f"/admin/forecasting/snapshotrun/{run.pk}/change/")
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert client.get("/admin/forecasting/snapshotrun/add/").status_code == 403
