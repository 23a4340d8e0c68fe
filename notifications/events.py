"""The hooks the domain services call when something happens that someone should hear of.

The services announce domain events (:mod:`pipeline.events`, :mod:`forecasting.events`); this
app's ``ready`` connects these hooks to them. Each runs inside the service's transaction and
only remembers ids: the notifications are written by
:func:`transaction.on_commit` once the change is committed (never for a rolled-back change),
and a failure there is logged without failing the user's action (``robust=True``).
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.urls import reverse

logger = logging.getLogger(__name__)


def _later(func, **kwargs) -> None:
    transaction.on_commit(lambda: func(**kwargs), robust=True)


def _by_id(by):
    return getattr(by, "pk", None)


def deal_created(*, opportunity, by) -> None:
    """A deal created for someone else is assigned to them."""
    if opportunity.owner_id != _by_id(by):
        _later(_deal_assigned, opportunity_id=opportunity.pk, by_id=_by_id(by))


def deal_changed(*, opportunity, by, fields) -> None:
    """Of a deal's edits, a new owner is worth telling the new owner."""
    if "owner" in fields and opportunity.owner_id != _by_id(by):
        _later(_deal_assigned, opportunity_id=opportunity.pk, by_id=_by_id(by))


def deal_moved(*, opportunity, by) -> None:
    """A deal won or lost is told to the owner's team manager."""
    if opportunity.stage.kind in ("won", "lost"):
        _later(_deal_closed, opportunity_id=opportunity.pk, by_id=_by_id(by))


def lead_assigned(*, lead, by) -> None:
    if lead.owner_id != _by_id(by):
        _later(_lead_assigned, lead_id=lead.pk, by_id=_by_id(by))


def activity_logged(*, activity, by) -> None:
    """A task for someone else is assigned to them; @mentions tell those mentioned."""
    if activity.kind == "task" and activity.owner_id != _by_id(by):
        _later(_task_assigned, activity_id=activity.pk, by_id=_by_id(by))
    if "@" in f"{activity.subject} {activity.body}":
        _later(_mentions, activity_id=activity.pk, by_id=_by_id(by))


def adjustment_set(*, adjustment, by) -> None:
    """A manager's call on a rep's number is told to that rep."""
    if adjustment is not None and adjustment.user_id and adjustment.user_id != _by_id(by):
        _later(_adjustment, adjustment_id=adjustment.pk, by_id=_by_id(by))


# --- delivered after commit ------------------------------------------------------------------


def _user(pk):
    from accounts.models import User

    return User.objects.filter(pk=pk).first() if pk else None


def _deal_assigned(*, opportunity_id, by_id):
    from notifications.services import notify
    from pipeline.models import Opportunity

    deal = Opportunity.objects.select_related("owner", "company").filter(pk=opportunity_id).first()
    if deal is None:
        return
    actor = _user(by_id)
    notify(
        recipient=deal.owner,
        event="deal_assigned",
        actor=actor,
        title=f"{actor or 'Someone'} assigned you the deal {deal.name}",
        body=f"{deal.company or 'No company'} · closes {deal.expected_close_date:%b %-d, %Y}",
        url=deal.get_absolute_url(),
    )


def _deal_closed(*, opportunity_id, by_id):
    from notifications.services import notify
    from pipeline.models import Opportunity
    from pipeline.templatetags.opportune import money

    deal = (
        Opportunity.objects.select_related("owner__team__manager", "stage")
        .filter(pk=opportunity_id)
        .first()
    )
    if deal is None or deal.stage.kind not in ("won", "lost") or deal.owner.team is None:
        return
    manager = deal.owner.team.manager
    if manager is None or manager.pk == deal.owner_id:
        return
    verb = "won" if deal.stage.kind == "won" else "lost"
    notify(
        recipient=manager,
        event="deal_closed",
        actor=_user(by_id),
        title=f"{deal.owner} {verb} {deal.name} ({money(deal.amount)})",
        url=deal.get_absolute_url(),
    )


def _lead_assigned(*, lead_id, by_id):
    from notifications.services import notify
    from pipeline.models import Lead

    lead = Lead.objects.select_related("owner").filter(pk=lead_id).first()
    if lead is None:
        return
    actor = _user(by_id)
    notify(
        recipient=lead.owner,
        event="lead_assigned",
        actor=actor,
        title=f"{actor or 'Someone'} assigned you the lead {lead.full_name}",
        body=lead.company_name,
        url=lead.get_absolute_url(),
    )


def _task_assigned(*, activity_id, by_id):
    from notifications.services import notify
    from pipeline.models import Activity

    task = Activity.objects.select_related("owner").filter(pk=activity_id).first()
    if task is None or task.done_at is not None:
        return
    actor = _user(by_id)
    notify(
        recipient=task.owner,
        event="task_assigned",
        actor=actor,
        title=f"{actor or 'Someone'} gave you a task: {task.subject}",
        body=f"Due {task.due_on:%b %-d, %Y}" if task.due_on else "",
        url=task.get_absolute_url(),
    )


def _mentions(*, activity_id, by_id):
    from notifications.selectors import mentioned_recipients
    from notifications.services import notify
    from pipeline.models import Activity

    activity = (
        Activity.objects.select_related("opportunity", "lead", "contact", "company")
        .filter(pk=activity_id)
        .first()
    )
    author = _user(by_id)
    if activity is None or author is None:
        return
    text = f"{activity.subject}\n{activity.body}"
    for recipient in mentioned_recipients(author, text, activity):
        notify(
            recipient=recipient,
            event="mention",
            actor=author,
            title=f"{author} mentioned you on {activity.target}",
            body=(activity.body or activity.subject)[:500],
            url=activity.get_absolute_url(),
        )


def _adjustment(*, adjustment_id, by_id):
    from forecasting.models import ForecastAdjustment
    from notifications.services import notify
    from pipeline.templatetags.opportune import money

    adjustment = ForecastAdjustment.objects.select_related("user").filter(pk=adjustment_id).first()
    if adjustment is None or adjustment.user is None:
        return
    actor = _user(by_id)
    label = (
        f"Q{(adjustment.period.month - 1) // 3 + 1} {adjustment.period.year}"
        if adjustment.period_kind == "quarter"
        else f"{adjustment.period:%B %Y}"
    )
    notify(
        recipient=adjustment.user,
        event="adjustment",
        actor=actor,
        title=f"{actor or 'Your manager'} set your {label} forecast to {money(adjustment.amount)}",
        body=adjustment.note,
        url=reverse("forecasting:dashboard"),
    )
