"""Snapshots after an import: back-fill only the dates in the imported range that have none."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from imports.models import ImportBatch
from imports.services.progress import set_progress


def backfill_after_import(*, batch_id: int) -> list[str]:
    """Take the snapshots an import's history calls for: every back-fill date from the
    import's earliest date to yesterday that has no snapshot yet (a real nightly snapshot is
    never rewritten). Returns the dates taken, also kept on the batch for undo."""
    from forecasting import services as forecasting_services
    from forecasting.models import SnapshotRun

    batch = ImportBatch.objects.get(pk=batch_id)
    if batch.status != ImportBatch.Status.DONE or batch.first_date is None:
        ImportBatch.objects.filter(pk=batch_id).update(snapshots_done=True)
        return []
    end = timezone.localdate() - dt.timedelta(days=1)
    if batch.first_date > end:
        ImportBatch.objects.filter(pk=batch_id).update(snapshots_done=True)
        return []
    dates = forecasting_services.backfill_dates(start=batch.first_date, end=end)
    have = set(SnapshotRun.objects.filter(taken_on__in=dates).values_list("taken_on", flat=True))
    todo = [d for d in dates if d not in have]
    taken: list[str] = []
    for i, day in enumerate(todo, start=1):
        with transaction.atomic():
            current = ImportBatch.objects.select_for_update().get(pk=batch_id)
            if current.status != ImportBatch.Status.DONE:
                break  # undone meanwhile
            if SnapshotRun.objects.filter(taken_on=day).exists():
                continue
            forecasting_services.take_snapshot(taken_on=day, ranges=False)
            taken.append(day.isoformat())
            current.snapshot_dates = [*current.snapshot_dates, day.isoformat()]
            current.save(update_fields=["snapshot_dates"])
        set_progress(batch_id, i, len(todo), "snapshots", what="snapshots")
    ImportBatch.objects.filter(pk=batch_id).update(snapshots_done=True)
    return taken
