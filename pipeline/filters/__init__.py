"""FilterSets of the rep's workspace lists, one module per list; the search, sort and
visible-owner pieces every list shares live here.

The queryset handed to a FilterSet is always ``visible_to(user)``: a filter only narrows it.
Owner choices are ``visible_users(user)``, so naming another rep in the URL is a form error
that is ignored, never a leak. Sort keys are whitelisted: an unknown ``?sort=`` is ignored.
"""

from __future__ import annotations

import django_filters
from django.db.models import F, Q

from accounts.visibility import visible_users

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
    #: The filters the list's filter bar shows besides search and owner, in order.
    bar: tuple[str, ...] = ()

    @property
    def bar_fields(self) -> list:
        return [self.form[name] for name in self.bar]

    def filter_queryset(self, queryset):
        """The valid filters narrow the rows; a value the form refused (``?status=bogus``)
        leaves the list as it is without that value (its default, where it has one), and
        the filter bar says why under the field."""
        queryset = super().filter_queryset(queryset)
        for name, value in self.defaults.items():
            if name in self.form.errors:
                queryset = self.filters[name].filter(queryset, value)
        return queryset

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
