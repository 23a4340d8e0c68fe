"""The company list's FilterSet. Its queryset is always ``visible_to(user)``; owner
choices are ``visible_users(user)``."""

from __future__ import annotations

import django_filters

from pipeline.filters import SEARCH_MAX_LENGTH, SortFilter, VisibleOwnerFilterSet, search_words
from pipeline.models import Company

YES_NO = (("yes", "Yes"), ("no", "No"))


class CompanyFilter(VisibleOwnerFilterSet):
    """Search, owner, industry, open deals, and sort of the company list.

    The list's queryset must carry the ``open_count`` and ``open_amount`` annotations
    (``pipeline.selectors.companies.company_list``).
    """

    bar = ("industry", "open_deals")

    q = django_filters.CharFilter(method="search", label="Search", max_length=SEARCH_MAX_LENGTH)
    owner = django_filters.ModelChoiceFilter(
        queryset=None, label="Owner", empty_label="Anyone I can see"
    )
    industry = django_filters.CharFilter(
        field_name="industry", lookup_expr="iexact", label="Industry", max_length=100
    )
    open_deals = django_filters.ChoiceFilter(
        choices=YES_NO, method="by_open_deals", label="Open deals", empty_label="Any"
    )
    sort = SortFilter(
        sorts={
            "name": ("name",),
            "industry": ("industry",),
            "location": ("country", "city"),
            "owner": ("owner__first_name", "owner__last_name", "owner__username"),
            "open_count": ("open_count",),
            "open_amount": ("open_amount",),
            "created": ("created_at",),
        }
    )

    class Meta:
        model = Company
        fields: list[str] = []

    def search(self, queryset, name, value):
        return search_words(queryset, value, ("name", "website", "industry", "city", "country"))

    def by_open_deals(self, queryset, name, value):
        if value == "yes":
            return queryset.filter(open_count__gt=0)
        if value == "no":
            return queryset.filter(open_count=0)
        return queryset
