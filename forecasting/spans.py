"""Which dates have data, so the forecast pages and the reports can offer every period that
has some and start from one that does.

All of it reads the deals the viewer sees (``visible_to``, the one visibility rule): a deal
*has a date* when it was created, is expected to close or closed on it. Each function is one
aggregate query (two or three for :func:`period_with_data` when the asked period is empty).
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Max, Min
from django.utils import timezone

from forecasting.models import PeriodKind
from forecasting.periods import Period, add_months, month_start, quarter_start
from forecasting.rowsums import first_values
from pipeline import expressions
from pipeline.models import Opportunity


def _local(value) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return timezone.localdate(value)
    return value


def _edge(deals, field: str, *, last: bool = False):
    """The deals' first (or last) non-empty ``field``, ordered by its index (``first_values``)."""
    return (
        deals.filter(**{f"{field}__isnull": False})
        .order_by(f"-{field}" if last else field)
        .values_list(field, flat=True)
    )


def first_day(user) -> dt.date | None:
    """The earliest day any deal ``user`` sees was created, expected to close or closed."""
    deals = Opportunity.objects.visible_to(user)
    row = first_values(
        created=_edge(deals, "created_at"),
        expected=_edge(deals, "expected_close_date"),
        closed=_edge(deals, "closed_on"),
    )
    days = [d for d in (_local(row["created"]), row["expected"], row["closed"]) if d]
    return min(days) if days else None


def latest_activity(deals) -> tuple[dt.date | None, dt.date | None]:
    """(first, last) day a deal of ``deals`` was created or closed: what the reports count."""
    row = first_values(
        first=_edge(deals, "created_at"),
        created=_edge(deals, "created_at", last=True),
        closed=_edge(deals, "closed_on", last=True),
    )
    last = [d for d in (_local(row["created"]), row["closed"]) if d]
    return _local(row["first"]), (max(last) if last else None)


def _start_of(kind: str, day: dt.date) -> dt.date:
    return quarter_start(day) if kind == PeriodKind.QUARTER else month_start(day)


def period_with_data(scope) -> tuple[Period, bool]:
    """``scope.period`` when a deal of the scope falls in it (closes, or is expected to, in
    it); otherwise the latest earlier period of the same kind that has one, or failing that
    the earliest later one. Returns the period and whether it differs from the asked one."""
    period = scope.period
    deals = scope.opportunities().annotate(period_day=expressions.period_date())
    if deals.filter(period_day__gte=period.start, period_day__lt=period.end).exists():
        return period, False
    before = deals.filter(period_day__lt=period.start).aggregate(d=Max("period_day"))["d"]
    if before is None:
        before = deals.filter(period_day__gte=period.end).aggregate(d=Min("period_day"))["d"]
    if before is None:
        return period, False
    return Period(period.kind, _start_of(period.kind, before)), True


def report_periods(first: dt.date | None, today: dt.date) -> list[tuple[str, list]]:
    """The periods the reports offer, latest first: years, quarters and months from ``first``
    (at least the last twelve months) to a year ahead; values as ``?period=`` takes them."""
    start = add_months(month_start(today), -12)
    if first is not None and first < start:
        start = max(first, dt.date(2000, 1, 1))
    end = add_months(today, 12)
    years = [(str(y), str(y)) for y in range(end.year, start.year - 1, -1)]
    quarters = []
    q = quarter_start(end)
    while q >= quarter_start(start):
        p = Period(PeriodKind.QUARTER, q)
        quarters.append((p.param, p.label))
        q = add_months(q, -3)
    months = []
    m = month_start(end)
    while m >= month_start(start):
        p = Period(PeriodKind.MONTH, m)
        months.append((p.param, p.label))
        m = add_months(m, -1)
    return [("Years", years), ("Quarters", quarters), ("Months", months)]
