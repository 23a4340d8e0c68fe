"""Calendar maths of the forecast: months, quarters, the named periods the pages offer, and
the one rule for where a day starts and ends.

A day ``D`` is the half-open range ``[start_of_day(D), end_of_day(D))`` in
``settings.TIME_ZONE``; every "as of the end of ``D``" question (a snapshot of ``D``, a
report's date range, a win rate up to ``D``) uses :func:`end_of_day`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

from forecasting.models import PeriodKind

# The one end of a day, defined beside the deal-state query that the pipeline pages share.
from pipeline.selectors.dealstate import end_of_day as end_of_day

QUARTER_NAMES = {1: "Q1", 4: "Q2", 7: "Q3", 10: "Q4"}
# The earliest day a page offers a period from (the forms accept years from 2000).
FIRST_DAY = dt.date(2000, 1, 1)


def today() -> dt.date:
    """Today in the configured time zone."""
    return timezone.localdate()


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def add_months(day: dt.date, months: int) -> dt.date:
    """The first day of the month ``months`` after ``day``'s month (negative: before)."""
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def next_month(day: dt.date) -> dt.date:
    """The first day of the month after ``day``'s."""
    return add_months(day, 1)


def quarter_start(day: dt.date) -> dt.date:
    return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def month_starts(start: dt.date, end: dt.date) -> list[dt.date]:
    """First days of every calendar month that overlaps ``start``..``end``."""
    months = []
    current = month_start(start)
    while current <= end:
        months.append(current)
        current = next_month(current)
    return months


def start_of_day(day: dt.date) -> dt.datetime:
    """The first instant of ``day`` in the configured time zone."""
    return end_of_day(day - dt.timedelta(days=1))


@dataclass(frozen=True)
class Period:
    """A month or a quarter, as the forecast pages name them (``2026-11``, ``2026-Q4``)."""

    kind: str  # PeriodKind
    start: dt.date

    @classmethod
    def parse(cls, text: str) -> Period:
        """``2026-11`` (a month) or ``2026-Q4`` (a quarter); ValueError otherwise."""
        text = (text or "").strip().upper()
        if "-Q" in text:
            year, q = text.split("-Q", 1)
            quarter = int(q)
            if not 1 <= quarter <= 4:
                raise ValueError(text)
            return cls(PeriodKind.QUARTER, dt.date(int(year), 3 * quarter - 2, 1))
        year, month = text.split("-", 1)
        return cls(PeriodKind.MONTH, dt.date(int(year), int(month), 1))

    @classmethod
    def current_quarter(cls, today: dt.date | None = None) -> Period:
        return cls(PeriodKind.QUARTER, quarter_start(today or timezone.localdate()))

    @property
    def months(self) -> list[dt.date]:
        n = 3 if self.kind == PeriodKind.QUARTER else 1
        return [add_months(self.start, i) for i in range(n)]

    @property
    def end(self) -> dt.date:
        """The first day after the period."""
        return add_months(self.start, len(self.months))

    @property
    def last_day(self) -> dt.date:
        return self.end - dt.timedelta(days=1)

    @property
    def param(self) -> str:
        if self.kind == PeriodKind.QUARTER:
            return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"
        return f"{self.start:%Y-%m}"

    @property
    def label(self) -> str:
        if self.kind == PeriodKind.QUARTER:
            return f"{QUARTER_NAMES[self.start.month]} {self.start.year}"
        return f"{self.start:%B %Y}"

    def is_finished(self, today: dt.date | None = None) -> bool:
        return self.end <= (today or timezone.localdate())


def period_choices(
    today: dt.date | None = None, *, first: dt.date | None = None
) -> list[tuple[str, list[tuple[str, str]]]]:
    """The periods the forecast pages offer, latest first: every quarter and month from
    ``first`` (the earliest day with data; at most a year back when there is none or it is
    more recent) to a year after ``today``."""
    today = today or timezone.localdate()
    start = add_months(month_start(today), -12)
    if first is not None and first < start:
        start = max(first, FIRST_DAY)
    q, q_end = quarter_start(start), quarter_start(add_months(today, 12))
    quarters = []
    while q <= q_end:
        quarters.append(Period(PeriodKind.QUARTER, q))
        q = add_months(q, 3)
    months = [Period(PeriodKind.MONTH, m) for m in month_starts(start, add_months(today, 12))]
    return [
        ("Quarters", [(p.param, p.label) for p in reversed(quarters)]),
        ("Months", [(p.param, p.label) for p in reversed(months)]),
    ]


def year_bounds(year: int) -> tuple[dt.date, dt.date]:
    return dt.date(year, 1, 1), dt.date(year, 12, 31)


def finished_months(count: int, today: dt.date | None = None) -> list[dt.date]:
    """The ``count`` whole months before ``today``'s month, oldest first."""
    m0 = month_start(today or timezone.localdate())
    return [add_months(m0, -i) for i in range(count, 0, -1)]
