"""Empirical stage win rates (DESIGN.md §3): of the deals that entered a stage in the
trailing twelve months and have closed, how many were won. Read by the snapshot (pipelines
that forecast with empirical probabilities) and by the stage calibration page."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, F, OuterRef, Q, Subquery

from forecasting.periods import end_of_day, today
from pipeline.models import ProbabilitySource, Stage, StageTransition

EMPIRICAL_WINDOW_DAYS = 365
EMPIRICAL_MIN_CLOSED = 5
OPEN, WON, LOST = Stage.Kind.OPEN, Stage.Kind.WON, Stage.Kind.LOST


@dataclass(frozen=True)
class StageRate:
    stage_id: int
    entered: int
    closed: int
    won: int

    @property
    def rate(self) -> Decimal | None:
        """Won ÷ closed as a percentage; None without any closed deal."""
        if not self.closed:
            return None
        return (Decimal(100) * self.won / self.closed).quantize(Decimal("0.1"))


def stage_win_counts(*, on: dt.date, pipeline_ids=None) -> dict[int, StageRate]:
    """DESIGN §3: of the deals that entered each stage in the 12 months up to ``on`` and have
    closed by then, how many were won. One aggregate query."""
    cutoff = end_of_day(on)
    entered = StageTransition.objects.filter(
        changed_at__lt=cutoff,
        changed_at__gte=cutoff - dt.timedelta(days=EMPIRICAL_WINDOW_DAYS),
    )
    if pipeline_ids is not None:
        entered = entered.filter(to_stage__pipeline_id__in=list(pipeline_ids))
    if on >= today():
        outcome = F("opportunity__stage__kind")
    else:
        outcome = Subquery(
            StageTransition.objects.filter(
                opportunity=OuterRef("opportunity_id"), changed_at__lt=cutoff
            )
            .order_by("-changed_at", "-id")
            .values("to_stage__kind")[:1]
        )
    rows = (
        entered.annotate(outcome=outcome)
        .values("to_stage_id")
        .annotate(
            entered=Count("opportunity_id", distinct=True),
            closed=Count("opportunity_id", distinct=True, filter=Q(outcome__in=[WON, LOST])),
            won=Count("opportunity_id", distinct=True, filter=Q(outcome=WON)),
        )
        .order_by()
    )
    return {
        r["to_stage_id"]: StageRate(r["to_stage_id"], r["entered"], r["closed"], r["won"])
        for r in rows
    }


def empirical_stage_rates(*, on: dt.date) -> dict[int, int]:
    """Whole-percent empirical win rates of the open stages of pipelines that forecast with
    them (``Pipeline.probability_source`` empirical); stages with fewer than
    ``EMPIRICAL_MIN_CLOSED`` closed deals keep their configured probability."""
    stages = dict(
        Stage.objects.filter(
            kind=OPEN, pipeline__probability_source=ProbabilitySource.EMPIRICAL
        ).values_list("pk", "pipeline_id")
    )
    if not stages:
        return {}
    counts = stage_win_counts(on=on, pipeline_ids=set(stages.values()))
    return {
        stage_id: int((Decimal(100) * c.won / c.closed).quantize(Decimal(1)))
        for stage_id, c in counts.items()
        if stage_id in stages and c.closed >= EMPIRICAL_MIN_CLOSED
    }
