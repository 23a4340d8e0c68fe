"""The nightly task through a real Celery worker and the Redis broker (CI has both)."""

import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from forecasting.models import ForecastSnapshot
from tests.factories import OpportunityFactory

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("REDIS_URL", "")
DATABASE_URL = os.environ.get("DATABASE_URL", "")


@pytest.mark.redis
@pytest.mark.skipif(not REDIS_URL, reason="needs a Redis broker: set REDIS_URL")
@pytest.mark.skipif(
    not DATABASE_URL.startswith("postgres"),
    reason="the worker shares the test database: set DATABASE_URL to PostgreSQL",
)
@pytest.mark.django_db(transaction=True)
def test_snapshot_task_runs_in_a_real_worker_through_redis(rep, pipeline):
    from forecasting.tasks import snapshot_forecasts

    OpportunityFactory(owner=rep, pipeline=pipeline, amount=Decimal("12000"))
    today = timezone.localdate()
    base = DATABASE_URL.rsplit("/", 1)[0]
    env = {
        **os.environ,
        "DATABASE_URL": f"{base}/{connection.settings_dict['NAME']}",
        "REDIS_URL": REDIS_URL,
        "OPPORTUNE_DEV": "1",
        "CONN_MAX_AGE": "0",
    }
    worker = subprocess.Popen(
        [str(Path(sys.executable).parent / "celery"), "-A", "config", "worker",
         "--pool=solo", "-c", "1", "--loglevel=INFO", "-n", f"forecast-test-{os.getpid()}@%h"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        result = snapshot_forecasts.delay(today.isoformat())
        outcome = result.get(timeout=90)
        assert outcome == {"taken_on": today.isoformat(), "rows": 1}
        row = ForecastSnapshot.objects.get(taken_on=today)
        assert (row.owner, row.open_count, row.open_amount) == (rep, 1, Decimal("12000"))
        assert row.weighted_amount == Decimal("1200.00")
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
        time.sleep(0.1)
