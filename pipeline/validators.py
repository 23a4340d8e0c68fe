"""Input rules shared by forms, filters and services.

**Business dates.** No sales process has a date before 1900 or after 2200, and dates near
the ends of the calendar break arithmetic (the day after 9999-12-31 does not exist), so
every date a user or a link gives — filter bars, forms, query strings, service arguments —
must fall between :data:`EARLIEST_DATE` and :data:`LATEST_DATE`.
"""

from __future__ import annotations

import datetime as dt

import django_filters
from django import forms
from django.core.exceptions import ValidationError

EARLIEST_DATE = dt.date(1900, 1, 1)
LATEST_DATE = dt.date(2200, 12, 31)
DATE_RANGE_MESSAGE = (
    f"Enter a date between {EARLIEST_DATE.isoformat()} and {LATEST_DATE.isoformat()}."
)


def validate_business_date(value: dt.date) -> None:
    """Refuse a date outside 1900-01-01 … 2200-12-31."""
    day = value.date() if isinstance(value, dt.datetime) else value
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        raise ValidationError(DATE_RANGE_MESSAGE, code="date_range")


class BusinessDateField(forms.DateField):
    """A form's date field that accepts only business dates."""

    default_validators = [validate_business_date]


class BusinessDateFilter(django_filters.DateFilter):
    """A FilterSet's date filter that accepts only business dates."""

    field_class = BusinessDateField


MAX_PAGE = 100_000


class PageField(forms.IntegerField):
    """A page number from a query string: 1 … :data:`MAX_PAGE` (empty means the first)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_PAGE)
        super().__init__(**kwargs)


class MonthField(forms.CharField):
    """A month as ``YYYY-MM`` (a business date's month); cleans to its first day."""

    def to_python(self, value):
        text = super().to_python(value)
        if text in self.empty_values:
            return None
        try:
            first = dt.datetime.strptime(text, "%Y-%m").date()
        except ValueError:
            raise ValidationError("Enter a month as YYYY-MM.", code="invalid") from None
        validate_business_date(first)
        return first
