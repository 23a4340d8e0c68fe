"""Undo an import: remove what it created and restore what it updated, in one transaction,
refused when someone changed one of its records since."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts import visibility
from imports.models import ExternalKey, ImportBatch, ImportedRecord
from imports.services.bulk import delete_all
from pipeline import board_cache, read_cache
from pipeline import services as pipeline_services
from pipeline.models import (
    Activity,
    Company,
    Contact,
    Lead,
    LostReason,
    Opportunity,
    Stage,
)

R = ImportedRecord.Model


def can_undo(user, batch: ImportBatch) -> bool:
    return batch.status == ImportBatch.Status.DONE and (
        batch.owner_id == user.pk
        or visibility.can_see_owner(user, batch.owner)
        and visibility.can_assign_owner(user)
    )


def undo(*, batch: ImportBatch, by) -> ImportBatch:
    """Remove what the import created and restore what it updated, in one transaction;
    refused (nothing changes) when someone changed one of its records since."""
    with transaction.atomic():
        batch = ImportBatch.objects.select_for_update().select_related("owner").get(pk=batch.pk)
        if batch.status == ImportBatch.Status.UNDONE:
            raise ValidationError("This import was already undone.")
        if not can_undo(by, batch):
            if batch.status != ImportBatch.Status.DONE:
                raise ValidationError("Only a finished import can be undone.")
            raise PermissionDenied(
                "Only who imported the file, their manager or an admin may undo it."
            )
        # Created records are named by subqueries on the batch's records, never by lists of
        # ids: a 200,000-row import is removed in a few statements.
        recs = batch.records.values_list("model", "object_id", "action", "stamp", "before")
        ids = {m: {} for m in R.values}
        for model, oid, action, stamp, before in recs.iterator(chunk_size=10_000):
            ids[model][oid] = (action, stamp, before)
        changed = _changed_since(batch, ids)
        if changed:
            shown = "; ".join(changed[:5])
            more = f" and {len(changed) - 5} more" if len(changed) > 5 else ""
            raise ValidationError(
                f"This import cannot be undone: {len(changed)} of its records were changed "
                f"since it ran ({shown}{more}). Undo those changes first, or change the "
                "records by hand.",
                code="changed",
            )
        _restore_updates(ids, by=by)
        deals = _created(batch, R.DEAL)
        ExternalKey.objects.filter(model=R.DEAL, object_id__in=deals).delete()
        delete_all(Opportunity, deals)
        delete_all(Lead, _created(batch, R.LEAD))
        delete_all(Contact, _created(batch, R.CONTACT))
        delete_all(Company, _created(batch, R.COMPANY))
        _remove_snapshots(batch.snapshot_dates)
        batch.records.all()._raw_delete(ImportedRecord.objects.db)
        batch.status = ImportBatch.Status.UNDONE
        batch.undone_at = timezone.now()
        batch.undone_by = by
        batch.snapshot_dates = []
        batch.save(update_fields=["status", "undone_at", "undone_by", "snapshot_dates"])
    board_cache.changed()
    return batch


def _created(batch: ImportBatch, model: str):
    """The ids of the records of one kind the import created, as a subquery."""
    return batch.records.filter(model=model, action=ImportedRecord.Action.CREATED).values(
        "object_id"
    )


def _changed_since(batch: ImportBatch, ids: dict) -> list[str]:
    changed: list[str] = []
    deals = ids[R.DEAL]
    all_deals = batch.records.filter(model=R.DEAL).values("object_id")
    if deals:
        created = _created(batch, R.DEAL)
        rows = Opportunity.objects.filter(pk__in=all_deals).values_list("pk", "name", "version")
        for pk, name, version in rows.iterator(chunk_size=10_000):
            if str(version) != deals[pk][1]:
                changed.append(f"deal “{name}”")
        for name in (
            Opportunity.objects.filter(pk__in=created, activities__isnull=False)
            .values_list("name", flat=True)
            .distinct()
        ):
            changed.append(f"deal “{name}” (an activity was logged)")
        for name in Opportunity.objects.filter(pk__in=created, lead__isnull=False).values_list(
            "name", flat=True
        ):
            changed.append(f"deal “{name}” (a lead was converted into it)")
    for model, cls, label in (
        (R.COMPANY, Company, "company"),
        (R.CONTACT, Contact, "contact"),
        (R.LEAD, Lead, "lead"),
    ):
        entries = ids[model]
        if not entries:
            continue
        mine = batch.records.filter(model=model).values("object_id")
        moved = [
            pk
            for pk, updated_at in cls.objects.filter(pk__in=mine)
            .values_list("pk", "updated_at")
            .iterator(chunk_size=10_000)
            if updated_at.isoformat() != entries[pk][1]
        ]
        changed.extend(f"{label} “{obj}”" for obj in cls.objects.filter(pk__in=moved))
        if model in (R.COMPANY, R.CONTACT):
            created = _created(batch, model)
            field_name = "company_id__in" if model == R.COMPANY else "contact_id__in"
            others = Opportunity.objects.filter(**{field_name: created}).exclude(pk__in=all_deals)
            for name in others.values_list("name", flat=True)[:5]:
                changed.append(f"deal “{name}” was added to an imported {label}")
            if Activity.objects.filter(**{field_name: created}).exists():
                changed.append(f"an activity was logged on an imported {label}")
    return changed


def _restore_updates(ids: dict, *, by) -> None:
    for model, cls in ((R.COMPANY, Company), (R.CONTACT, Contact), (R.LEAD, Lead)):
        for pk, (action, _, before) in ids[model].items():
            if action != "updated":
                continue
            obj = cls.objects.get(pk=pk)
            for key, value in before.items():
                if key == "owner":
                    obj.owner_id = value
                else:
                    setattr(obj, key, value)
            obj.save()
    for pk, (action, _, before) in ids[R.DEAL].items():
        if action != "updated":
            continue
        deal = Opportunity.objects.get(pk=pk)
        stage_id = before.pop("stage", None)
        closed_on = before.pop("closed_on", None)
        lost_reason = before.pop("lost_reason", None)
        if stage_id is not None and stage_id != deal.stage_id:
            deal = pipeline_services.move_opportunity(
                opportunity=deal,
                to_stage=Stage.objects.get(pk=stage_id),
                by=by,
                version=deal.version,
                lost_reason=LostReason.objects.filter(pk=lost_reason).first(),
                closed_on=closed_on,
            )
        if before:
            deal = pipeline_services.update_opportunity(
                opportunity=deal, by=by, version=deal.version, **before
            )


def _remove_snapshots(dates: list[str]) -> None:
    if not dates:
        return
    from forecasting.models import ForecastRange, ForecastSnapshot, SnapshotRun

    days = [dt.date.fromisoformat(d) for d in dates]
    ForecastSnapshot.objects.filter(taken_on__in=days).delete()
    ForecastRange.objects.filter(taken_on__in=days).delete()
    SnapshotRun.objects.filter(taken_on__in=days).delete()
    read_cache.changed()  # bulk deletes of bulk-written tables send no model signal
