"""Celery tasks of the imports app: thin wrappers over ``imports.services``.

The time limits fit a 200,000-row file (about four times the 50,000-row benchmark) with room
to spare; the snapshot back-fill after an import is a task of its own with its own progress.
"""

from celery import shared_task

from imports import services


@shared_task(time_limit=60 * 60, soft_time_limit=55 * 60, acks_late=True)
def run_import(batch_id: int) -> str:
    batch = services.run(batch_id=batch_id)
    if batch.status == batch.Status.DONE and batch.first_date:
        backfill_import_snapshots.delay(batch_id)
    return batch.status


@shared_task(time_limit=2 * 60 * 60, soft_time_limit=115 * 60, acks_late=True)
def backfill_import_snapshots(batch_id: int) -> int:
    return len(services.backfill_after_import(batch_id=batch_id))
