"""Reads for activities: the target record an activity is logged on, the activity list, and My
tasks."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Q
from django.http import Http404
from django.utils import timezone

from pipeline.filters.activities import ActivityFilter
from pipeline.models import Activity, Company, Contact, Lead, Opportunity

TARGET_MODELS = {
    "opportunity": Opportunity,
    "lead": Lead,
    "contact": Contact,
    "company": Company,
}
TASK_LIST_LIMIT = 50


def activity_target(*, user, params) -> tuple[str, object]:
    """The one record named in ``params`` (``?opportunity=<pk>`` etc.) that ``user`` may see.

    Raises Http404 when none, several, a malformed id or an invisible record is named, so a
    rep cannot probe for other reps' records.
    """
    named = [(field, params.get(field)) for field in TARGET_MODELS if params.get(field)]
    if len(named) != 1:
        raise Http404("Name exactly one lead, deal, contact or company.")
    field, raw = named[0]
    try:
        pk = int(str(raw).strip())
    except (TypeError, ValueError):
        raise Http404("No such record.") from None
    if pk <= 0 or pk > 2**63 - 1:
        raise Http404("No such record.")
    obj = TARGET_MODELS[field].objects.visible_to(user).filter(pk=pk).select_related("owner")
    obj = obj.first()
    if obj is None:
        raise Http404("No such record.")
    return field, obj


def _task_rows(qs, user):
    return (
        qs.with_visible_targets(user)
        .select_related("lead", "opportunity", "contact", "company")
        .order_by("due_on", "id")
    )


def my_tasks(*, user, today: dt.date | None = None) -> dict:
    """The user's own open tasks split into overdue, due today and upcoming (each capped at
    ``TASK_LIST_LIMIT`` rows, with the full counts), and the tasks they completed today.

    A fixed number of queries whatever the number of tasks: one for the counts, one per list.
    """
    today = today or timezone.localdate()
    mine = Activity.objects.visible_to(user).filter(owner=user, kind=Activity.Kind.TASK)
    open_tasks = mine.filter(done_at__isnull=True)
    counts = open_tasks.aggregate(
        overdue=Count("id", filter=Q(due_on__lt=today)),
        today=Count("id", filter=Q(due_on=today)),
        upcoming=Count("id", filter=Q(due_on__gt=today)),
    )
    start_of_day = timezone.make_aware(dt.datetime.combine(today, dt.time.min))
    return {
        "today": today,
        "counts": counts,
        "overdue": list(_task_rows(open_tasks.filter(due_on__lt=today), user)[:TASK_LIST_LIMIT]),
        "due_today": list(_task_rows(open_tasks.filter(due_on=today), user)[:TASK_LIST_LIMIT]),
        "upcoming": list(_task_rows(open_tasks.filter(due_on__gt=today), user)[:TASK_LIST_LIMIT]),
        "done_today": list(
            mine.filter(done_at__gte=start_of_day)
            .with_visible_targets(user)
            .select_related("lead", "opportunity", "contact", "company")
            .order_by("-done_at", "-id")[:TASK_LIST_LIMIT]
        ),
    }


def open_tasks(*, user):
    """The user's own open tasks, soonest due first, with their records' visibility (the
    rows of the task list's export)."""
    return (
        Activity.objects.visible_to(user)
        .filter(owner=user, kind=Activity.Kind.TASK, done_at__isnull=True)
        .with_visible_targets(user)
        .order_by("due_on", "id")
    )


def task_for(*, user, pk: int) -> Activity:
    """A task the user may see (a manager sees the team's), or 404."""
    task = (
        Activity.objects.visible_to(user)
        .filter(pk=pk, kind=Activity.Kind.TASK)
        .with_visible_targets(user)
        .select_related("owner", "lead", "opportunity", "contact", "company")
        .first()
    )
    if task is None:
        raise Http404("No such task.")
    return task


def activity_list(*, user, params) -> ActivityFilter:
    """The activity list's FilterSet over the calls, emails, meetings, notes and tasks ``user``
    may see, newest first; ``.qs`` holds the rows, each naming its record only when ``user``
    may open it (``visible_target``)."""
    queryset = (
        Activity.objects.visible_to(user)
        .with_visible_targets(user)
        .select_related("owner", "lead", "opportunity", "contact", "company")
        .order_by("-occurred_at", "-id")
    )
    return ActivityFilter(params.copy(), queryset=queryset, user=user)
