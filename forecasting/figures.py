"""A scope's live forecast figures (the dashboard's tiles, its table per rep and per month):
the snapshot's sums (:func:`forecasting.aggregates.snapshot_aggregates`) over the scope's deals
as they stand today, one grouped query each."""

from __future__ import annotations

import datetime as dt

from django.db.models import BigIntegerField, CharField, DateField, IntegerField

from forecasting.aggregates import Figures, figures_from_row, snapshot_aggregates
from forecasting.dealstate import MONEY_FIELD
from forecasting.rowsums import grouped_totals_over
from forecasting.scope import ForecastScope, months_filter, scoped_deals

# The deal-state columns the figures read, with their types (forecasting.rowsums).
FIGURE_COLUMNS = {
    "s_kind": CharField(),
    "s_amount": MONEY_FIELD,
    "s_prob": IntegerField(),
    "s_stage_prob": IntegerField(),
    "s_model_prob": IntegerField(),
    "s_category": CharField(),
}


def _figures_by(scope: ForecastScope, months, key: str, field, *, rates, fx) -> dict:
    """Live figures of ``months`` per value of the state column ``key``: one grouped query.
    Each deal's state (its amount in the reporting currency above all, a rate lookup for a
    closed deal in another currency) is computed once, in a subquery the sums read by column
    (:func:`forecasting.rowsums.grouped_totals_over`), not once per sum."""
    rows = (
        scoped_deals(scope, rates=rates, fx=fx)
        .filter(months_filter(months))
        .values(key, *FIGURE_COLUMNS)
        .order_by()
    )
    found = grouped_totals_over(
        rows,
        {key: field, **FIGURE_COLUMNS},
        snapshot_aggregates(counted="s_kind"),
        group=(key,),
    )
    return {group[0]: figures_from_row(row) for group, row in found.items()}


def figures_by_owner(scope: ForecastScope, *, rates=None, fx=None) -> dict[int, Figures]:
    """Live figures of the period per owner: one grouped query."""
    return _figures_by(scope, scope.period.months, "s_owner", BigIntegerField(), rates=rates, fx=fx)


def figures_by_month(
    scope: ForecastScope, months: list[dt.date], *, rates=None, fx=None
) -> dict[dt.date, Figures]:
    """Live figures per month of ``months``: one grouped query."""
    found = _figures_by(scope, months, "s_period", DateField(), rates=rates, fx=fx)
    return {
        (period.date() if isinstance(period, dt.datetime) else period): figures
        for period, figures in found.items()
    }
