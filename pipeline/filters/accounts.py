"""FilterSets of the company and contact lists. The querysets they narrow are always
``visible_to(user)``; owner choices are ``visible_users(user)`` and company choices the
companies the user may see, so a URL cannot reach beyond the user's scope."""

from __future__ import annotations

import django_filters
from django import forms

from pipeline.filters.leads import (
    SEARCH_MAX_LENGTH,
    SortFilter,
    VisibleOwnerFilterSet,
    search_words,
)
from pipeline.models import Company, Contact

YES_NO = (("yes", "Yes"), ("no", "No"))


class CompanyFilter(VisibleOwnerFilterSet):
    """Search, owner, industry, open deals, and sort of the company list.

    The list's queryset must carry the ``open_count`` and ``open_amount`` annotations
    (``pipeline.selectors.accounts.company_list``).
    """

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


class ContactFilter(VisibleOwnerFilterSet):
    """Search, owner, company, decision maker, and sort of the contact list."""

    q = django_filters.CharFilter(method="search", label="Search", max_length=SEARCH_MAX_LENGTH)
    owner = django_filters.ModelChoiceFilter(
        queryset=None, label="Owner", empty_label="Anyone I can see"
    )
    company = django_filters.ModelChoiceFilter(
        queryset=None, label="Company", widget=forms.HiddenInput
    )
    decision_maker = django_filters.ChoiceFilter(
        choices=YES_NO, method="by_decision_maker", label="Decision maker", empty_label="Any"
    )
    sort = SortFilter(
        sorts={
            "name": ("last_name", "first_name"),
            "company": ("company__name",),
            "title": ("title",),
            "owner": ("owner__first_name", "owner__last_name", "owner__username"),
            "created": ("created_at",),
        }
    )

    class Meta:
        model = Contact
        fields: list[str] = []

    def __init__(self, data=None, queryset=None, *, user, **kwargs):
        super().__init__(data, queryset, user=user, **kwargs)
        self.filters["company"].queryset = Company.objects.visible_to(user)

    def search(self, queryset, name, value):
        return search_words(
            queryset, value, ("first_name", "last_name", "email", "title", "company__name")
        )

    def by_decision_maker(self, queryset, name, value):
        if value in ("yes", "no"):
            return queryset.filter(is_decision_maker=value == "yes")
        return queryset
