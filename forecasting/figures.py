"""A scope's live forecast figures (the dashboard's tiles, its table per rep and per month):
the snapshot's sums (:func:`forecasting.aggregates.snapshot_aggregates`) over the scope's deals
as they stand today, one grouped query each."""

from __future__ import annotations

import datetime as dt

from django.db.models import BigIntegerField, CharField, DateField, IntegerField

from forecasting.aggregates import Figures, figures_from_row, snapshot_aggregates
from forecasting.dealstate import MONEY_FIELD
from forecasting.rowsums import grouped_totals_over
from forecasting.scope import ForecastScope, dated_in, scoped_deals

# The deal-state columns the figures read, with their types (forecasting.rowsums).
FIGURE_COLUMNS = {
    "s_kind": CharField(),
    "s_amount": MONEY_FIELD,
    "s_prob": IntegerField(),
    "s_category": CharField(),
}
# The snapshot's sums a page's Figures show (figures_from_row); the snapshot's others (the
# configured and the model's weighting, lost amount) are left out, with their columns.
FIGURE_SUMS = (
    "open_count",
    "open_amount",
    "weighted_amount",
    "commit_amount",
    "best_case_amount",
    "won_amount",
    "won_count",
    "lost_count",
)


def _figures_by(scope: ForecastScope, months, key: str | None, field, *, rates, fx) -> dict:
    """Live figures of ``months`` per value of the state column ``key`` (None: per month):
    one grouped query.

    The deals are read by their stored dates (:func:`forecasting.scope.dated_in`) and grouped
    by their period too; the groups of a period outside ``months`` (the few deals those dates
    take in beyond the period's own) are dropped here and the rest added up per ``key``, so
    no deal's period is computed before the owner narrowing, only once per deal read. Each
    deal's state (its amount in the reporting currency above all, a rate lookup for a closed
    deal in another currency) is computed once, in a subquery the sums read by column
    (:func:`forecasting.rowsums.grouped_totals_over`), not once per sum."""
    keys = ("s_period",) if key is None else (key, "s_period")
    columns = {"s_period": DateField(), **FIGURE_COLUMNS}
    if key is not None:
        columns[key] = field
    rows = (
        scoped_deals(scope, rates=rates, fx=fx)
        .filter(dated_in(months))
        .values(*keys, *FIGURE_COLUMNS)
        .order_by()
    )
    found = grouped_totals_over(
        rows,
        columns,
        {
            name: aggregate
            for name, aggregate in snapshot_aggregates(counted="s_kind").items()
            if name in FIGURE_SUMS
        },
        group=keys,
    )
    wanted = set(months)
    out: dict = {}
    for group, row in found.items():
        period = group[-1]  # a date: grouped_totals_over reads it as its DateField
        if period not in wanted:
            continue
        figures = figures_from_row(row)
        name = period if key is None else group[0]
        if name in out:
            out[name].add(figures)
        else:
            out[name] = figures
    return out


def figures_by_owner(scope: ForecastScope, *, rates=None, fx=None) -> dict[int, Figures]:
    """Live figures of the period per owner: one grouped query."""
    return _figures_by(scope, scope.period.months, "s_owner", BigIntegerField(), rates=rates, fx=fx)


def figures_by_month(
    scope: ForecastScope, months: list[dt.date], *, rates=None, fx=None
) -> dict[dt.date, Figures]:
    """Live figures per month of ``months``: one grouped query."""
    return _figures_by(scope, months, None, None, rates=rates, fx=fx)
