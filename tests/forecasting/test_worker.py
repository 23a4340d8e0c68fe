"""The nightly task through a real Celery worker and the Redis broker (CI has both): as one
task, and split per pipeline into a chord whose callback (Redis is also the result backend)
marks the date's run record finished."""

import os
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from forecasting import aggregates, services
from forecasting.models import ForecastSnapshot, SnapshotRun
from tests.factories import OpportunityFactory, PipelineFactory

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("REDIS_URL", "")
DATABASE_URL = os.environ.get("DATABASE_URL", "")

pytestmark = [
    pytest.mark.redis,
    pytest.mark.skipif(not REDIS_URL, reason="needs a Redis broker: set REDIS_URL"),
    pytest.mark.skipif(
        not DATABASE_URL.startswith("postgres"),
        reason="the worker shares the test database: set DATABASE_URL to PostgreSQL",
    ),
    pytest.mark.django_db(transaction=True),
]


def rows(day):
    columns = ("period", "owner_id", "pipeline_id", *aggregates.SNAPSHOT_COLUMNS)
    return list(
        ForecastSnapshot.objects.filter(taken_on=day)
        .order_by("period", "owner_id", "pipeline_id")
        .values_list(*columns)
    )


class Worker:
    """A Celery worker process on the test database; its log goes to a file (a pipe nobody
    reads would fill up and stall it) and is shown when a test fails."""

    def __init__(self, **extra_env):
        base = DATABASE_URL.rsplit("/", 1)[0]
        env = {
            **os.environ,
            "DATABASE_URL": f"{base}/{connection.settings_dict['NAME']}",
            "REDIS_URL": REDIS_URL,
            "OPPORTUNE_DEV": "1",
            "CONN_MAX_AGE": "0",
            **extra_env,
        }
        self.log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (closed by stop())
        self.process = subprocess.Popen(
            [str(Path(sys.executable).parent / "celery"), "-A", "config", "worker",
             "--pool=solo", "-c", "1", "--loglevel=INFO", "-n", f"forecast-test-{os.getpid()}@%h"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read()[-4000:]

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()
        time.sleep(0.1)


@pytest.fixture
def worker_factory():
    started = []

    def start(**env):
        started.append(Worker(**env))
        return started[-1]

    yield start
    for worker in started:
        worker.stop()


def test_snapshot_task_runs_in_a_real_worker_through_redis(rep, pipeline, worker_factory):
    from forecasting.tasks import snapshot_forecasts

    OpportunityFactory(owner=rep, pipeline=pipeline, amount=Decimal("12000"))
    today = timezone.localdate()
    worker = worker_factory()
    result = snapshot_forecasts.delay(today.isoformat())
    outcome = result.get(timeout=90)
    assert outcome == {"taken_on": today.isoformat(), "rows": 1}, worker.output()
    row = ForecastSnapshot.objects.get(taken_on=today)
    assert (row.owner, row.open_count, row.open_amount) == (rep, 1, Decimal("12000"))
    assert row.weighted_amount == Decimal("1200.00")
    assert SnapshotRun.objects.get(taken_on=today).mode == SnapshotRun.Mode.SINGLE


def test_snapshot_chord_of_pipeline_chunks_runs_in_a_real_worker(
    rep, rep2, pipeline, worker_factory
):
    from forecasting.tasks import snapshot_forecasts

    renewals = PipelineFactory(name="Renewals")
    for owner, line, amount in [(rep, pipeline, "12000"), (rep2, pipeline, "3000"),
                                (rep, renewals, "8000"), (rep2, renewals, "500.25")]:  # fmt: skip
        OpportunityFactory(owner=owner, pipeline=line, amount=Decimal(amount))
    today = timezone.localdate()
    services.take_snapshot(taken_on=today)  # the one-task rows, to compare with
    expected = rows(today)
    ForecastSnapshot.objects.all().delete()
    SnapshotRun.objects.all().delete()

    worker = worker_factory(OPPORTUNE_SNAPSHOT_CHUNK_PIPELINES="2")
    outcome = snapshot_forecasts.delay(today.isoformat()).get(timeout=90)
    assert outcome == {"taken_on": today.isoformat(), "chunks": 2}, worker.output()
    deadline = time.monotonic() + 90
    run = SnapshotRun.objects.get(taken_on=today)
    while run.finished_at is None and time.monotonic() < deadline:
        time.sleep(0.2)
        run.refresh_from_db()
    assert run.finished_at is not None, worker.output()
    assert (run.mode, run.chunks, run.chunks_done, run.rows) == (SnapshotRun.Mode.CHUNKED, 2, 2, 4)
    assert run.chunk_rows == {str(pipeline.pk): 2, str(renewals.pk): 2}
    assert rows(today) == expected


def test_win_model_training_runs_in_a_real_worker(rep, rep2, pipeline, worker_factory):
    from forecasting.models import WinModel
    from forecasting.tasks import train_win_models
    from pipeline.models import DealScore
    from tests.forecasting import learning_history

    learning_history.build(
        pipeline=pipeline, owners=[rep, rep2], n=150, seed=5,
        win_chance=lambda active: 0.8 if active else 0.1,
    )  # fmt: skip
    worker = worker_factory()
    outcome = train_win_models.delay().get(timeout=240)
    assert outcome == {"New business": "trained"}, worker.output()
    model = WinModel.objects.get(pipeline=pipeline)
    assert model.is_trained and model.closed_deals >= 50 and model.backtest["months"]
    assert DealScore.objects.filter(opportunity__pipeline=pipeline).exists()
