"""Forecast snapshots, ranges, quotas and adjustments: every write of the forecasting app."""

from __future__ import annotations

import datetime as dt


def take_snapshot(*, taken_on: dt.date) -> int:
    """Rebuild the forecast snapshot rows of ``taken_on``; returns the number of rows."""
    raise NotImplementedError


def backfill_snapshots(*, start: dt.date, end: dt.date, step_days: int = 7) -> int:
    """Take a snapshot for each date ``start``, ``start + step_days`` … ``<= end``; returns the
    number of dates."""
    raise NotImplementedError
