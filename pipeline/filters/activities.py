"""The activity list's FilterSet. Its queryset is always ``Activity.objects.visible_to(user)``;
owner choices are the users ``user`` may see.

The text search reads only the activity's own subject and notes, never the name of the record
it is on: an activity stays visible to whoever logged it after its deal is reassigned, and a
search by the deal's name would then tell its former owner which deal it was.
"""

from __future__ import annotations

import datetime as dt

import django_filters
from django import forms
from django.utils import timezone

from pipeline.filters import SEARCH_MAX_LENGTH, SortFilter, VisibleOwnerFilterSet, search_words
from pipeline.models import Activity
from pipeline.validators import BusinessDateFilter

TASK_STATUS_CHOICES = (("open", "Open tasks"), ("done", "Done tasks"))


class _DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


def _start_of(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


class ActivityFilter(VisibleOwnerFilterSet):
    """Kind, task status, owner, date range (when it happened), search and sort of the
    activity list."""

    bar = ("kind", "task_status", "occurred_from", "occurred_until")

    q = django_filters.CharFilter(method="search", label="Search", max_length=SEARCH_MAX_LENGTH)
    kind = django_filters.ChoiceFilter(
        choices=Activity.Kind.choices, label="Kind", empty_label="Any kind"
    )
    task_status = django_filters.ChoiceFilter(
        choices=TASK_STATUS_CHOICES,
        method="by_task_status",
        label="Tasks",
        empty_label="Any",
    )
    occurred_from = BusinessDateFilter(method="by_occurred_from", label="From", widget=_DateInput())
    occurred_until = BusinessDateFilter(
        method="by_occurred_until", label="Until", widget=_DateInput()
    )
    owner = django_filters.ModelChoiceFilter(
        queryset=None, label="Owner", empty_label="Anyone I can see"
    )
    sort = SortFilter(
        sorts={
            "when": ("occurred_at",),
            "kind": ("kind",),
            "subject": ("subject",),
            "owner": ("owner__first_name", "owner__last_name", "owner__username"),
            "due": ("due_on",),
        }
    )

    class Meta:
        model = Activity
        fields: list[str] = []

    def search(self, queryset, name, value):
        return search_words(queryset, value, ("subject", "body"))

    def by_task_status(self, queryset, name, value):
        tasks = queryset.filter(kind=Activity.Kind.TASK)
        if value == "open":
            return tasks.filter(done_at__isnull=True)
        if value == "done":
            return tasks.filter(done_at__isnull=False)
        return queryset

    def by_occurred_from(self, queryset, name, value):
        # Whole local days: "from Dec 1" starts at midnight of Dec 1 in the app's time zone.
        return queryset.filter(occurred_at__gte=_start_of(value))

    def by_occurred_until(self, queryset, name, value):
        return queryset.filter(occurred_at__lt=_start_of(value + dt.timedelta(days=1)))
