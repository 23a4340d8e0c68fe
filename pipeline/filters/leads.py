"""The lead list's FilterSet, and the sort and search helpers every list of the rep's
workspace shares (companies and contacts use them too).

The queryset handed to a FilterSet is always ``visible_to(user)``: a filter only narrows it.
Owner choices are ``visible_users(user)``, so naming another rep in the URL is a form error
that is ignored, never a leak. Sort keys are whitelisted: an unknown ``?sort=`` is ignored.
"""

from __future__ import annotations

import django_filters
from django.db.models import F, Q

from accounts.visibility import visible_users
from pipeline.models import Lead

SEARCH_MAX_LENGTH = 100
SEARCH_MAX_WORDS = 6


def search_words(queryset, value: str, fields: tuple[str, ...]):
    """Every word must match at least one of ``fields`` (case-insensitive substring), so
    "dana acme" finds Dana at Acme."""
    # NUL characters cannot be sent to PostgreSQL; they never match anything anyway.
    words = (value or "").replace("\x00", "").split()[:SEARCH_MAX_WORDS]
    for word in words:
        q = Q()
        for field in fields:
            q |= Q(**{f"{field}__icontains": word})
        queryset = queryset.filter(q)
    return queryset


class SortFilter(django_filters.ChoiceFilter):
    """``?sort=key`` or ``?sort=-key`` for the whitelisted keys of ``sorts`` (key → the
    fields to order by). Empty values sort last either way; the primary key breaks ties so
    pages never overlap."""

    def __init__(self, *, sorts: dict[str, tuple[str, ...]], **kwargs):
        self.sorts = sorts
        choices = []
        for key in sorts:
            choices += [(key, key), (f"-{key}", f"-{key}")]
        kwargs.setdefault("label", "Sort")
        super().__init__(choices=choices, **kwargs)

    def filter(self, qs, value):
        if not value:
            return qs
        descending = value.startswith("-")
        fields = self.sorts[value.removeprefix("-")]
        order = []
        for field in fields:
            desc = descending != field.startswith("-")
            expr = F(field.removeprefix("-"))
            order.append(expr.desc(nulls_last=True) if desc else expr.asc(nulls_last=True))
        order.append("-pk" if descending else "pk")
        return qs.order_by(*order)


class VisibleOwnerFilterSet(django_filters.FilterSet):
    """A FilterSet whose ``owner`` choices are the users ``user`` may see."""

    def __init__(self, data=None, queryset=None, *, user, **kwargs):
        super().__init__(data, queryset, **kwargs)
        self.user = user
        if "owner" in self.filters:
            self.filters["owner"].queryset = visible_users(user).order_by(
                "first_name", "last_name", "username"
            )

    #: Values that mean "no narrowing" (the list's defaults), e.g. the lead list's open status.
    defaults: dict[str, str] = {}

    def _cleaned(self) -> dict:
        if not self.is_bound:
            return {}
        self.form.is_valid()
        return getattr(self.form, "cleaned_data", {})

    @property
    def sort(self) -> str:
        """The valid sort key in effect ('' when none), for the sortable headers."""
        return self._cleaned().get("sort") or ""

    @property
    def active(self) -> bool:
        """Whether a filter or search narrows the list beyond its defaults."""
        return any(
            v not in (None, "", [])
            for k, v in self._cleaned().items()
            if k in self.filters and k != "sort" and self.defaults.get(k) != v
        )


LEAD_STATUS_CHOICES = [
    ("open", "Open (new, working, prospect)"),
    ("all", "All statuses"),
    *Lead.Status.choices,
]


class LeadFilter(VisibleOwnerFilterSet):
    """Status (default: open), source, owner, search and sort of the lead list."""

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
        return search_words(
            queryset, value, ("first_name", "last_name", "email", "company_name", "title")
        )

    def by_status(self, queryset, name, value):
        if value == "open":
            return queryset.filter(status__in=Lead.OPEN_STATUSES)
        if value in Lead.Status.values:
            return queryset.filter(status=value)
        return queryset
