"""Forms of the forecast pages: the scope filter, the what-changed dates, adjustments."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.utils import timezone

from accounts import visibility
from forecasting.models import PeriodKind
from forecasting.periods import Period, period_choices
from forecasting.scope import ForecastScope
from pipeline.forms import QueryForm
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
        self.period_options = period_choices()
        self.show_people = visibility.can_see_team_forecast(user)
        self.period_values = {v for _, options in self.period_options for v, _ in options}

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
    months = forms.TypedChoiceField(
        choices=[(12, "Last 12 months"), (6, "Last 6 months"), (18, "Last 18 months")],
        coerce=int,
        required=False,
        empty_value=12,
        label="Periods",
    )


class AdjustmentForm(forms.Form):
    amount = forms.DecimalField(
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
