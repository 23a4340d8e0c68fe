"""Leads: capture, work, qualify, disqualify and convert a lead into an opportunity."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from pipeline import events
from pipeline.models import Activity, Company, Contact, Lead, Opportunity, Pipeline
from pipeline.services.companies import check_company_visible, create_company
from pipeline.services.contacts import create_contact
from pipeline.services.opportunities import NAME_MAX, create_opportunity
from pipeline.services.validation import (
    apply_fields,
    check_version,
    parse_money,
    require_edit,
    require_owner_in_scope,
)

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
    require_owner_in_scope(by, owner)
    if data.get("budget") not in (None, ""):
        data["budget"] = parse_money(data["budget"], "budget")
    lead = Lead(owner=owner, status=Lead.Status.NEW)
    apply_fields(lead, data, LEAD_FIELDS)
    lead.full_clean()
    lead.save()
    events.lead_created.send(sender=None, lead=lead, by=by)
    events.lead_assigned.send(sender=None, lead=lead, by=by)
    return lead


@transaction.atomic
def update_lead(*, lead: Lead, by, version, owner=None, **data) -> Lead:
    """Change an open lead's fields; ``version`` is the version the caller saw."""
    lead = Lead.objects.select_for_update().get(pk=lead.pk)
    require_edit(by, lead, "lead")
    check_version(lead, version, "lead")
    if not lead.is_open:
        raise ValidationError(
            f"This lead is {lead.get_status_display().lower()} and can no longer be edited."
        )
    if owner is not None and owner != lead.owner:
        require_owner_in_scope(by, owner)
        lead.owner = owner
        events.lead_assigned.send(sender=None, lead=lead, by=by)
    if data.get("budget") not in (None, ""):
        data["budget"] = parse_money(data["budget"], "budget")
    apply_fields(lead, data, LEAD_FIELDS)
    lead.full_clean()
    lead.version += 1
    lead.save()
    return lead


@transaction.atomic
def _locked_lead(lead: Lead, by, version) -> Lead:
    """The lead's row, locked; a ``version`` the caller names must be the stored one (the
    one-click actions of the pages name none; the API always does)."""
    lead = Lead.objects.select_for_update().get(pk=lead.pk)
    require_edit(by, lead, "lead")
    if version is not None:
        check_version(lead, version, "lead")
    return lead


@transaction.atomic
def start_working_lead(*, lead: Lead, by, version=None) -> Lead:
    lead = _locked_lead(lead, by, version)
    if lead.status != Lead.Status.NEW:
        raise ValidationError("Only a new lead can be started.")
    lead.status = Lead.Status.WORKING
    lead.version += 1
    lead.save(update_fields=["status", "version", "updated_at"])
    return lead


@transaction.atomic
def qualify_lead(*, lead: Lead, by, version=None) -> Lead:
    """Mark the lead a prospect: it fits the ideal customer profile."""
    lead = _locked_lead(lead, by, version)
    if lead.status == Lead.Status.PROSPECT:
        return lead
    if lead.status not in (Lead.Status.NEW, Lead.Status.WORKING):
        raise ValidationError(
            f"A {lead.get_status_display().lower()} lead cannot be qualified; only new or "
            "working leads can."
        )
    lead.status = Lead.Status.PROSPECT
    lead.qualified_at = timezone.now()
    lead.version += 1
    lead.save(update_fields=["status", "qualified_at", "version", "updated_at"])
    return lead


@transaction.atomic
def disqualify_lead(*, lead: Lead, by, reason: str, version=None) -> Lead:
    lead = _locked_lead(lead, by, version)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the lead is disqualified."})
    if not lead.is_open:
        raise ValidationError(f"A {lead.get_status_display().lower()} lead cannot be disqualified.")
    lead.status = Lead.Status.DISQUALIFIED
    lead.disqualification_reason = reason[:255]
    lead.disqualified_at = timezone.now()
    lead.version += 1
    lead.save(
        update_fields=[
            "status",
            "disqualification_reason",
            "disqualified_at",
            "version",
            "updated_at",
        ]
    )
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
    version=None,
) -> Opportunity:
    """Turn a prospect into an opportunity in the pipeline's first open stage.

    Requires a defined need, budget and timeline. Links the given company and contact or
    creates them from the lead's details. A ``version`` the caller names must be current.
    """
    lead = _locked_lead(lead, by, version)
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
    require_owner_in_scope(by, owner)
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
        check_company_visible(by, company)
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
    lead.version += 1
    lead.save()
    Activity.objects.filter(lead=lead).update(opportunity=opportunity, version=F("version") + 1)
    events.lead_converted.send(sender=None, lead=lead, opportunity=opportunity, by=by)
    return opportunity
