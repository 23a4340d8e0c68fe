"""Forms of the forecast pages: the scope filter, the what-changed dates, adjustments."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.utils import timezone
from django.utils.functional import cached_property

from accounts import visibility
from forecasting import spans
from forecasting.models import PeriodKind
from forecasting.periods import Period, finished_months, month_start, period_choices
from forecasting.scope import ForecastScope
from pipeline import read_cache
from pipeline.forms import QueryForm
from pipeline.forms.money import MoneyField
from pipeline.models import Pipeline
from pipeline.validators import BusinessDateField


class ScopeForm(forms.Form):
    """Period, pipeline, team and rep; choices limited to what the user may see."""

    period = forms.CharField(required=False, label="Period")
    pipeline = forms.ModelChoiceField(
        queryset=Pipeline.objects.none(), required=False, empty_label="All pipelines"
    )
    team = forms.ModelChoiceField(queryset=None, required=False, empty_label="All teams")
    rep = forms.ModelChoiceField(queryset=None, required=False, empty_label="Everyone")

    def __init__(self, *args, user, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["pipeline"].queryset = Pipeline.objects.order_by("position", "pk")
        self.fields["team"].queryset = visibility.visible_teams(user).order_by("name")
        self.fields["rep"].queryset = visibility.visible_users(user).order_by(
            "first_name", "last_name", "username"
        )
        self.show_people = visibility.can_see_team_forecast(user)

    @cached_property
    def first_day(self) -> dt.date | None:
        """The earliest day of the deals the user sees (one query, when a page asks, or the
        cache of computed figures)."""
        return read_cache.cached("first_day", self.user, "", lambda: spans.first_day(self.user))

    @cached_property
    def period_options(self):
        """Every quarter and month from the first deal to a year ahead."""
        return period_choices(first=self.first_day)

    @cached_property
    def period_values(self) -> set[str]:
        return {v for _, options in self.period_options for v, _ in options}

    @property
    def period_given(self) -> bool:
        """Whether the URL names a period (else the page may start from one with data)."""
        return bool(self.is_bound and (self.data.get("period") or "").strip())

    def clean_period(self):
        text = self.cleaned_data.get("period")
        if not text:
            return Period.current_quarter()
        try:
            period = Period.parse(text)
        except (ValueError, TypeError):
            raise forms.ValidationError(
                "Enter a month as 2026-11 or a quarter as 2026-Q4."
            ) from None
        if not 2000 <= period.start.year <= 2100:
            raise forms.ValidationError("Choose a period between 2000 and 2100.")
        return period

    def scope(self) -> ForecastScope:
        """The scope of valid input; invalid fields fall back to their defaults."""
        data = self.cleaned_data if self.is_bound and hasattr(self, "cleaned_data") else {}
        return ForecastScope(
            user=self.user,
            period=data.get("period") or Period.current_quarter(),
            pipeline=data.get("pipeline"),
            team=data.get("team"),
            rep=data.get("rep"),
        )


class ChangesForm(ScopeForm):
    start = BusinessDateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    end = BusinessDateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )
    bar = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean(self):
        data = super().clean()
        today = timezone.localdate()
        end = data.get("end") or today
        start = data.get("start") or end - dt.timedelta(days=7)
        if end > today:
            self.add_error("end", "Choose today or an earlier day.")
            end = today
        if start >= end:
            self.add_error("start", "Choose a day before the “To” day.")
            start = end - dt.timedelta(days=7)
        data["start"], data["end"] = start, end
        return data


class AccuracyForm(ScopeForm):
    """The months the accuracy page compares: the last 6, 12 or 18 finished months, or the
    finished months of a chosen year (``?year=``, which wins over ``?months=``)."""

    months = forms.TypedChoiceField(
        choices=[(12, "Last 12 months"), (6, "Last 6 months"), (18, "Last 18 months")],
        coerce=int,
        required=False,
        empty_value=12,
        label="Periods",
    )
    year = forms.TypedChoiceField(coerce=int, required=False, empty_value=None, label="Or a year")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        today = timezone.localdate()
        first = self.first_day.year if self.first_day else today.year
        # Years with a finished month: this year from February on.
        last = today.year if today.month > 1 else today.year - 1
        years = range(last, min(first, last) - 1, -1)
        self.fields["year"].choices = [("", "—"), *((y, str(y)) for y in years)]

    def months_shown(self) -> tuple[list[dt.date], str]:
        """The finished months to compare, and how the page names them."""
        data = getattr(self, "cleaned_data", {})
        today = timezone.localdate()
        if data.get("year"):
            return year_months(data["year"], today), str(data["year"])
        count = data.get("months") or 12
        return finished_months(count), f"the last {count} months"


def year_months(year: int, today: dt.date) -> list[dt.date]:
    """The finished months of ``year`` (all twelve for a past year)."""
    months = finished_months(12, dt.date(year + 1, 1, 1))
    return [m for m in months if m < month_start(today)] or months


class AdjustmentForm(forms.Form):
    amount = MoneyField(
        max_digits=16,
        decimal_places=2,
        min_value=0,
        required=False,
        label="Your call (closed won for the period)",
        help_text="Leave empty to remove the adjustment.",
    )
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        max_length=2000,
        label="Why",
    )


PERIOD_KIND_CHOICES = PeriodKind.choices

MAX_ID = 2**63 - 1


class QuotaYearQuery(forms.Form):
    """``?year=`` of the quota grid."""

    year = forms.IntegerField(
        min_value=2000,
        max_value=2100,
        required=False,
        error_messages={
            "invalid": "Choose a year between 2000 and 2100.",
            "min_value": "Choose a year between 2000 and 2100.",
            "max_value": "Choose a year between 2000 and 2100.",
        },
    )


class AdjustQuery(QueryForm):
    """``?period=&rep=`` or ``?period=&team=`` of the adjustment page."""

    period = forms.CharField(max_length=10, required=False)
    team = forms.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    rep = forms.IntegerField(min_value=1, max_value=MAX_ID, required=False)


class DealsQuery(QueryForm):
    """``?metric=`` of the deals behind a dashboard figure."""

    metric = forms.CharField(max_length=50, required=False)
