"""Every business action on the sales domain: each validates its input, writes in one
transaction and records its history (stage transitions, field history, timestamps).

Bad input raises :class:`django.core.exceptions.ValidationError` with a message that says
what was wrong and what to do; nothing is written then. An action on a record outside the
caller's scope raises :class:`django.core.exceptions.PermissionDenied`. Nothing but this
module assigns an opportunity's stage.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts import visibility
from pipeline import board_cache, events
from pipeline.models import (
    Activity,
    Company,
    Contact,
    ExitCriterion,
    ForecastCategory,
    Lead,
    LostReason,
    Opportunity,
    Pipeline,
    Stage,
    StageTransition,
)
from pipeline.validators import validate_business_date

# --- helpers ---------------------------------------------------------------------------------


def _require_edit(user, obj, what: str = "record") -> None:
    if not visibility.can_edit(user, obj):
        raise PermissionDenied(f"You may not change this {what}.")


def _require_owner_in_scope(user, owner) -> None:
    if owner is None:
        raise ValidationError({"owner": "Choose an owner."})
    if not visibility.can_see_owner(user, owner):
        raise ValidationError({"owner": "You may only assign records to yourself or your team."})
    if not owner.is_active:
        raise ValidationError({"owner": "This user is deactivated; choose an active owner."})


def _money(value, field: str = "amount") -> Decimal:
    if isinstance(value, float):
        raise ValidationError({field: "Amounts are exact decimals, not floating-point numbers."})
    try:
        amount = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except (InvalidOperation, TypeError, ValueError):
        raise ValidationError({field: "Enter an amount such as 12500.00."}) from None
    if not amount.is_finite():
        raise ValidationError({field: "Enter an amount such as 12500.00."})
    if amount < 0:
        raise ValidationError({field: "The amount cannot be negative."})
    if amount.as_tuple().exponent < -2:
        raise ValidationError({field: "Use at most two decimal places."})
    if amount >= Decimal("1e12"):
        raise ValidationError({field: "The amount is too large (at most 999,999,999,999.99)."})
    return amount.quantize(Decimal("0.01"))


def _probability(value) -> int | None:
    if value is None or value == "":
        return None
    try:
        p = int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an infinite float/Decimal
        raise ValidationError({"probability": "Enter a whole percentage from 0 to 100."}) from None
    if p != value and not isinstance(value, str | int):
        raise ValidationError({"probability": "Enter a whole percentage from 0 to 100."})
    if not 0 <= p <= 100:
        raise ValidationError({"probability": "Probability must be between 0 and 100."})
    return p


def _date(value, field: str) -> dt.date:
    """A business date (1900-01-01 … 2200-12-31) from a date or an ISO string."""
    if isinstance(value, dt.datetime):
        day = value.date()
    elif isinstance(value, dt.date):
        day = value
    else:
        try:
            day = dt.date.fromisoformat(str(value))
        except (TypeError, ValueError):
            raise ValidationError({field: "Enter a date as YYYY-MM-DD."}) from None
    try:
        validate_business_date(day)
    except ValidationError as e:
        raise ValidationError({field: e.messages}) from None
    return day


def _effective_probability(stage: Stage, override: int | None) -> int:
    if stage.kind == Stage.Kind.WON:
        return 100
    if stage.kind == Stage.Kind.LOST:
        return 0
    return override if override is not None else stage.probability


def _check_exit_criteria(opportunity: Opportunity, stage: Stage) -> None:
    missing = []
    for criterion in stage.exit_criteria or []:
        if criterion == ExitCriterion.AMOUNT and not (
            opportunity.amount and opportunity.amount > 0
        ):
            missing.append("an amount above zero")
        elif criterion == ExitCriterion.CLOSE_DATE and not opportunity.expected_close_date:
            missing.append("an expected close date")
        elif criterion == ExitCriterion.CONTACT and not opportunity.contact_id:
            missing.append("a primary contact")
        elif criterion == ExitCriterion.DECISION_MAKER and not (
            opportunity.contact_id and opportunity.contact.is_decision_maker
        ):
            missing.append("a decision-maker as primary contact")
        elif criterion == ExitCriterion.NEXT_STEP and not opportunity.next_step.strip():
            missing.append("a next step")
    if missing:
        raise ValidationError(
            f"“{opportunity.name}” cannot enter {stage.name}: it needs {', '.join(missing)}. "
            "Fill these in on the deal, then move it again."
        )


def _record_transition(
    *, opportunity: Opportunity, from_stage: Stage | None, to_stage: Stage, by, at
) -> StageTransition:
    """Close the stay in the stage the deal leaves (its open transition gets ``left_at`` and
    ``next_stage``) and open the stay in ``to_stage``: time in stage and stage conversion are
    then read row by row, without a window over every deal's history."""
    if from_stage is not None:
        StageTransition.objects.filter(opportunity=opportunity, left_at__isnull=True).update(
            left_at=at, next_stage=to_stage
        )
    return StageTransition.objects.create(
        opportunity=opportunity,
        from_stage=from_stage,
        to_stage=to_stage,
        changed_by=by,
        changed_at=at,
        amount=opportunity.amount,
        probability=_effective_probability(to_stage, opportunity.probability),
    )


def _save_opportunity(opportunity: Opportunity, *, by, tracked_changed: bool) -> None:
    """Save with field history only when a tracked field changed."""
    opportunity._history_user = by
    if not tracked_changed:
        opportunity.skip_history_when_saving = True
    try:
        opportunity.save()
    finally:
        if hasattr(opportunity, "skip_history_when_saving"):
            del opportunity.skip_history_when_saving


def _locked(opportunity: Opportunity) -> Opportunity:
    """Lock the row and return a fresh copy of it (Zulip's select_for_update + refresh).

    The lock is taken without joins: PostgreSQL re-checks a waiting ``FOR UPDATE`` against
    the joined rows it read before the wait, so after a concurrent move (a new stage_id) a
    joined lock query would find no row at all. Once locked, a plain read sees the committed
    state.
    """
    Opportunity.objects.select_for_update().filter(pk=opportunity.pk).values_list("pk").get()
    return Opportunity.objects.select_related("stage", "pipeline", "contact", "owner").get(
        pk=opportunity.pk
    )


def _check_version(current: Opportunity, version) -> None:
    """Refuse a change made against another version of the deal than the stored one. Every
    change a user makes names the version it was made against: a missing one is refused, as
    it could overwrite someone else's change unseen."""
    if version is None or version == "" or isinstance(version, bool):
        raise ValidationError("The deal's version is missing; reload the page.")
    try:
        version = int(version)
    except (TypeError, ValueError):
        raise ValidationError("The deal's version is missing; reload the page.") from None
    if current.version != version:
        raise ValidationError(
            f"Someone else changed “{current.name}” since you opened it (your copy is version "
            f"{version}, the deal is now at version {current.version}). Reload it and make "
            "your change again.",
            code="stale",
        )


# --- Companies and contacts ------------------------------------------------------------------

COMPANY_FIELDS = ("name", "website", "industry", "employees", "phone", "city", "country")
CONTACT_FIELDS = ("first_name", "last_name", "email", "phone", "title", "is_decision_maker")


def _apply(obj, data: dict[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = set(data) - set(allowed)
    if unknown:
        raise ValidationError(f"Unknown fields: {', '.join(sorted(unknown))}.")
    for key, value in data.items():
        if value == "" and obj._meta.get_field(key).null:
            # An empty form value of a nullable field (a budget, a head count) means unknown.
            value = None
        setattr(obj, key, value)


@transaction.atomic
def create_company(*, by, owner=None, **data) -> Company:
    owner = owner or by
    _require_owner_in_scope(by, owner)
    company = Company(owner=owner)
    _apply(company, data, COMPANY_FIELDS)
    company.full_clean()
    company.save()
    return company


@transaction.atomic
def update_company(*, company: Company, by, owner=None, **data) -> Company:
    _require_edit(by, company, "company")
    if owner is not None and owner != company.owner:
        _require_owner_in_scope(by, owner)
        company.owner = owner
    _apply(company, data, COMPANY_FIELDS)
    company.full_clean()
    company.save()
    board_cache.changed()
    return company


def _check_company_visible(by, company: Company | None) -> None:
    if company is not None and not Company.objects.visible_to(by).filter(pk=company.pk).exists():
        raise ValidationError({"company": "Choose a company you can see."})


@transaction.atomic
def create_contact(*, by, owner=None, company: Company | None = None, **data) -> Contact:
    owner = owner or by
    _require_owner_in_scope(by, owner)
    _check_company_visible(by, company)
    contact = Contact(owner=owner, company=company)
    _apply(contact, data, CONTACT_FIELDS)
    contact.full_clean()
    contact.save()
    return contact


@transaction.atomic
def update_contact(*, contact: Contact, by, owner=None, company=..., **data) -> Contact:
    _require_edit(by, contact, "contact")
    if owner is not None and owner != contact.owner:
        _require_owner_in_scope(by, owner)
        contact.owner = owner
    if company is not ...:
        if company is not None and company.pk != contact.company_id:
            _check_company_visible(by, company)
        contact.company = company
    _apply(contact, data, CONTACT_FIELDS)
    contact.full_clean()
    contact.save()
    return contact


# --- Leads -----------------------------------------------------------------------------------

LEAD_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "title",
    "company_name",
    "source",
    "need",
    "budget",
    "authority",
    "timeline",
)


@transaction.atomic
def create_lead(*, by, owner=None, **data) -> Lead:
    owner = owner or by
    _require_owner_in_scope(by, owner)
    if data.get("budget") not in (None, ""):
        data["budget"] = _money(data["budget"], "budget")
    lead = Lead(owner=owner, status=Lead.Status.NEW)
    _apply(lead, data, LEAD_FIELDS)
    lead.full_clean()
    lead.save()
    events.lead_assigned.send(sender=None, lead=lead, by=by)
    return lead


@transaction.atomic
def update_lead(*, lead: Lead, by, owner=None, **data) -> Lead:
    lead = Lead.objects.select_for_update().get(pk=lead.pk)
    _require_edit(by, lead, "lead")
    if not lead.is_open:
        raise ValidationError(
            f"This lead is {lead.get_status_display().lower()} and can no longer be edited."
        )
    if owner is not None and owner != lead.owner:
        _require_owner_in_scope(by, owner)
        lead.owner = owner
        events.lead_assigned.send(sender=None, lead=lead, by=by)
    if data.get("budget") not in (None, ""):
        data["budget"] = _money(data["budget"], "budget")
    _apply(lead, data, LEAD_FIELDS)
    lead.full_clean()
    lead.save()
    return lead


@transaction.atomic
def start_working_lead(*, lead: Lead, by) -> Lead:
    lead = Lead.objects.select_for_update().get(pk=lead.pk)
    _require_edit(by, lead, "lead")
    if lead.status != Lead.Status.NEW:
        raise ValidationError("Only a new lead can be started.")
    lead.status = Lead.Status.WORKING
    lead.save(update_fields=["status", "updated_at"])
    return lead


@transaction.atomic
def qualify_lead(*, lead: Lead, by) -> Lead:
    """Mark the lead a prospect: it fits the ideal customer profile."""
    lead = Lead.objects.select_for_update().get(pk=lead.pk)
    _require_edit(by, lead, "lead")
    if lead.status == Lead.Status.PROSPECT:
        return lead
    if lead.status not in (Lead.Status.NEW, Lead.Status.WORKING):
        raise ValidationError(
            f"A {lead.get_status_display().lower()} lead cannot be qualified; only new or "
            "working leads can."
        )
    lead.status = Lead.Status.PROSPECT
    lead.qualified_at = timezone.now()
    lead.save(update_fields=["status", "qualified_at", "updated_at"])
    return lead


@transaction.atomic
def disqualify_lead(*, lead: Lead, by, reason: str) -> Lead:
    lead = Lead.objects.select_for_update().get(pk=lead.pk)
    _require_edit(by, lead, "lead")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the lead is disqualified."})
    if not lead.is_open:
        raise ValidationError(f"A {lead.get_status_display().lower()} lead cannot be disqualified.")
    lead.status = Lead.Status.DISQUALIFIED
    lead.disqualification_reason = reason[:255]
    lead.disqualified_at = timezone.now()
    lead.save(update_fields=["status", "disqualification_reason", "disqualified_at", "updated_at"])
    return lead


@transaction.atomic
def convert_lead(
    *,
    lead: Lead,
    by,
    amount,
    expected_close_date,
    pipeline: Pipeline | None = None,
    name: str = "",
    company: Company | None = None,
    company_name: str = "",
    contact: Contact | None = None,
    contact_is_decision_maker: bool = False,
    owner=None,
) -> Opportunity:
    """Turn a prospect into an opportunity in the pipeline's first open stage.

    Requires a defined need, budget and timeline. Links the given company and contact or
    creates them from the lead's details.
    """
    lead = Lead.objects.select_for_update().get(pk=lead.pk)
    _require_edit(by, lead, "lead")
    if lead.status != Lead.Status.PROSPECT:
        if lead.status in (Lead.Status.NEW, Lead.Status.WORKING):
            raise ValidationError("Qualify the lead as a prospect before converting it.")
        raise ValidationError(f"A {lead.get_status_display().lower()} lead cannot be converted.")
    errors = {}
    if not lead.need.strip():
        errors["need"] = "Describe the customer's need before converting."
    if lead.budget is None:
        errors["budget"] = "Enter the customer's budget before converting."
    if not lead.timeline.strip():
        errors["timeline"] = "Enter the customer's timeline before converting."
    if errors:
        raise ValidationError(errors)
    owner = owner or lead.owner
    _require_owner_in_scope(by, owner)
    if pipeline is None:
        pipeline = Pipeline.objects.filter(is_active=True).order_by("position", "id").first()
        if pipeline is None:
            raise ValidationError("No active pipeline exists; ask an admin to create one.")

    if contact is not None and not Contact.objects.visible_to(by).filter(pk=contact.pk).exists():
        raise ValidationError({"contact": "Choose a contact you can see."})
    if company is None and contact is not None and contact.company_id:
        # A chosen contact brings their company (when visible); never create a duplicate.
        company = Company.objects.visible_to(by).filter(pk=contact.company_id).first()
    if company is None:
        cname = (company_name or lead.company_name).strip()
        if not cname:
            raise ValidationError({"company": "Choose a company or enter a company name."})
        company = create_company(by=by, owner=owner, name=cname)
    else:
        _check_company_visible(by, company)
    if contact is None:
        contact = create_contact(
            by=by,
            owner=owner,
            company=company,
            first_name=lead.first_name,
            last_name=lead.last_name,
            email=lead.email,
            phone=lead.phone,
            title=lead.title,
            is_decision_maker=contact_is_decision_maker,
        )

    opportunity = create_opportunity(
        by=by,
        # The default name is cut to fit the field; an explicit one is validated.
        name=name.strip() or f"{company.name} — {lead.need.strip()[:60]}"[:NAME_MAX],
        company=company,
        contact=contact,
        owner=owner,
        pipeline=pipeline,
        amount=amount,
        expected_close_date=expected_close_date,
    )
    lead.status = Lead.Status.CONVERTED
    lead.converted_at = timezone.now()
    lead.company = company
    lead.contact = contact
    lead.opportunity = opportunity
    lead.save()
    Activity.objects.filter(lead=lead).update(opportunity=opportunity)
    return opportunity


# --- Opportunities ---------------------------------------------------------------------------

OPPORTUNITY_EDITABLE = (
    "name",
    "company",
    "contact",
    "owner",
    "amount",
    "probability",
    "expected_close_date",
    "forecast_category",
    "next_step",
    "next_step_due",
)
CLOSED_EDITABLE = {"name", "contact", "next_step", "next_step_due"}
NAME_MAX = Opportunity._meta.get_field("name").max_length


def _clean_opportunity_values(by, values: dict[str, Any], *, pipeline: Pipeline) -> dict:
    out = dict(values)
    errors: dict[str, str] = {}
    if "name" in out:
        out["name"] = (out["name"] or "").strip()
        if not out["name"]:
            errors["name"] = "Give the deal a name."
        elif len(out["name"]) > NAME_MAX:  # PostgreSQL would refuse it with a DataError
            errors["name"] = f"Keep the name to {NAME_MAX} characters or fewer."
    if "amount" in out:
        try:
            out["amount"] = _money(out["amount"])
        except ValidationError as e:
            errors.update(e.message_dict)
    if "probability" in out:
        try:
            out["probability"] = _probability(out["probability"])
        except ValidationError as e:
            errors.update(e.message_dict)
    if "expected_close_date" in out:
        if out["expected_close_date"] in (None, ""):
            errors["expected_close_date"] = "Enter the expected close date."
        else:
            try:
                out["expected_close_date"] = _date(
                    out["expected_close_date"], "expected_close_date"
                )
            except ValidationError as e:
                errors.update(e.message_dict)
    if "next_step_due" in out and out["next_step_due"] not in (None, ""):
        try:
            out["next_step_due"] = _date(out["next_step_due"], "next_step_due")
        except ValidationError as e:
            errors.update(e.message_dict)
    elif "next_step_due" in out:
        out["next_step_due"] = None
    if "forecast_category" in out:
        fc = out["forecast_category"] or ""
        if fc and fc not in (
            ForecastCategory.PIPELINE,
            ForecastCategory.BEST_CASE,
            ForecastCategory.COMMIT,
        ):
            errors["forecast_category"] = (
                "An open deal forecasts as Pipeline, Best case or Commit; close the deal to "
                "make it Closed or Omitted."
            )
        out["forecast_category"] = fc
    if "next_step" in out:
        out["next_step"] = (out["next_step"] or "").strip()[:255]
    if "owner" in out:
        try:
            _require_owner_in_scope(by, out["owner"])
        except ValidationError as e:
            errors.update(e.message_dict)
    if out.get("company") is not None:
        try:
            _check_company_visible(by, out["company"])
        except ValidationError as e:
            errors.update(e.message_dict)
    elif "company" in out:
        errors["company"] = "Choose the customer's company."
    if out.get("contact") is not None:
        contact = out["contact"]
        if not Contact.objects.visible_to(by).filter(pk=contact.pk).exists():
            errors["contact"] = "Choose a contact you can see."
    if errors:
        raise ValidationError(errors)
    return out


@transaction.atomic
def create_opportunity(
    *,
    by,
    name: str,
    company: Company,
    pipeline: Pipeline,
    amount,
    expected_close_date,
    owner=None,
    contact: Contact | None = None,
    stage: Stage | None = None,
    probability=None,
    forecast_category: str = "",
    next_step: str = "",
    next_step_due=None,
) -> Opportunity:
    """Create a deal in ``stage`` (default: the pipeline's first open stage) and record its
    entry as the first stage transition."""
    values = _clean_opportunity_values(
        by,
        {
            "name": name,
            "company": company,
            "contact": contact,
            "owner": owner or by,
            "amount": amount,
            "probability": probability,
            "expected_close_date": expected_close_date,
            "forecast_category": forecast_category,
            "next_step": next_step,
            "next_step_due": next_step_due,
        },
        pipeline=pipeline,
    )
    if not pipeline.is_active:
        raise ValidationError({"pipeline": "This pipeline is archived; choose an active one."})
    if stage is None:
        stage = pipeline.first_open_stage()
        if stage is None:
            raise ValidationError({"pipeline": "This pipeline has no open stage yet."})
    elif stage.pipeline_id != pipeline.pk:
        raise ValidationError({"stage": f"{stage.name} is not a stage of {pipeline.name}."})
    elif not stage.is_open:
        raise ValidationError({"stage": "A new deal starts in an open stage."})
    now = timezone.now()
    opportunity = Opportunity(pipeline=pipeline, stage=stage, stage_entered_at=now, **values)
    _check_exit_criteria(opportunity, stage)
    opportunity._history_user = by
    opportunity.save()
    _record_transition(opportunity=opportunity, from_stage=None, to_stage=stage, by=by, at=now)
    events.deal_created.send(sender=None, opportunity=opportunity, by=by)
    board_cache.changed()
    return opportunity


@transaction.atomic
def update_opportunity(*, opportunity: Opportunity, by, version, **changes) -> Opportunity:
    """Change a deal's fields (never its stage). A stale ``version`` is refused."""
    current = _locked(opportunity)
    _require_edit(by, current, "deal")
    _check_version(current, version)
    unknown = set(changes) - set(OPPORTUNITY_EDITABLE)
    if unknown:
        raise ValidationError(
            f"These fields cannot be changed here: {', '.join(sorted(unknown))}. "
            "Use the stage controls to move a deal."
        )
    owner = changes.get("owner")
    if owner is not None and owner.pk == current.owner_id:
        # Re-posting the current owner is not a change: a deal of a deactivated rep stays
        # editable (its amount, dates ...) until someone reassigns it.
        del changes["owner"]
    values = _clean_opportunity_values(by, changes, pipeline=current.pipeline)
    changed_fields = []
    for field, value in values.items():
        old = (
            getattr(current, field + "_id")
            if field in ("owner", "company", "contact")
            else (getattr(current, field))
        )
        new = value.pk if field in ("owner", "company", "contact") and value is not None else value
        if old != new:
            setattr(current, field, value)
            changed_fields.append(field)
    if not changed_fields:
        return current
    if current.is_closed and set(changed_fields) - CLOSED_EDITABLE:
        raise ValidationError(
            "This deal is closed; its manager or an admin must reopen it before its amount, "
            "dates, owner or forecast change."
        )
    current.version += 1
    tracked = any(f in Opportunity.TRACKED_FIELDS for f in changed_fields)
    _save_opportunity(current, by=by, tracked_changed=tracked)
    events.deal_changed.send(sender=None, opportunity=current, by=by, fields=changed_fields)
    board_cache.changed()
    return current


@transaction.atomic
def move_opportunity(
    *,
    opportunity: Opportunity,
    to_stage: Stage,
    by,
    version: int,
    lost_reason: LostReason | None = None,
    lost_note: str = "",
    closed_on=None,
) -> Opportunity:
    """Move a deal to another stage of its pipeline and record the transition.

    Won sets the closed date; lost needs a lost reason; reopening a closed deal is for the
    owner's manager or an admin. Moving to another stage clears a probability override so
    the deal takes the new stage's probability. Moving to the stage it is in changes nothing.
    ``version`` is the version the caller saw: a stale or missing one is refused.
    """
    current = _locked(opportunity)
    _require_edit(by, current, "deal")
    _check_version(current, version)
    if to_stage.pipeline_id != current.pipeline_id:
        raise ValidationError(
            f"{to_stage.name} belongs to another pipeline; a deal moves only within "
            f"{current.pipeline.name}."
        )
    if to_stage.pk == current.stage_id:
        return current
    from_stage = current.stage
    if from_stage.kind != Stage.Kind.OPEN and not visibility.can_reopen(by, current):
        raise PermissionDenied(
            "This deal is closed. Only the owner's manager or an admin can reopen or move it."
        )
    if to_stage.kind == Stage.Kind.LOST:
        if lost_reason is None:
            raise ValidationError({"lost_reason": "Choose why the deal was lost."})
        if not lost_reason.is_active:
            raise ValidationError({"lost_reason": "That lost reason is no longer in use."})
    if to_stage.kind != Stage.Kind.OPEN and closed_on:
        closed_on = _date(closed_on, "closed_on")
        if closed_on > timezone.localdate():
            raise ValidationError(
                {"closed_on": "A deal cannot close in the future; use today or an earlier date."}
            )
    _check_exit_criteria(current, to_stage)

    now = timezone.now()
    tracked = current.probability is not None
    current.probability = None
    current.stage = to_stage
    current.stage_entered_at = now
    if to_stage.kind == Stage.Kind.OPEN:
        current.closed_on = None
        current.lost_reason = None
        current.lost_note = ""
        if current.forecast_category in (ForecastCategory.CLOSED, ForecastCategory.OMITTED):
            current.forecast_category = ""
            tracked = True
    else:
        current.closed_on = closed_on or timezone.localdate()
        if to_stage.kind == Stage.Kind.LOST:
            current.lost_reason = lost_reason
            current.lost_note = (lost_note or "").strip()[:255]
        else:
            current.lost_reason = None
            current.lost_note = ""
        if current.forecast_category:
            current.forecast_category = ""
            tracked = True
    current.version += 1
    _save_opportunity(current, by=by, tracked_changed=tracked)
    _record_transition(opportunity=current, from_stage=from_stage, to_stage=to_stage, by=by, at=now)
    events.deal_moved.send(sender=None, opportunity=current, by=by)
    board_cache.changed()
    return current


def close_won(*, opportunity: Opportunity, by, version: int, closed_on=None) -> Opportunity:
    stage = opportunity.pipeline.won_stage()
    if stage is None:
        raise ValidationError(f"{opportunity.pipeline.name} has no won stage; ask an admin.")
    return move_opportunity(
        opportunity=opportunity, to_stage=stage, by=by, version=version, closed_on=closed_on
    )


def close_lost(
    *,
    opportunity: Opportunity,
    by,
    lost_reason: LostReason | None,
    version: int,
    lost_note: str = "",
    stage: Stage | None = None,
    closed_on=None,
) -> Opportunity:
    stage = stage or opportunity.pipeline.lost_stages().first()
    if stage is None:
        raise ValidationError(f"{opportunity.pipeline.name} has no lost stage; ask an admin.")
    return move_opportunity(
        opportunity=opportunity,
        to_stage=stage,
        by=by,
        version=version,
        lost_reason=lost_reason,
        lost_note=lost_note,
        closed_on=closed_on,
    )


# --- Activities ------------------------------------------------------------------------------


@transaction.atomic
def log_activity(
    *,
    by,
    kind: str,
    subject: str,
    body: str = "",
    lead: Lead | None = None,
    opportunity: Opportunity | None = None,
    contact: Contact | None = None,
    company: Company | None = None,
    due_on=None,
    occurred_at=None,
    owner=None,
) -> Activity:
    """Log a call, email, meeting or note, or create a task, on a record the user may edit."""
    targets = [t for t in (lead, opportunity, contact, company) if t is not None]
    if len(targets) != 1:
        raise ValidationError("An activity belongs to exactly one lead, deal, contact or company.")
    target = targets[0]
    _require_edit(by, target, "record")
    if kind not in Activity.Kind.values:
        raise ValidationError({"kind": "Choose call, email, meeting, note or task."})
    subject = (subject or "").strip()
    if not subject:
        raise ValidationError({"subject": "Give the activity a subject."})
    if kind == Activity.Kind.TASK:
        if not due_on:
            raise ValidationError({"due_on": "A task needs a due date."})
        due_on = _date(due_on, "due_on")
    elif due_on:
        raise ValidationError({"due_on": "Only tasks have a due date."})
    owner = owner or by
    _require_owner_in_scope(by, owner)
    now = timezone.now()
    activity = Activity.objects.create(
        kind=kind,
        subject=subject[:200],
        body=body or "",
        owner=owner,
        lead=lead,
        opportunity=opportunity,
        contact=contact,
        company=company,
        due_on=due_on if kind == Activity.Kind.TASK else None,
        occurred_at=occurred_at or now,
    )
    if opportunity is not None and kind != Activity.Kind.TASK:
        # A back-dated activity never moves the deal's last activity back in time.
        Opportunity.objects.filter(
            Q(last_activity_at__isnull=True) | Q(last_activity_at__lt=activity.occurred_at),
            pk=opportunity.pk,
        ).update(last_activity_at=activity.occurred_at)
    if lead is not None and lead.status == Lead.Status.NEW and kind != Activity.Kind.TASK:
        Lead.objects.filter(pk=lead.pk).update(status=Lead.Status.WORKING, updated_at=now)
    events.activity_logged.send(sender=None, activity=activity, by=by)
    return activity


@transaction.atomic
def complete_task(*, activity: Activity, by) -> Activity:
    activity = Activity.objects.select_for_update().get(pk=activity.pk)
    _require_edit(by, activity, "task")
    if activity.kind != Activity.Kind.TASK:
        raise ValidationError("Only tasks can be completed.")
    if activity.done_at is not None:
        return activity
    activity.done_at = timezone.now()
    activity.save(update_fields=["done_at"])
    if activity.opportunity_id:
        Opportunity.objects.filter(
            Q(last_activity_at__isnull=True) | Q(last_activity_at__lt=activity.done_at),
            pk=activity.opportunity_id,
        ).update(last_activity_at=activity.done_at)
    return activity


@transaction.atomic
def reopen_task(*, activity: Activity, by) -> Activity:
    activity = Activity.objects.select_for_update().get(pk=activity.pk)
    _require_edit(by, activity, "task")
    if activity.kind != Activity.Kind.TASK:
        raise ValidationError("Only tasks can be reopened.")
    activity.done_at = None
    activity.save(update_fields=["done_at"])
    return activity
