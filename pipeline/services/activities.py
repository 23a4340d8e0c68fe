"""Activities: log calls, emails, meetings and notes, and create, complete and reopen
tasks on a record the user may edit."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from pipeline import events
from pipeline.models import Activity, Company, Contact, Lead, Opportunity
from pipeline.services.validation import (
    check_version,
    parse_date,
    require_edit,
    require_owner_in_scope,
)


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
    require_edit(by, target, "record")
    if kind not in Activity.Kind.values:
        raise ValidationError({"kind": "Choose call, email, meeting, note or task."})
    subject = (subject or "").strip()
    if not subject:
        raise ValidationError({"subject": "Give the activity a subject."})
    if kind == Activity.Kind.TASK:
        if not due_on:
            raise ValidationError({"due_on": "A task needs a due date."})
        due_on = parse_date(due_on, "due_on")
    elif due_on:
        raise ValidationError({"due_on": "Only tasks have a due date."})
    owner = owner or by
    require_owner_in_scope(by, owner)
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
        Lead.objects.filter(pk=lead.pk).update(
            status=Lead.Status.WORKING, updated_at=now, version=F("version") + 1
        )
    events.activity_logged.send(sender=None, activity=activity, by=by)
    return activity


def _locked_activity(activity: Activity, by, version, what: str = "task") -> Activity:
    """The activity, locked, when ``by`` may change it; a ``version`` the caller names must
    be the stored one."""
    activity = Activity.objects.select_for_update().get(pk=activity.pk)
    require_edit(by, activity, what)
    if version is not None:
        check_version(activity, version, what)
    return activity


def _locked_task(activity: Activity, by, verb: str, version=None) -> Activity:
    """The task, locked, when ``by`` may change it; refused for other activities."""
    activity = _locked_activity(activity, by, version)
    if activity.kind != Activity.Kind.TASK:
        raise ValidationError(f"Only tasks can be {verb}.")
    return activity


@transaction.atomic
def update_activity(*, activity: Activity, by, version, done=None, **changes) -> Activity:
    """Change an activity's subject, body, time or (tasks) due date, and complete or reopen a
    task (``done``). ``version`` is the version the caller saw: a stale one is refused."""
    if version is None:
        activity = Activity.objects.get(pk=activity.pk)
        check_version(activity, version, "activity")  # refused: every edit names its version
    activity = _locked_activity(activity, by, version, "activity")
    unknown = set(changes) - {"subject", "body", "occurred_at", "due_on"}
    if unknown:
        raise ValidationError(f"These fields cannot be changed: {', '.join(sorted(unknown))}.")
    if "subject" in changes:
        subject = (changes["subject"] or "").strip()
        if not subject:
            raise ValidationError({"subject": "Give the activity a subject."})
        activity.subject = subject[:200]
    if "body" in changes:
        activity.body = changes["body"] or ""
    if changes.get("occurred_at") is not None:
        activity.occurred_at = changes["occurred_at"]
    is_task = activity.kind == Activity.Kind.TASK
    if "due_on" in changes:
        if not is_task:
            if changes["due_on"]:
                raise ValidationError({"due_on": "Only tasks have a due date."})
        elif not changes["due_on"]:
            raise ValidationError({"due_on": "A task needs a due date."})
        else:
            activity.due_on = parse_date(changes["due_on"], "due_on")
    if done is not None:
        if not is_task:
            raise ValidationError({"done": "Only tasks can be completed or reopened."})
        if done and activity.done_at is None:
            activity.done_at = timezone.now()
        elif not done:
            activity.done_at = None
    activity.version += 1
    activity.save()
    if activity.opportunity_id and activity.done_at and done:
        Opportunity.objects.filter(
            Q(last_activity_at__isnull=True) | Q(last_activity_at__lt=activity.done_at),
            pk=activity.opportunity_id,
        ).update(last_activity_at=activity.done_at)
    return activity


@transaction.atomic
def complete_task(*, activity: Activity, by, version=None) -> Activity:
    activity = _locked_task(activity, by, "completed", version)
    if activity.done_at is not None:
        return activity
    activity.done_at = timezone.now()
    activity.version += 1
    activity.save(update_fields=["done_at", "version"])
    if activity.opportunity_id:
        Opportunity.objects.filter(
            Q(last_activity_at__isnull=True) | Q(last_activity_at__lt=activity.done_at),
            pk=activity.opportunity_id,
        ).update(last_activity_at=activity.done_at)
    return activity


@transaction.atomic
def reopen_task(*, activity: Activity, by, version=None) -> Activity:
    activity = _locked_task(activity, by, "reopened", version)
    activity.done_at = None
    activity.version += 1
    activity.save(update_fields=["done_at", "version"])
    return activity
