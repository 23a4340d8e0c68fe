"""The contact list's FilterSet. Its queryset is always ``visible_to(user)``; owner and
company choices are what the user may see, so a URL cannot reach beyond their scope."""

from __future__ import annotations

import django_filters
from django import forms

from pipeline.filters import SEARCH_MAX_LENGTH, SortFilter, VisibleOwnerFilterSet, search_words
from pipeline.filters.companies import YES_NO
from pipeline.models import Company, Contact


class ContactFilter(VisibleOwnerFilterSet):
    """Search, owner, company, decision maker, and sort of the contact list."""

    bar = ("decision_maker",)

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
