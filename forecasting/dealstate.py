"""The state of every deal as of a date, for the forecast: the set-based state query lives in
:mod:`pipeline.selectors.dealstate` (the pipeline's board and list read the past through it
too, so a board as of a date and the snapshot of that date are the same computation); this
module adds what only the forecast knows, the empirical stage win rates
(:func:`forecasting.winrates.empirical_stage_rates`) a snapshot of a date weights open deals
by in pipelines with ``use_empirical_probabilities``."""

from __future__ import annotations

import datetime as dt

from forecasting.winrates import empirical_stage_rates
from pipeline.selectors.dealstate import (
    LOST,
    MONEY_FIELD,
    OPEN,
    STATE_FIELDS,
    WON,
    ZERO,
    live_deals,
    reconstructed_deals,
    state_at,
    today,
    weighted_expression,
)

__all__ = [
    "LOST",
    "MONEY_FIELD",
    "OPEN",
    "STATE_FIELDS",
    "WON",
    "ZERO",
    "deals_at",
    "live_deals",
    "reconstructed_deals",
    "state_at",
    "weighted_expression",
]


def deals_at(*, on: dt.date, rates: dict[int, int] | None = None, queryset=None, fx=None):
    """Live deals for today (or later), reconstructed deals for a past date, weighted by the
    empirical stage rates as of ``on`` unless ``rates`` is given; ``fx`` are the exchange
    rates of ``on`` (fetched when None)."""
    if rates is None:
        rates = empirical_stage_rates(on=on)
    if on >= today():
        return live_deals(rates=rates, queryset=queryset, fx=fx)
    return reconstructed_deals(on=on, rates=rates, queryset=queryset, fx=fx)
