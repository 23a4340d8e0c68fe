"""A scope's live forecast figures (the dashboard's tiles, its table per rep and per month):
the snapshot's sums (:func:`forecasting.aggregates.snapshot_aggregates`) over the scope's deals
as they stand today, both tables from one query grouped by owner and month."""

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


def _figures_by_owner_month(scope: ForecastScope, months, *, rates, fx) -> dict:
    """Live figures per ``(owner, month)`` for the months of ``months``: one grouped query.

    The deals are read by their stored dates (:func:`forecasting.scope.dated_in`) and grouped
    by their period too; the groups of a period outside ``months`` (the few deals those dates
    take in beyond the period's own) are dropped here, so no deal's period is computed before
    the owner narrowing, only once per deal read. Each deal's state (its amount in the
    reporting currency above all, a rate lookup for a closed deal in another currency) is
    computed once, in a subquery the sums read by column
    (:func:`forecasting.rowsums.grouped_totals_over`), not once per sum."""
    keys = ("s_owner", "s_period")
    columns = {"s_owner": BigIntegerField(), "s_period": DateField(), **FIGURE_COLUMNS}
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
    # The period is a date: grouped_totals_over reads it as its DateField.
    return {group: figures_from_row(row) for group, row in found.items() if group[-1] in wanted}


def _summed(into: dict, name, figures: Figures) -> None:
    if name not in into:
        into[name] = Figures()
    into[name].add(figures)


def figures_by_owner_and_month(
    scope: ForecastScope, months: list[dt.date], *, rates=None, fx=None
) -> tuple[dict[int, Figures], dict[dt.date, Figures]]:
    """The dashboard's two tables from one grouped query: the period's live figures per owner,
    and the live figures of each month of ``months`` (the period's year) summed over owners.
    The query groups by owner and month over both sets of months; each table adds up its own
    groups."""
    period = set(scope.period.months)
    listed = set(months)
    groups = _figures_by_owner_month(scope, sorted(period | listed), rates=rates, fx=fx)
    by_owner: dict = {}
    by_month: dict = {}
    for (owner, month), figures in groups.items():
        if month in period:
            _summed(by_owner, owner, figures)
        if month in listed:
            _summed(by_month, month, figures)
    return by_owner, by_month
