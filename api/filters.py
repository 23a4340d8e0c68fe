"""The API's FilterSets: the same filters, names and choices as the pages' lists (owner, team,
pipeline, stage, status, close window, amount range, search), plus ``updated_since`` for sync.

The queryset is always ``visible_to(user)``; choices of owners and teams are those the user
may see, so naming another team's rep is a 400 like any unknown id. An invalid value is a 400
naming the filter, never ignored.
"""

from __future__ import annotations

import datetime as dt

import django_filters
from django import forms
from django.db.models import Q
from django.utils import timezone
from django_filters import rest_framework as filters

from accounts import visibility
from forecasting.models import ForecastSnapshot
from pipeline.filters.leads import SEARCH_MAX_LENGTH, search_words
from pipeline.filters.opportunities import CLOSE_CHOICES, STATUS_CHOICES, close_window
from pipeline.models import (
    Activity,
    Company,
    Contact,
    Lead,
    Opportunity,
    Pipeline,
    Product,
    Stage,
)
from pipeline.validators import BusinessDateFilter


class FilterBackend(filters.DjangoFilterBackend):
    """django-filter's backend, except that a request naming none of the view's filters skips
    the FilterSet: it would build a form and every filter's field for the request only to
    return the queryset unchanged (no filter here is required or has a default)."""

    def filter_queryset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is not None and request.query_params.keys().isdisjoint(
            filterset_class.base_filters
        ):
            return queryset
        return super().filter_queryset(request, queryset, view)


def _users(request):
    return visibility.visible_users(getattr(request, "user", None))


def _teams(request):
    return visibility.visible_teams(getattr(request, "user", None))


class _SinceField(django_filters.fields.IsoDateTimeField):
    """An ISO 8601 time within the business range (1900–2200), as UTC (PostgreSQL refuses
    offsets beyond ±15:59 that ISO 8601 allows)."""

    def to_python(self, value):
        moment = super().to_python(value)
        if moment is None:
            return None
        try:
            moment = moment.astimezone(dt.UTC)
        except (OverflowError, ValueError):
            moment = None
        if moment is None or not 1900 <= moment.year <= 2200:
            raise forms.ValidationError("Enter a time between 1900 and 2200 (ISO 8601).")
        return moment


class SinceFilter(django_filters.IsoDateTimeFilter):
    field_class = _SinceField


class _StrictBooleanWidget(django_filters.widgets.BooleanWidget):
    """true/false (or 1/0, any case); anything else stays as sent, for the field to refuse,
    where django-filter's widget reads it as "no filter"."""

    def value_from_datadict(self, data, files, name):
        value = data.get(name)
        if value in (None, ""):
            return None
        known = super().value_from_datadict(data, files, name)
        return value if known is None else known


class _StrictBooleanField(forms.NullBooleanField):
    def to_python(self, value):
        if value is None or isinstance(value, bool):
            return value
        raise forms.ValidationError("Enter true or false.")


class BooleanFilter(filters.BooleanFilter):
    field_class = _StrictBooleanField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", _StrictBooleanWidget)
        super().__init__(*args, **kwargs)


class UpdatedSince(filters.FilterSet):
    updated_since = SinceFilter(
        field_name="updated_at",
        lookup_expr="gte",
        help_text="Only records changed at or after this time (ISO 8601 with time zone).",
    )


class CompanyFilter(UpdatedSince):
    q = django_filters.CharFilter(method="search", max_length=SEARCH_MAX_LENGTH)
    owner = django_filters.ModelChoiceFilter(queryset=_users)
    industry = django_filters.CharFilter(lookup_expr="iexact", max_length=100)

    class Meta:
        model = Company
        fields: list[str] = []

    def search(self, queryset, name, value):
        return search_words(queryset, value, ("name", "industry", "city", "country"))


class ContactFilter(UpdatedSince):
    q = django_filters.CharFilter(method="search", max_length=SEARCH_MAX_LENGTH)
    owner = django_filters.ModelChoiceFilter(queryset=_users)
    company = django_filters.NumberFilter(field_name="company_id", min_value=1)
    decision_maker = BooleanFilter(field_name="is_decision_maker")

    class Meta:
        model = Contact
        fields: list[str] = []

    def search(self, queryset, name, value):
        return search_words(queryset, value, ("first_name", "last_name", "email", "title"))


LEAD_STATUS = [("open", "Open (new, working, prospect)"), *Lead.Status.choices]


class LeadFilter(UpdatedSince):
    q = django_filters.CharFilter(method="search", max_length=SEARCH_MAX_LENGTH)
    status = django_filters.ChoiceFilter(choices=LEAD_STATUS, method="by_status")
    source = django_filters.ChoiceFilter(choices=Lead.Source.choices)
    owner = django_filters.ModelChoiceFilter(queryset=_users)

    class Meta:
        model = Lead
        fields: list[str] = []

    def search(self, queryset, name, value):
        return search_words(
            queryset, value, ("first_name", "last_name", "email", "company_name", "title")
        )

    def by_status(self, queryset, name, value):
        if value == "open":
            return queryset.filter(status__in=Lead.OPEN_STATUSES)
        return queryset.filter(status=value)


class OpportunityFilter(UpdatedSince):
    owner = django_filters.ModelChoiceFilter(queryset=_users)
    team = django_filters.ModelChoiceFilter(queryset=_teams, field_name="owner__team")
    pipeline = django_filters.ModelChoiceFilter(queryset=Pipeline.objects.all())
    stage = django_filters.ModelChoiceFilter(queryset=Stage.objects.all())
    status = django_filters.ChoiceFilter(choices=STATUS_CHOICES, method="by_status")
    close = django_filters.ChoiceFilter(choices=CLOSE_CHOICES, method="by_close")
    close_after = BusinessDateFilter(field_name="expected_close_date", lookup_expr="gte")
    close_before = BusinessDateFilter(field_name="expected_close_date", lookup_expr="lte")
    amount_min = django_filters.NumberFilter(field_name="amount", lookup_expr="gte", min_value=0)
    amount_max = django_filters.NumberFilter(field_name="amount", lookup_expr="lte", min_value=0)
    q = django_filters.CharFilter(method="search", max_length=100)

    class Meta:
        model = Opportunity
        fields: list[str] = []

    def by_status(self, queryset, name, value):
        if value == "closed":
            return queryset.exclude(stage__kind=Stage.Kind.OPEN)
        return queryset.filter(stage__kind=value)

    def by_close(self, queryset, name, value):
        first, after = close_window(value, timezone.localdate())
        if first is not None:
            queryset = queryset.filter(expected_close_date__gte=first)
        return queryset.filter(expected_close_date__lt=after)

    def search(self, queryset, name, value):
        value = (value or "").replace("\x00", "").strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(name__icontains=value)
            | Q(company__name__icontains=value)
            | Q(next_step__icontains=value)
        )


class ActivityFilter(filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=Activity.Kind.choices)
    owner = django_filters.ModelChoiceFilter(queryset=_users)
    opportunity = django_filters.NumberFilter(field_name="opportunity_id", min_value=1)
    lead = django_filters.NumberFilter(field_name="lead_id", min_value=1)
    contact = django_filters.NumberFilter(field_name="contact_id", min_value=1)
    company = django_filters.NumberFilter(field_name="company_id", min_value=1)
    occurred_since = SinceFilter(field_name="occurred_at", lookup_expr="gte")

    class Meta:
        model = Activity
        fields: list[str] = []


class TaskFilter(ActivityFilter):
    done = BooleanFilter(field_name="done_at", lookup_expr="isnull", exclude=True)
    due_before = BusinessDateFilter(field_name="due_on", lookup_expr="lte")


class ProductFilter(filters.FilterSet):
    """The catalogue's filters: search by name or code, a code, a category, active or not (all
    products by default: deals keep products that are no longer offered)."""

    q = django_filters.CharFilter(method="search", max_length=100)
    code = django_filters.CharFilter(lookup_expr="iexact", max_length=50)
    category = django_filters.CharFilter(lookup_expr="iexact", max_length=100)
    is_active = BooleanFilter()

    class Meta:
        model = Product
        fields: list[str] = []

    def search(self, queryset, name, value):
        return search_words(queryset, value, ("name", "code"))


class SnapshotFilter(filters.FilterSet):
    taken_on = BusinessDateFilter()
    period = BusinessDateFilter()
    owner = django_filters.ModelChoiceFilter(queryset=_users)
    pipeline = django_filters.ModelChoiceFilter(queryset=Pipeline.objects.all())

    class Meta:
        model = ForecastSnapshot
        fields: list[str] = []
