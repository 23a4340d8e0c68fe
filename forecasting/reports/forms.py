"""The reports' filter bar: one form parses the querystring of every report page.

Choices come from the viewer's scope (``visible_users`` / ``visible_teams``), so a rep never
sees another rep's name in a dropdown and a hand-made URL with someone else's id is refused
with a message next to the field.
"""

from __future__ import annotations

import datetime as dt
import re

from django import forms
from django.utils import timezone

from accounts import visibility
from forecasting.periods import Period, year_bounds
from forecasting.reports.scope import (
    DEFAULT_IDLE_DAYS,
    NO_CATEGORY,
    NO_PRODUCT,
    ReportScope,
    default_range,
)
from pipeline.forms import QueryForm
from pipeline.models import Lead, Pipeline, Product
from pipeline.validators import BusinessDateField, MonthField, PageField

MAX_RANGE_DAYS = 366 * 5


PERIOD_RE = re.compile(r"^[0-9]{4}(-Q[1-4]|-(0[1-9]|1[0-2]))?$")


def period_bounds(text: str) -> tuple[dt.date, dt.date] | None:
    """``2025`` (a year), ``2025-Q3`` or ``2025-07`` as (first day, last day), years 2000 to
    2100; ``None`` for anything else."""
    text = (text or "").strip()
    if not PERIOD_RE.match(text) or not 2000 <= int(text[:4]) <= 2100:
        return None
    if len(text) == 4:
        return year_bounds(int(text))
    period = Period.parse(text)
    return period.start, period.last_day


class _UserChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return str(obj)


class ReportFilterForm(forms.Form):
    start = BusinessDateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = BusinessDateField(
        label="To", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    pipeline = forms.ModelChoiceField(
        queryset=Pipeline.objects.none(), required=False, empty_label="All pipelines"
    )
    team = forms.ModelChoiceField(queryset=None, required=False, empty_label="All teams")
    owner = _UserChoice(queryset=None, required=False, empty_label="All reps", label="Rep")
    source = forms.ChoiceField(
        choices=[("", "All sources"), *Lead.Source.choices], required=False, label="Lead source"
    )
    period = forms.RegexField(
        PERIOD_RE,
        required=False,
        label="Period",
        error_messages={
            "invalid": "Choose a year (2025), a quarter (2025-Q3) or a month (2025-07)."
        },
    )
    product = forms.ChoiceField(choices=(), required=False, label="Product")
    category = forms.ChoiceField(choices=(), required=False, label="Product category")
    idle = forms.IntegerField(
        label="No activity for (days)",
        required=False,
        min_value=1,
        max_value=365,
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "size": 4}),
    )

    def __init__(self, data=None, *, user, fields=None, require_pipeline=False, **kwargs):
        super().__init__(data, **kwargs)
        self.user = user
        self.require_pipeline = require_pipeline
        self.fields["pipeline"].queryset = Pipeline.objects.order_by("position", "id")
        if require_pipeline:
            self.fields["pipeline"].empty_label = None
        self.fields["team"].queryset = visibility.visible_teams(user)
        self.fields["owner"].queryset = visibility.visible_users(user).order_by(
            "first_name", "last_name", "username"
        )
        if fields is not None:
            for name in list(self.fields):
                if name not in fields:
                    del self.fields[name]
        if "product" in self.fields or "category" in self.fields:
            # One query for both dropdowns: the products, and the categories they name.
            products = list(Product.objects.only("name", "category").order_by("name", "id"))
            self._products = {str(p.pk): p for p in products}
        if "product" in self.fields:
            self.fields["product"].choices = [
                ("", "All products"),
                *((pk, p.name) for pk, p in self._products.items()),
                (NO_PRODUCT, "Deals without products"),
            ]
        if "category" in self.fields:
            names = sorted({p.category or NO_CATEGORY for p in self._products.values()})
            self.fields["category"].choices = [
                ("", "All categories"),
                *((n, n) for n in names),
            ]

    def clean_period(self):
        """A year, quarter or month as (first day, last day); it replaces the dates."""
        text = self.cleaned_data.get("period")
        if not text:
            return None
        bounds = period_bounds(text)
        if bounds is None:
            raise forms.ValidationError("Choose a period between 2000 and 2100.")
        return bounds

    def clean(self):
        data = super().clean()
        if data.get("period"):
            data["start"], data["end"] = data["period"]
            for name in ("start", "end"):
                self.errors.pop(name, None)
        start, end = data.get("start"), data.get("end")
        if start and end and end < start:
            self.add_error("end", "The end date is before the start date; pick a later date.")
        elif start and end and (end - start).days > MAX_RANGE_DAYS:
            self.add_error("start", "Reports cover at most five years; narrow the range.")
        return data

    def scope(self) -> ReportScope:
        """The cleaned filters with defaults filled in (call only when the form is valid)."""
        data = self.cleaned_data
        default_start, default_end = default_range(timezone.localdate())
        start = data.get("start") or default_start
        end = data.get("end") or default_end
        if data.get("start") and not data.get("end") and end < start:
            end = start
        if data.get("end") and not data.get("start") and start > end:
            start = end - dt.timedelta(days=365)
        pipeline = data.get("pipeline")
        if pipeline is None and self.require_pipeline:
            pipeline = self.fields["pipeline"].queryset.first()
        return ReportScope(
            user=self.user,
            start=start,
            end=end,
            pipeline=pipeline,
            team=data.get("team"),
            owner=data.get("owner"),
            source=data.get("source") or "",
            idle_days=data.get("idle") or DEFAULT_IDLE_DAYS,
            product=self._product(data.get("product") or ""),
            category=data.get("category") or "",
        )

    def _product(self, raw: str):
        if raw == NO_PRODUCT:
            return NO_PRODUCT
        return getattr(self, "_products", {}).get(raw) if raw else None


MAX_ID = 2**63 - 1


class ReportOptionsForm(QueryForm):
    """Every report parameter of the query string besides the filter bar: the page, the CSV
    export and its table, tabs and sorting, and the drill-down keys. Unknown words (a tab
    or sort that no longer exists) fall back to the default in the view; numbers, months and
    ids are bounded here."""

    page = PageField()
    export = forms.CharField(max_length=10, required=False)
    table = forms.CharField(max_length=50, required=False)
    group = forms.CharField(max_length=50, required=False)
    flag = forms.CharField(max_length=50, required=False)
    sort = forms.CharField(max_length=50, required=False)
    kind = forms.CharField(max_length=50, required=False)
    month = MonthField(required=False)
    stage = forms.IntegerField(min_value=0, max_value=MAX_ID, required=False)
    outcome = forms.CharField(max_length=50, required=False)
    reason = forms.RegexField(r"^(none|[0-9]{1,18})$", required=False)
    won = forms.CharField(max_length=10, required=False)
