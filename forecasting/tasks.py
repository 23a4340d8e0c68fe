"""Celery tasks of the forecasting app: thin wrappers around ``forecasting.services``.

The nightly snapshot runs as one task, or, past the chunking thresholds
(``services.snapshot_chunk_pipelines``), as a chord: a group of per-pipeline chunks whose
callback stores the forecast ranges and marks the date's ``SnapshotRun`` finished.
"""

from __future__ import annotations

import datetime as dt

from celery import chord, group, shared_task
from django.db import DatabaseError, InterfaceError
from django.utils import timezone

from forecasting import services
from forecasting.learning import services as learning

RETRY = {
    "autoretry_for": (DatabaseError, InterfaceError),
    "retry_backoff": 30,
    "retry_backoff_max": 30 * 60,
    "retry_jitter": True,
    "max_retries": 5,
}


@shared_task(name="forecasting.tasks.snapshot_forecasts", **RETRY)
def snapshot_forecasts(taken_on: str | None = None) -> dict:
    """Take the forecast snapshot of ``taken_on`` (ISO date; default today in TIME_ZONE).

    Safe to retry: a run rebuilds its date's rows in one transaction (or, chunked, each chunk
    its pipeline's rows in one transaction).
    """
    day = dt.date.fromisoformat(taken_on) if taken_on else timezone.localdate()
    pipeline_ids = services.snapshot_chunk_pipelines()
    if not pipeline_ids:
        rows = services.take_snapshot(taken_on=day)
        return {"taken_on": day.isoformat(), "rows": rows}
    services.start_snapshot_run(taken_on=day, pipeline_ids=pipeline_ids)
    chunks = group(snapshot_pipeline_chunk.si(day.isoformat(), pk) for pk in pipeline_ids)
    chord(chunks)(finish_snapshot_run.si(day.isoformat()))
    return {"taken_on": day.isoformat(), "chunks": len(pipeline_ids)}


@shared_task(name="forecasting.tasks.snapshot_pipeline_chunk", **RETRY)
def snapshot_pipeline_chunk(taken_on: str, pipeline_id: int) -> int:
    """One chunk of a chunked run: rebuild one pipeline's snapshot rows of the date."""
    day = dt.date.fromisoformat(taken_on)
    return services.take_pipeline_snapshot(taken_on=day, pipeline_id=pipeline_id)


@shared_task(name="forecasting.tasks.finish_snapshot_run", **RETRY)
def finish_snapshot_run(taken_on: str) -> dict:
    """The chord's callback: forecast ranges of the date, then the run marked finished."""
    run = services.finish_snapshot_run(taken_on=dt.date.fromisoformat(taken_on))
    return {"taken_on": taken_on, "rows": run.rows, "chunks": run.chunks_done}


@shared_task(name="forecasting.tasks.train_win_models", **RETRY)
def train_win_models() -> dict:
    """Train, back-test and score every active pipeline's win-probability model (nightly).
    Safe to retry: each run adds a model row per pipeline and replaces its deals' scores."""
    return learning.train_all()
