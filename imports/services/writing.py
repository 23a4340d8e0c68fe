"""Writing a plan set-wise: companies, contacts, leads, deals with their transitions and
field history in bulk; rows that update a record go through the per-record services."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from imports.models import ExternalKey, ImportBatch, ImportedRecord, Kind
from imports.services.progress import set_progress
from imports.services.rows import (
    Plan,
)
from pipeline import services as pipeline_services
from pipeline.models import (
    Company,
    Contact,
    Lead,
    LostReason,
    Opportunity,
    Stage,
    StageTransition,
)

CHUNK = 2000

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


def execute(result: Plan, *, batch: ImportBatch, by) -> None:
    """Write a plan set-wise (inside the caller's transaction)."""
    now = timezone.now()
    total = result.total

    # companies
    company_objs = {}
    for key, values in result.new_companies.items():
        company_objs[key] = Company(
            owner=values.get("owner") or by,
            **{k: v for k, v in values.items() if k != "owner"},
        )
    if result.kind == Kind.COMPANIES:
        company_objs = {}
        for r in result.create:
            values = {k: v for k, v in r.items() if not k.startswith("_")}
            company_objs[r["_row"]] = Company(**values)
    Company.objects.bulk_create(list(company_objs.values()), batch_size=CHUNK)
    _record_created(batch, R.COMPANY, company_objs.values())
    by_key = dict(company_objs)

    # contacts
    contact_objs = {}
    if result.kind == Kind.DEALS:
        for key, values in result.new_contacts.items():
            company = by_key.get(values["company_key"]) if values["company_key"] else None
            contact_objs[key] = Contact(
                owner=values["owner"],
                company_id=company.pk if company else values["company_pk"],
                **{
                    k: v
                    for k, v in values.items()
                    if k not in ("owner", "company_key", "company_pk")
                },
            )
    elif result.kind == Kind.CONTACTS:
        for r in result.create:
            company = by_key.get(r["company_key"]) if r["company_key"] else None
            values = {
                k: v
                for k, v in r.items()
                if not k.startswith("_") and k not in ("company_key", "company_pk")
            }
            contact_objs[r["_row"]] = Contact(
                company_id=company.pk if company else r["company_pk"], **values
            )
    Contact.objects.bulk_create(list(contact_objs.values()), batch_size=CHUNK)
    _record_created(batch, R.CONTACT, contact_objs.values())

    # leads
    if result.kind == Kind.LEADS:
        leads = []
        for r in result.create:
            values = {k: v for k, v in r.items() if not k.startswith("_") and k != "created_on"}
            leads.append(
                Lead(status=Lead.Status.NEW, created_at=_instant(r["created_on"], now), **values)
            )
        Lead.objects.bulk_create(leads, batch_size=CHUNK)
        _record_created(batch, R.LEAD, leads)

    # deals, transitions, field history
    if result.kind == Kind.DEALS:
        for start in range(0, len(result.create), CHUNK):
            chunk = result.create[start : start + CHUNK]
            _write_deals(
                chunk, by=by, batch=batch, companies=by_key, contacts=contact_objs, now=now
            )
            set_progress(batch.pk, start + len(chunk), total, "writing")

    _apply_updates(result, batch=batch, by=by)


def _record_created(batch: ImportBatch, model: str, objs) -> None:
    """List created records for undo, written as they come (a 200,000-row import never holds
    all its records' rows in memory at once)."""
    rows = []
    for obj in objs:
        stamp = str(obj.version) if model == R.DEAL else obj.updated_at.isoformat()
        rows.append(
            ImportedRecord(
                batch=batch, model=model, object_id=obj.pk, action="created", stamp=stamp
            )
        )
        if len(rows) >= 5000:
            ImportedRecord.objects.bulk_create(rows)
            rows = []
    ImportedRecord.objects.bulk_create(rows)


def _write_deals(chunk, *, by, batch, companies, contacts, now) -> None:
    deals = []
    for r in chunk:
        path = r["path"]
        company = companies.get(r["company_key"]) if r["company_key"] else None
        contact = contacts.get(r["contact_key"]) if r["contact_key"] else None
        deal = Opportunity(
            name=r["name"],
            company_id=company.pk if company else r["company_pk"],
            contact_id=contact.pk if contact else r["contact_pk"],
            owner=r["owner"],
            pipeline_id=r["stage"].pipeline_id,
            stage=r["stage"],
            amount=r["amount"],
            probability=r["probability"],
            expected_close_date=r["expected_close_date"],
            closed_on=r["closed_on"],
            lost_reason=r["lost_reason"],
            next_step=r["next_step"],
            created_at=_instant(path[0][1], now),
            stage_entered_at=_instant(path[-1][1], now),
        )
        deal._history_date = deal.created_at
        deal._history_user = by
        deals.append(deal)
    Opportunity.objects.bulk_create(deals, batch_size=CHUNK)
    transitions = []
    for deal, r in zip(deals, chunk, strict=True):
        path = r["path"]
        for i, (stage, day) in enumerate(path):
            nxt = path[i + 1] if i + 1 < len(path) else None
            transitions.append(
                StageTransition(
                    opportunity=deal,
                    from_stage=path[i - 1][0] if i else None,
                    to_stage=stage,
                    changed_by=by,
                    changed_at=_instant(day, now),
                    amount=deal.amount,
                    probability=_effective_probability(stage, deal.probability),
                    left_at=_instant(nxt[1], now) if nxt else None,
                    next_stage=nxt[0] if nxt else None,
                )
            )
    StageTransition.objects.bulk_create(transitions, batch_size=CHUNK * 3)
    Opportunity.history.bulk_history_create(deals, batch_size=CHUNK)
    ExternalKey.objects.bulk_create(
        [
            ExternalKey(model=R.DEAL, key=r["external_id"], object_id=d.pk)
            for d, r in zip(deals, chunk, strict=True)
            if r["external_id"]
        ],
        batch_size=CHUNK,
    )
    _record_created(batch, R.DEAL, deals)


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
