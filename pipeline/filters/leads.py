"""The lead list's FilterSet (the shared search, sort and owner pieces: ``pipeline.filters``)."""

from __future__ import annotations

import django_filters

from pipeline.filters import SEARCH_MAX_LENGTH, SortFilter, VisibleOwnerFilterSet, search_words
from pipeline.models import Lead

LEAD_STATUS_CHOICES = [
    ("open", "Open (new, working, prospect)"),
    ("all", "All statuses"),
    *Lead.Status.choices,
]


class LeadFilter(VisibleOwnerFilterSet):
    """Status (default: open), source, owner, search and sort of the lead list."""

    bar = ("status", "source")

    q = django_filters.CharFilter(method="search", label="Search", max_length=SEARCH_MAX_LENGTH)
    status = django_filters.ChoiceFilter(
        choices=LEAD_STATUS_CHOICES, method="by_status", label="Status", empty_label=None
    )
    source = django_filters.ChoiceFilter(
        choices=Lead.Source.choices, label="Source", empty_label="Any source"
    )
    owner = django_filters.ModelChoiceFilter(
        queryset=None, label="Owner", empty_label="Anyone I can see"
    )
    sort = SortFilter(
        sorts={
            "name": ("last_name", "first_name"),
            "company": ("company_name",),
            "status": ("status",),
            "source": ("source",),
            "owner": ("owner__first_name", "owner__last_name", "owner__username"),
            "budget": ("budget",),
            "created": ("created_at",),
        }
    )

    class Meta:
        model = Lead
        fields: list[str] = []

    defaults = {"status": "open"}

    def search(self, queryset, name, value):
        # A converted lead is found by the company and contact it was linked to, too, not
        # only by the company text typed on it.
        return search_words(
            queryset,
            value,
            (
                "first_name", "last_name", "email", "company_name", "title",
                "company__name", "contact__first_name", "contact__last_name",
            ),
        )  # fmt: skip

    def by_status(self, queryset, name, value):
        if value == "open":
            return queryset.filter(status__in=Lead.OPEN_STATUSES)
        if value in Lead.Status.values:
            return queryset.filter(status=value)
        return queryset
