"""Writing a plan set-wise: companies, contacts, leads, deals with their transitions and
field history in bulk; rows that update a record go through the per-record services."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.utils import timezone

from imports.models import ExternalKey, ImportBatch, ImportedRecord, Kind
from imports.services.bulk import insert_records, insert_rows
from imports.services.rows import Plan
from imports.services.tracking import set_progress
from pipeline import services as pipeline_services
from pipeline.models import (
    Company,
    Contact,
    Lead,
    LineItem,
    LostReason,
    Opportunity,
    Stage,
    StageTransition,
)
from pipeline.services.closed_rates import refresh_closed_rates

CHUNK = 5000  # deals written (and progress reported) at a time

R = ImportedRecord.Model


def _instant(day: dt.date | None, now: dt.datetime) -> dt.datetime:
    if day is None:
        return now
    return timezone.make_aware(dt.datetime.combine(day, dt.time(12, 0)))


def _effective_probability(stage: Stage, override) -> int:
    if stage.kind == Stage.Kind.WON:
        return 100
    if stage.kind == Stage.Kind.LOST:
        return 0
    return override if override is not None else stage.probability


def _columns(model, values: dict, **more) -> dict:
    """A plan's values as a row of ``model`` (``owner`` → ``owner_id``), without the plan's
    own keys (``_row``, ``company_key`` ...)."""
    row = {}
    for key, value in {**values, **more}.items():
        if key.startswith("_") or key in ("company_key", "company_pk", "contact_key"):
            continue
        field = model._meta.get_field(key)
        if field.is_relation and field.attname != key:
            row[field.attname] = value.pk if value is not None else None
        else:
            row[key] = value
    return row


def execute(result: Plan, *, batch: ImportBatch, by) -> None:
    """Write a plan set-wise (inside the caller's transaction)."""
    now = timezone.now()
    total = result.total

    # companies: key (domain or name, or the row for a companies file) → id
    if result.kind == Kind.COMPANIES:
        new_companies = {r["_row"]: _columns(Company, r) for r in result.create}
    else:
        new_companies = {
            key: _columns(Company, values, owner=values.get("owner") or by)
            for key, values in result.new_companies.items()
        }
    company_ids = _create(batch, Company, R.COMPANY, new_companies, now)

    # contacts
    new_contacts = {}
    if result.kind == Kind.DEALS:
        for key, values in result.new_contacts.items():
            company = company_ids.get(values["company_key"]) if values["company_key"] else None
            new_contacts[key] = _columns(
                Contact, values, company_id=company or values["company_pk"]
            )
    elif result.kind == Kind.CONTACTS:
        for r in result.create:
            company = company_ids.get(r["company_key"]) if r["company_key"] else None
            new_contacts[r["_row"]] = _columns(Contact, r, company_id=company or r["company_pk"])
    contact_ids = _create(batch, Contact, R.CONTACT, new_contacts, now)

    # leads
    if result.kind == Kind.LEADS:
        new_leads = {
            r["_row"]: _columns(
                Lead,
                {k: v for k, v in r.items() if k != "created_on"},
                status=Lead.Status.NEW,
                created_at=_instant(r["created_on"], now),
            )
            for r in result.create
        }
        _create(batch, Lead, R.LEAD, new_leads, now)

    # deals, transitions, field history
    if result.kind == Kind.DEALS:
        for start in range(0, len(result.create), CHUNK):
            chunk = result.create[start : start + CHUNK]
            _write_deals(
                chunk, by=by, batch=batch, companies=company_ids, contacts=contact_ids, now=now
            )
            set_progress(batch.pk, start + len(chunk), total, "writing")

    _apply_updates(result, batch=batch, by=by)


def _create(batch: ImportBatch, model, kind: str, rows: dict, now) -> dict:
    """Insert new companies, contacts or leads (``key → row``), listed for undo with their
    last-change time; returns ``key → id``."""
    for row in rows.values():
        row["updated_at"] = now
    ids = insert_records(model, list(rows.values()))
    _record_created(batch, kind, ((pk, now.isoformat()) for pk in ids))
    return dict(zip(rows, ids, strict=True))


def _record_created(batch: ImportBatch, model: str, stamped) -> None:
    """List created records (``(id, stamp)`` pairs) for undo, streamed into the table (a
    200,000-row import never holds all its records' rows in memory at once)."""
    insert_rows(
        ImportedRecord,
        (
            {
                "batch_id": batch.pk,
                "model": model,
                "object_id": pk,
                "action": ImportedRecord.Action.CREATED,
                "before": None,
                "stamp": stamp,
            }
            for pk, stamp in stamped
        ),
    )


def _write_deals(chunk, *, by, batch, companies, contacts, now) -> None:
    deals = []
    for r in chunk:
        path = r["path"]
        stage = r["stage"]
        deals.append(
            {
                "name": r["name"],
                "company_id": companies.get(r["company_key"]) or r["company_pk"],
                "contact_id": contacts.get(r["contact_key"]) or r["contact_pk"],
                "owner_id": r["owner"].pk,
                "pipeline_id": stage.pipeline_id,
                "stage_id": stage.pk,
                "amount": r["amount"],
                "probability": r["probability"],
                "expected_close_date": r["expected_close_date"],
                "closed_on": r["closed_on"],
                "lost_reason_id": r["lost_reason"].pk if r["lost_reason"] else None,
                "next_step": r["next_step"],
                "created_at": _instant(path[0][1], now),
                "stage_entered_at": _instant(path[-1][1], now),
                "updated_at": now,
            }
        )
    ids = insert_records(Opportunity, deals)
    refresh_closed_rates(connection, ids=ids, new=True)  # what Opportunity.save keeps
    insert_rows(StageTransition, _transitions(ids, deals, chunk, by=by, now=now))
    insert_rows(
        LineItem,
        (
            {
                "opportunity_id": pk,
                "product_id": line["product"].pk,
                "quantity": line["quantity"],
                "unit_price": line["unit_price"],
                "discount_percent": line["discount_percent"],
                "total": line["total"],
                "created_at": deal["created_at"],
            }
            for pk, deal, r in zip(ids, deals, chunk, strict=True)
            if (line := r["line"])
        ),
    )
    if getattr(settings, "SIMPLE_HISTORY_ENABLED", True):
        # The deal's first field-history row, as simple-history writes on a create.
        history = Opportunity.history.model
        tracked = [f.attname for f in history.tracked_fields]
        defaults = {f.attname: f.get_default() for f in Opportunity._meta.concrete_fields}
        insert_rows(
            history,
            (
                {
                    **{name: deal.get(name, defaults.get(name)) for name in tracked},
                    "id": pk,
                    "history_date": deal["created_at"],
                    "history_user_id": by.pk,
                    "history_change_reason": "",
                    "history_type": "+",
                }
                for pk, deal in zip(ids, deals, strict=True)
            ),
        )
    insert_rows(
        ExternalKey,
        (
            {"model": R.DEAL, "key": r["external_id"], "object_id": pk}
            for pk, r in zip(ids, chunk, strict=True)
            if r["external_id"]
        ),
    )
    version = str(Opportunity._meta.get_field("version").get_default())
    _record_created(batch, R.DEAL, ((pk, version) for pk in ids))


def _transitions(ids, deals, chunk, *, by, now):
    """Each deal's stage path as transitions, each closed by the next (``left_at``)."""
    for pk, deal, r in zip(ids, deals, chunk, strict=True):
        path = r["path"]
        for i, (stage, day) in enumerate(path):
            nxt = path[i + 1] if i + 1 < len(path) else None
            yield {
                "opportunity_id": pk,
                "from_stage_id": path[i - 1][0].pk if i else None,
                "to_stage_id": stage.pk,
                "changed_by_id": by.pk,
                "changed_at": _instant(day, now),
                "amount": deal["amount"],
                "probability": _effective_probability(stage, deal["probability"]),
                "left_at": _instant(nxt[1], now) if nxt else None,
                "next_stage_id": nxt[0].pk if nxt else None,
            }


def _json(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if hasattr(value, "pk"):
        return value.pk
    return value


def _apply_updates(result: Plan, *, batch, by) -> None:
    """Rows that change an existing record go through the per-record services (history and
    rules as any edit); the record's values before are kept for undo."""
    model = {
        Kind.COMPANIES: Company,
        Kind.CONTACTS: Contact,
        Kind.LEADS: Lead,
        Kind.DEALS: Opportunity,
    }[result.kind]
    rec_model = {
        Kind.COMPANIES: R.COMPANY,
        Kind.CONTACTS: R.CONTACT,
        Kind.LEADS: R.LEAD,
        Kind.DEALS: R.DEAL,
    }[result.kind]
    records = []
    for r in result.update:
        obj = model.objects.get(pk=r["_pk"])
        changes = {k: v for k, v in r.items() if not k.startswith("_")}
        try:
            if result.kind == Kind.DEALS:
                before, obj = _update_deal(obj, changes, by=by)
            else:
                before = {k: _json(getattr(obj, k)) for k in changes}
                service = {
                    Kind.COMPANIES: lambda o, c: pipeline_services.update_company(
                        company=o, by=by, version=o.version, **c
                    ),
                    Kind.CONTACTS: lambda o, c: pipeline_services.update_contact(
                        contact=o, by=by, version=o.version, **c
                    ),
                    Kind.LEADS: lambda o, c: pipeline_services.update_lead(
                        lead=o, by=by, version=o.version, **c
                    ),
                }[result.kind]
                obj = service(obj, changes)
        except (ValidationError, PermissionDenied) as e:
            message = " ".join(getattr(e, "messages", [str(e)]))
            raise ValidationError(f"Row {r['_row']}: {message}") from None
        stamp = str(obj.version) if result.kind == Kind.DEALS else obj.updated_at.isoformat()
        records.append(
            ImportedRecord(
                batch=batch,
                model=rec_model,
                object_id=obj.pk,
                action="updated",
                before=before,
                stamp=stamp,
            )
        )
    ImportedRecord.objects.bulk_create(records)


DEAL_UPDATABLE = ("name", "amount", "expected_close_date", "probability", "next_step")


def _update_deal(deal: Opportunity, changes: dict, *, by):
    """Field changes while the deal is open, then the stage move; a reopened deal gets its
    field changes after the move. A closed deal staying closed takes only what the services
    let a closed deal change (they refuse the rest with their own message)."""
    before = {k: _json(getattr(deal, k)) for k in DEAL_UPDATABLE if k in changes}
    stage_id = changes.pop("stage", None)
    closed_on = changes.pop("closed_on", None)
    lost_reason_id = changes.pop("lost_reason", None)
    if stage_id is not None:
        before.update(
            stage=deal.stage_id, closed_on=_json(deal.closed_on), lost_reason=deal.lost_reason_id
        )
    fields = {k: v for k, v in changes.items() if k in DEAL_UPDATABLE}
    if fields and deal.is_open:
        deal = pipeline_services.update_opportunity(
            opportunity=deal, by=by, version=deal.version, **fields
        )
        fields = {}
    if stage_id is not None:
        deal = pipeline_services.move_opportunity(
            opportunity=deal,
            to_stage=Stage.objects.get(pk=stage_id),
            by=by,
            version=deal.version,
            lost_reason=LostReason.objects.filter(pk=lost_reason_id).first(),
            closed_on=closed_on,
        )
    if fields:
        deal = pipeline_services.update_opportunity(
            opportunity=deal, by=by, version=deal.version, **fields
        )
    return before, deal
