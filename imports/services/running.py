"""Confirm a preview and run the import: plan again and write in one transaction, as a
Celery task for large files or inline."""

from __future__ import annotations

import secrets

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from imports.models import ImportBatch
from imports.services.batches import require_batch_owner
from imports.services.planning import MAX_STORED_ERRORS, plan
from imports.services.progress import set_progress
from imports.services.writing import execute
from pipeline import board_cache

INLINE_ROWS = 1000  # larger files run as a Celery task


def confirm(*, batch: ImportBatch, by, token: str) -> tuple[ImportBatch, bool]:
    """Accept the preview the user saw. Returns the batch and whether it must run as a task
    (more than :data:`INLINE_ROWS` rows). A second confirm of the same preview, a stale or
    expired one, is refused and changes nothing."""
    with transaction.atomic():
        locked = ImportBatch.objects.select_for_update().get(pk=batch.pk)
        require_batch_owner(by, locked)
        if locked.status != ImportBatch.Status.PREVIEWED:
            raise ValidationError(
                "This import was already confirmed; see its progress below.", code="confirmed"
            )
        if not token or not secrets.compare_digest(token, locked.preview_token):
            raise ValidationError(
                "This preview is out of date; look at the new preview and confirm again.",
                code="stale",
            )
        if locked.preview_expires_at is None or locked.preview_expires_at < timezone.now():
            locked.status = ImportBatch.Status.UPLOADED
            locked.preview_token = ""
            locked.save(update_fields=["status", "preview_token"])
            raise ValidationError(
                "The preview expired (after 30 minutes); preview again and confirm.", code="expired"
            )
        if not locked.options.get("valid_only") and locked.counts.get("refuse"):
            raise ValidationError(
                f"{locked.counts['refuse']} rows are refused. Fix them in the file, or choose "
                "“Import the valid rows only”.",
                code="refused",
            )
        locked.status = ImportBatch.Status.QUEUED
        locked.preview_token = ""
        locked.save(update_fields=["status", "preview_token"])
    return locked, locked.row_count > INLINE_ROWS


def run(*, batch_id: int) -> ImportBatch:
    """Plan and write a confirmed batch (the task's body, also run inline). A failure leaves
    nothing written and the batch failed with its reason."""
    batch = ImportBatch.objects.select_related("owner").get(pk=batch_id)
    if batch.status not in (ImportBatch.Status.QUEUED, ImportBatch.Status.RUNNING):
        return batch
    ImportBatch.objects.filter(pk=batch.pk).update(status=ImportBatch.Status.RUNNING)
    set_progress(batch.pk, 0, batch.row_count, "reading")
    try:
        result = plan(batch=batch, by=batch.owner)
        if result.refused_rows and not batch.options.get("valid_only"):
            raise ValidationError(
                f"{len(result.refused_rows)} rows are refused; nothing was imported."
            )
        with transaction.atomic():
            execute(result, batch=batch, by=batch.owner)
    except (ValidationError, PermissionDenied) as e:
        message = " ".join(getattr(e, "messages", [str(e)]))
        ImportBatch.objects.filter(pk=batch.pk).update(
            status=ImportBatch.Status.FAILED, message=message, finished_at=timezone.now()
        )
        set_progress(batch.pk, 0, batch.row_count, "failed")
        batch.refresh_from_db()
        return batch
    except Exception:
        ImportBatch.objects.filter(pk=batch.pk).update(
            status=ImportBatch.Status.FAILED,
            message="The import stopped on an unexpected error; nothing was imported. Try "
            "again, and if it happens again tell an admin (the error is in the server log).",
            finished_at=timezone.now(),
        )
        raise
    batch.counts = result.counts
    batch.errors = [e.as_dict() for e in result.errors[:MAX_STORED_ERRORS]]
    batch.error_count = len(result.errors)
    batch.first_date = result.first_date
    batch.status = ImportBatch.Status.DONE
    batch.finished_at = timezone.now()
    batch.data = None
    batch.save(
        update_fields=[
            "counts",
            "errors",
            "error_count",
            "first_date",
            "status",
            "finished_at",
            "data",
        ]
    )
    set_progress(batch.pk, batch.row_count, batch.row_count, "done")
    board_cache.changed()
    return batch
