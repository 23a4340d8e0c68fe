"""FilterSets of the board and the opportunity list.

Choices come from the one visibility rule: the owner dropdown lists ``visible_users``, the
team dropdown ``visible_teams``, so a rep cannot even name another rep's deals in a URL
(an unknown choice is a form error and is ignored). The queryset given to the FilterSet is
always ``Opportunity.objects.visible_to(user)``; a filter only narrows it.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import django_filters
from django import forms
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from accounts import visibility
from accounts.visibility import visible_teams, visible_users
from pipeline.models import LineItem, Opportunity, Pipeline, Product, Stage
from pipeline.validators import BusinessDateFilter


def _owners(request):
    return visible_users(getattr(request, "user", None)).order_by("username")


def _teams(request):
    return visible_teams(getattr(request, "user", None)).order_by("name")


class _DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


def _month_start(day: dt.date, months_ahead: int = 0) -> dt.date:
    index = day.year * 12 + day.month - 1 + months_ahead
    return dt.date(index // 12, index % 12 + 1, 1)


def close_window(choice: str, today: dt.date) -> tuple[dt.date | None, dt.date | None]:
    """The expected-close-date range (first day, first day after) a preset names, in
    calendar months and quarters; ``overdue`` is every date before today."""
    quarter = _month_start(today, -((today.month - 1) % 3))
    windows = {
        "overdue": (None, today),
        "this_month": (_month_start(today), _month_start(today, 1)),
        "next_month": (_month_start(today, 1), _month_start(today, 2)),
        "this_quarter": (quarter, _month_start(quarter, 3)),
        "next_quarter": (_month_start(quarter, 3), _month_start(quarter, 6)),
        "this_year": (dt.date(today.year, 1, 1), dt.date(today.year + 1, 1, 1)),
    }
    return windows[choice]


CLOSE_CHOICES = (
    ("overdue", "Overdue"),
    ("this_month", "This month"),
    ("next_month", "Next month"),
    ("this_quarter", "This quarter"),
    ("next_quarter", "Next quarter"),
    ("this_year", "This year"),
)


class BoardFilter(django_filters.FilterSet):
    """Owner, team, close period or date range, amount range, product and text search (the
    board's filters)."""

    owner = django_filters.ModelChoiceFilter(
        queryset=_owners, label="Owner", empty_label="All owners"
    )
    team = django_filters.ModelChoiceFilter(
        field_name="owner__team", queryset=_teams, label="Team", empty_label="All teams"
    )
    close = django_filters.ChoiceFilter(
        choices=CLOSE_CHOICES, method="by_close", label="Closes", empty_label="Any time"
    )
    close_after = BusinessDateFilter(
        field_name="expected_close_date",
        lookup_expr="gte",
        label="Closes from",
        widget=_DateInput(),
    )
    close_before = BusinessDateFilter(
        field_name="expected_close_date",
        lookup_expr="lte",
        label="Closes until",
        widget=_DateInput(),
    )
    amount_min = django_filters.NumberFilter(
        field_name="amount",
        lookup_expr="gte",
        label="Amount from",
        min_value=Decimal("0"),
        max_digits=14,
        decimal_places=2,
    )
    amount_max = django_filters.NumberFilter(
        field_name="amount",
        lookup_expr="lte",
        label="Amount up to",
        min_value=Decimal("0"),
        max_digits=14,
        decimal_places=2,
    )
    product = django_filters.ModelChoiceFilter(
        queryset=Product.objects.order_by("name", "id"),
        method="by_product",
        label="Product",
        empty_label="All products",
    )
    q = django_filters.CharFilter(method="search", label="Search", max_length=100)

    class Meta:
        model = Opportunity
        fields: list[str] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        user = getattr(self.request, "user", None)
        if not visibility.can_assign_owner(user):
            # A rep sees only their own deals: owner and team filters would offer one choice.
            self.filters.pop("owner", None)
            self.filters.pop("team", None)
        # Evaluate each dropdown's choices once with a plain query: Django's default
        # iterator opens a server-side cursor per dropdown on PostgreSQL, which costs more
        # than the few rows it reads.
        for field in self.form.fields.values():
            if isinstance(field, forms.ModelChoiceField):
                rows = [(obj.pk, field.label_from_instance(obj)) for obj in field.queryset]
                choices = [("", field.empty_label), *rows] if field.empty_label else rows
                # Set them as plain choices (django-filter's setter would wrap an iterator).
                forms.ChoiceField.choices.fset(field, choices)

    def by_close(self, queryset, name, value):
        if not value:
            return queryset
        first, after = close_window(value, timezone.localdate())
        if first is not None:
            queryset = queryset.filter(expected_close_date__gte=first)
        return queryset.filter(expected_close_date__lt=after)

    def by_product(self, queryset, name, value):
        """Deals with a line item of the product (inactive products included)."""
        if not value:
            return queryset
        lines = LineItem.objects.filter(opportunity=OuterRef("pk"), product=value)
        return queryset.filter(Exists(lines))

    def search(self, queryset, name, value):
        value = (value or "").strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(name__icontains=value)
            | Q(company__name__icontains=value)
            | Q(next_step__icontains=value)
        )

    #: Values that mean "no narrowing" (the list's defaults), e.g. the deal list's open status.
    defaults: dict[str, str] = {}

    @property
    def active(self) -> bool:
        """Whether any filter narrows the deals beyond the page's defaults (for "clear
        filters" links)."""
        if not self.is_bound:
            return False
        self.form.is_valid()
        return any(
            v not in (None, "")
            for k, v in getattr(self.form, "cleaned_data", {}).items()
            if k in self.filters and k not in ("o", "pipeline") and self.defaults.get(k) != v
        )


STATUS_CHOICES = (
    ("open", "Open"),
    ("all", "Any status"),
    ("won", "Won"),
    ("lost", "Lost"),
    ("closed", "Closed"),
)
#: What the deal list shows when the URL names no status (``pipeline.selectors``).
DEFAULT_STATUS = "open"


class OpportunityFilter(BoardFilter):
    """The list's filters: the board's plus pipeline, stage, status and sorting."""

    pipeline = django_filters.ModelChoiceFilter(
        queryset=Pipeline.objects.all(), label="Pipeline", empty_label="All pipelines"
    )
    stage = django_filters.ModelChoiceFilter(
        queryset=Stage.objects.select_related("pipeline").order_by(
            "pipeline__position", "pipeline_id", "position", "id"
        ),
        label="Stage",
        empty_label="All stages",
    )
    status = django_filters.ChoiceFilter(
        choices=STATUS_CHOICES, method="by_status", label="Status", empty_label=None
    )
    o = django_filters.OrderingFilter(
        fields=(
            ("name", "name"),
            ("company__name", "company"),
            ("amount", "amount"),
            ("weighted", "weighted"),
            ("expected_close_date", "close"),
            ("stage__position", "stage"),
            ("owner__username", "owner"),
            ("created_at", "created"),
        ),
        field_labels={
            "name": "Name",
            "company__name": "Company",
            "amount": "Amount",
            "weighted": "Weighted",
            "expected_close_date": "Close date",
            "stage__position": "Stage",
            "owner__username": "Owner",
            "created_at": "Created",
        },
        label="Sort",
    )

    defaults = {"status": DEFAULT_STATUS}

    def by_status(self, queryset, name, value):
        if value == "open":
            return queryset.filter(stage__kind=Stage.Kind.OPEN)
        if value == "won":
            return queryset.filter(stage__kind=Stage.Kind.WON)
        if value == "lost":
            return queryset.filter(stage__kind=Stage.Kind.LOST)
        if value == "closed":
            return queryset.exclude(stage__kind=Stage.Kind.OPEN)
        return queryset
