"""Celery tasks of the forecasting app: thin wrappers around ``forecasting.services``."""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.db import DatabaseError, InterfaceError
from django.utils import timezone

from forecasting import services


@shared_task(
    name="forecasting.tasks.snapshot_forecasts",
    autoretry_for=(DatabaseError, InterfaceError),
    retry_backoff=30,
    retry_backoff_max=30 * 60,
    retry_jitter=True,
    max_retries=5,
)
def snapshot_forecasts(taken_on: str | None = None) -> dict:
    """Take the forecast snapshot of ``taken_on`` (ISO date; default today in TIME_ZONE).

    Safe to retry: a run rebuilds its date's rows in one transaction.
    """
    day = dt.date.fromisoformat(taken_on) if taken_on else timezone.localdate()
    rows = services.take_snapshot(taken_on=day)
    return {"taken_on": day.isoformat(), "rows": rows}
