"""Small SQL building blocks the reports share, each giving the same number on PostgreSQL and
SQLite.

- :class:`Median` is ``percentile_cont(0.5)`` on PostgreSQL. SQLite has no percentile
  aggregate, so the same aggregate is registered on each SQLite connection as a Python
  aggregate function (``opportune_median``) that collects the group's values and returns the
  middle one (the mean of the two middle ones for an even count) — exactly what
  ``percentile_cont(0.5)`` returns. Its memory is bounded by the size of one group.
- :class:`DaysBetween` is the fractional number of days between two datetimes.
- :class:`DateDiff` is the whole number of days between two dates.
- :func:`median_sql` gives the median of a column in hand-written SQL (used where a report
  aggregates over a window-function subquery, which the ORM cannot group).
- :func:`planner_settings` raises PostgreSQL's ``work_mem``, and can make it join by key or
  group rows in the order an index gives them, for one report's transaction.
"""

from __future__ import annotations

from contextlib import contextmanager

from django.db import connection, transaction
from django.db.models import Aggregate, FloatField, Func, IntegerField

SQLITE_MEDIAN = "opportune_median"


class _SQLiteMedian:
    """Python aggregate registered on SQLite connections (see the module docstring)."""

    def __init__(self):
        self.values: list[float] = []

    def step(self, value):
        if value is not None:
            self.values.append(float(value))

    def finalize(self):
        if not self.values:
            return None
        values = sorted(self.values)
        mid = len(values) // 2
        if len(values) % 2:
            return values[mid]
        return (values[mid - 1] + values[mid]) / 2


def ensure_sqlite_median(connection) -> None:
    """Register ``opportune_median`` on the (open) SQLite connection; cheap and idempotent."""
    connection.ensure_connection()
    connection.connection.create_aggregate(SQLITE_MEDIAN, 1, _SQLiteMedian)


class Median(Aggregate):
    """The median of an expression (``percentile_cont(0.5)``), ``None`` for an empty group."""

    function = "percentile_cont"
    name = "Median"
    output_field = FloatField()
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    allow_distinct = False

    def as_sqlite(self, compiler, connection, **extra_context):
        ensure_sqlite_median(connection)
        clone = self.copy()
        clone.function = SQLITE_MEDIAN
        clone.template = "%(function)s(%(expressions)s)"
        return clone.as_sql(compiler, connection, **extra_context)


def median_sql(connection, column: str) -> str:
    """SQL for the median of ``column`` in a hand-written GROUP BY query."""
    if connection.vendor == "sqlite":
        ensure_sqlite_median(connection)
        return f"{SQLITE_MEDIAN}({column})"
    return f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {column})"


class DaysBetween(Func):
    """``DaysBetween(end, start)``: fractional days from ``start`` to ``end`` (datetimes)."""

    arity = 2
    output_field = FloatField()

    def as_sql(self, compiler, connection, **extra_context):
        # PostgreSQL: the interval's length in seconds over a day's. date_part() returns
        # double precision; EXTRACT() returns numeric, several times slower over many rows.
        return super().as_sql(
            compiler,
            connection,
            template="(date_part('epoch', %(expressions)s) / 86400.0)",
            arg_joiner=" - ",
            **extra_context,
        )

    def as_sqlite(self, compiler, connection, **extra_context):
        return Func.as_sql(
            self,
            compiler,
            connection,
            template="(julianday(%(expressions)s))",
            arg_joiner=") - julianday(",
            **extra_context,
        )


class DateDiff(Func):
    """``DateDiff(end, start)``: whole days from ``start`` to ``end`` (two dates)."""

    arity = 2
    output_field = IntegerField()

    def as_sql(self, compiler, connection, **extra_context):
        return super().as_sql(
            compiler, connection, template="(%(expressions)s)", arg_joiner=" - ", **extra_context
        )

    def as_sqlite(self, compiler, connection, **extra_context):
        return Func.as_sql(
            self,
            compiler,
            connection,
            template="CAST(ROUND(julianday(%(expressions)s)) AS INTEGER)",
            arg_joiner=") - julianday(",
            **extra_context,
        )


@contextmanager
def planner_settings(*, megabytes: int | None = 32, by_deal: bool = False, stream: bool = False):
    """On PostgreSQL, let this report's sorts and hashes use more memory than the default
    4 MB (``SET LOCAL``: this transaction only), so a year of transitions sorts in memory
    instead of spilling to disk. Elsewhere, nothing.

    With ``by_deal`` (the scope is one person's deals), the rows of each deal are found
    through the deal's index rather than by hashing the whole range of rows: PostgreSQL
    misjudges the few thousand deals of one rep against a year of every deal's transitions
    (one rep's stage visits at 100,000 deals: 84 ms hashed, 41 ms by deal; the leads of a
    year, each joined to its deal by key: 58 ms hashed, 37 ms by key).

    With ``stream``, rows are grouped in the order an index returns them instead of hashed,
    and read from that index rather than through a bitmap of it: the stage report's visits
    of a whole pipeline come from its (stage, deal) index already in group order, and
    PostgreSQL would otherwise hash the year's 128,000 visits of the 100,000-deal demo
    (the admin's report query: 419-475 ms hashed, 316-327 ms grouped as read).

    ``megabytes`` None keeps the memory setting. The settings end with the transaction: the
    report views run outside one (``ATOMIC_REQUESTS`` is off), so they end with the block;
    called inside an outer transaction, they last until it ends (plans change, never
    results)."""
    if connection.vendor != "postgresql" or (megabytes is None and not by_deal and not stream):
        yield
        return
    # set_config(…, true) is SET LOCAL: every setting in one statement.
    settings = [] if megabytes is None else [("work_mem", f"{int(megabytes)}MB")]
    if by_deal:
        settings += [("enable_hashjoin", "off"), ("enable_mergejoin", "off")]
    if stream:
        settings += [("enable_hashagg", "off"), ("enable_bitmapscan", "off")]
    calls = ", ".join("set_config(%s, %s, true)" for _ in settings)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SELECT {calls}", [v for pair in settings for v in pair])  # nosec B608: placeholders only; names and values are params
        yield
