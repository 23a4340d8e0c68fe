"""Opportunities: create, edit, move between stages, win and lose deals. Nothing but this
module assigns an opportunity's stage; every change names the version it was made against.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts import visibility
from pipeline import board_cache, events
from pipeline.currency import reporting_currency
from pipeline.models import (
    Company,
    Contact,
    ExitCriterion,
    ForecastCategory,
    LostReason,
    Opportunity,
    Pipeline,
    Stage,
    StageTransition,
)
from pipeline.services.companies import check_company_visible
from pipeline.services.validation import (
    check_version,
    parse_currency,
    parse_date,
    parse_money,
    parse_probability,
    require_edit,
    require_owner_in_scope,
)

OPPORTUNITY_EDITABLE = (
    "name",
    "company",
    "contact",
    "owner",
    "amount",
    "currency",
    "probability",
    "expected_close_date",
    "forecast_category",
    "next_step",
    "next_step_due",
)
CLOSED_EDITABLE = {"name", "contact", "next_step", "next_step_due"}
NAME_MAX = Opportunity._meta.get_field("name").max_length


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
        probability=to_stage.probability_for(opportunity.probability),
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
            out["amount"] = parse_money(out["amount"])
        except ValidationError as e:
            errors.update(e.message_dict)
    if "currency" in out:
        try:
            out["currency"] = parse_currency(out["currency"])
        except ValidationError as e:
            errors.update(e.message_dict)
    if "probability" in out:
        try:
            out["probability"] = parse_probability(out["probability"])
        except ValidationError as e:
            errors.update(e.message_dict)
    if "expected_close_date" in out:
        if out["expected_close_date"] in (None, ""):
            errors["expected_close_date"] = "Enter the expected close date."
        else:
            try:
                out["expected_close_date"] = parse_date(
                    out["expected_close_date"], "expected_close_date"
                )
            except ValidationError as e:
                errors.update(e.message_dict)
    if "next_step_due" in out and out["next_step_due"] not in (None, ""):
        try:
            out["next_step_due"] = parse_date(out["next_step_due"], "next_step_due")
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
            require_owner_in_scope(by, out["owner"])
        except ValidationError as e:
            errors.update(e.message_dict)
    if out.get("company") is not None:
        try:
            check_company_visible(by, out["company"])
        except ValidationError as e:
            errors.update(e.message_dict)
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
    company: Company | None,
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
    currency: str | None = None,
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
            "currency": currency or reporting_currency(),
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
    require_edit(by, current, "deal")
    check_version(current, version)
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
    current_currency = current.currency
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
    if "currency" in changed_fields and current.line_items.exists():
        raise ValidationError(
            {
                "currency": "This deal's line items are priced in "
                f"{current_currency}; remove them before changing its currency."
            }
        )
    if "amount" in changed_fields and current.line_items.exists():
        raise ValidationError(
            {
                "amount": "This deal's amount is the sum of its line items; change its "
                "products instead."
            }
        )
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
    require_edit(by, current, "deal")
    check_version(current, version)
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
        closed_on = parse_date(closed_on, "closed_on")
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
