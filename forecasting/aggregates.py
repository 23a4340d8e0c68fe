"""The snapshot's figures: the columns of a :class:`~forecasting.models.ForecastSnapshot` as
aggregates over a deal-state queryset (:mod:`forecasting.dealstate`), and the
:class:`Figures` a page shows from one such row. The snapshot stores these sums; the
dashboard computes the same sums live, so a stored and a live number mean the same thing."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, F, Q, Sum, Value
from django.db.models.functions import Coalesce

from forecasting.dealstate import LOST, MONEY_FIELD, OPEN, WON, ZERO, weighted_expression
from pipeline.expressions import Percent
from pipeline.models import ForecastCategory


def snapshot_aggregates(*, counted: str = "pk"):
    """The snapshot columns as aggregates over a deal-state queryset (``counted``: the column
    that counts a row, never NULL in one; over :func:`forecasting.rowsums.totals_over`'s rows,
    which have no ``pk``, ``"s_kind"``)."""
    is_open = Q(s_kind=OPEN)

    def money(expr, condition):
        return Coalesce(Sum(expr, filter=condition), Value(ZERO), output_field=MONEY_FIELD)

    return {
        "open_count": Count(counted, filter=is_open),
        "open_amount": money(F("s_amount"), is_open),
        "weighted_amount": money(weighted_expression(), is_open),
        "stage_weighted_amount": money(Percent(F("s_amount") * F("s_stage_prob")), is_open),
        # A past date's model scores are not recorded: unscored, its deals count by stage.
        "model_weighted_amount": money(Percent(F("s_amount") * F("s_model_prob")), is_open),
        "commit_amount": money(F("s_amount"), is_open & Q(s_category=ForecastCategory.COMMIT)),
        "best_case_amount": money(
            F("s_amount"), is_open & Q(s_category=ForecastCategory.BEST_CASE)
        ),
        "won_amount": money(F("s_amount"), Q(s_kind=WON)),
        "won_count": Count(counted, filter=Q(s_kind=WON)),
        "lost_count": Count(counted, filter=Q(s_kind=LOST)),
        "lost_amount": money(F("s_amount"), Q(s_kind=LOST)),
    }


SNAPSHOT_COLUMNS = (
    "open_count",
    "open_amount",
    "weighted_amount",
    "stage_weighted_amount",
    "model_weighted_amount",
    "commit_amount",
    "best_case_amount",
    "won_amount",
    "won_count",
    "lost_count",
    "lost_amount",
)


@dataclass
class Figures:
    won: Decimal = ZERO
    won_count: int = 0
    commit: Decimal = ZERO
    best_case: Decimal = ZERO
    weighted: Decimal = ZERO
    open: Decimal = ZERO
    open_count: int = 0
    lost_count: int = 0
    quota: Decimal | None = None

    @property
    def commit_forecast(self) -> Decimal:
        return self.won + self.commit

    @property
    def best_case_forecast(self) -> Decimal:
        return self.won + self.commit + self.best_case

    @property
    def weighted_forecast(self) -> Decimal:
        return self.won + self.weighted

    @property
    def attainment(self) -> Decimal | None:
        """Closed won ÷ quota, in percent."""
        if not self.quota:
            return None
        return Decimal(100) * self.won / self.quota

    @property
    def gap(self) -> Decimal | None:
        """Quota still to close (never below zero)."""
        if self.quota is None:
            return None
        return max(self.quota - self.won, ZERO)

    @property
    def coverage(self) -> Decimal | None:
        """Open pipeline ÷ remaining quota (None when nothing remains to close)."""
        gap = self.gap
        if not gap:
            return None
        return self.open / gap

    def add(self, other: Figures) -> None:
        for name in ("won", "won_count", "commit", "best_case", "weighted", "open"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.open_count += other.open_count
        self.lost_count += other.lost_count


def figures_from_row(row: dict) -> Figures:
    return Figures(
        won=row["won_amount"],
        won_count=row["won_count"],
        commit=row["commit_amount"],
        best_case=row["best_case_amount"],
        weighted=row["weighted_amount"],
        open=row["open_amount"],
        open_count=row["open_count"],
        lost_count=row["lost_count"],
    )
