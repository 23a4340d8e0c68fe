"""Forecast accuracy (DESIGN.md §3): each finished month's forecast as it stood on the month's
first day beside what was won, per rep, team and everyone in view, and the Brier score of the
probabilities deals closed from. A fixed number of grouped queries."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import (
    Avg,
    Case,
    Count,
    F,
    FloatField,
    IntegerField,
    OuterRef,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast

from accounts import visibility
from accounts.models import User
from forecasting.models import ForecastSnapshot
from forecasting.periods import add_months, start_of_day
from forecasting.scope import ForecastScope, months_filter, scoped_deals
from pipeline.models import Stage, StageTransition

ZERO = Decimal("0")
WON, LOST = Stage.Kind.WON, Stage.Kind.LOST


@dataclass
class AccuracyCell:
    month: dt.date
    forecast: Decimal | None
    actual: Decimal

    @property
    def error(self) -> Decimal | None:
        """(forecast − actual) ÷ actual, in percent (DESIGN §3)."""
        if self.forecast is None or not self.actual:
            return None
        return Decimal(100) * (self.forecast - self.actual) / self.actual


@dataclass
class AccuracyRow:
    label: str
    cells: list[AccuracyCell]
    brier: float | None = None
    closed: int = 0
    is_team: bool = False

    @property
    def errors(self) -> list[Decimal]:
        return [c.error for c in self.cells if c.error is not None]

    @property
    def mape(self) -> Decimal | None:
        e = self.errors
        return sum((abs(x) for x in e), ZERO) / len(e) if e else None

    @property
    def bias(self) -> Decimal | None:
        e = self.errors
        return sum(e, ZERO) / len(e) if e else None

    @property
    def forecast_total(self) -> Decimal:
        return sum((c.forecast or ZERO for c in self.cells), ZERO)

    @property
    def actual_total(self) -> Decimal:
        return sum((c.actual for c in self.cells), ZERO)


def brier_scores(scope: ForecastScope, start: dt.date, end: dt.date) -> dict:
    """Per owner: mean of (p − outcome)² over deals closed in [start, end), p the probability
    the deal carried in the stage it closed from. One grouped query (plus one by bucket)."""
    previous = StageTransition.objects.filter(
        opportunity=OuterRef("opportunity_id"), changed_at__lt=OuterRef("changed_at")
    ).order_by("-changed_at", "-id")
    closings = (
        StageTransition.objects.filter(
            opportunity__in=scope.opportunities().values("pk"),
            to_stage__kind__in=[WON, LOST],
            changed_at__gte=start_of_day(start),
            changed_at__lt=start_of_day(end),
        )
        .annotate(
            p=Subquery(previous.values("probability")[:1], output_field=IntegerField()),
            outcome=Case(When(to_stage__kind=WON, then=Value(1.0)), default=Value(0.0)),
        )
        .filter(p__isnull=False)
    )
    diff = Cast("p", FloatField()) / Value(100.0) - F("outcome")
    by_owner = {
        r["opportunity__owner"]: r
        for r in closings.values("opportunity__owner")
        .annotate(brier=Avg(diff * diff), n=Count("pk"))
        .order_by()
    }
    buckets = list(closings.values("p").annotate(n=Count("pk"), won=Sum("outcome")).order_by("p"))
    overall = closings.aggregate(brier=Avg(diff * diff), n=Count("pk"))
    return {"by_owner": by_owner, "buckets": buckets, "overall": overall}


def latest_month_with_snapshot(*, before: dt.date) -> dt.date | None:
    """The latest month before ``before`` whose first day has a snapshot."""
    return (
        ForecastSnapshot.objects.filter(taken_on__lt=before, taken_on__day=1)
        .order_by("-taken_on")
        .values_list("taken_on", flat=True)
        .first()
    )


def accuracy(scope: ForecastScope, months: list[dt.date]) -> dict:
    forecasts = (
        scope.snapshots()
        .filter(period__in=months, taken_on=F("period"))
        .values("period", "owner")
        .annotate(f=Sum(F("won_amount") + F("weighted_amount")))
        .order_by()
    )
    forecast = {(r["period"], r["owner"]): r["f"] for r in forecasts}
    # Months whose first day has a snapshot at all (a forecast of nothing is 0, not missing).
    with_snapshot = set(
        ForecastSnapshot.objects.filter(taken_on__in=months)
        .order_by()
        .values_list("taken_on", flat=True)
        .distinct()
    )
    actuals = (
        scoped_deals(scope)
        .filter(s_kind=WON)
        .filter(months_filter(months))
        .values("s_period", "s_owner")
        .annotate(a=Sum("s_amount"))
        .order_by()
    )
    actual = {}
    for r in actuals:
        period = r["s_period"]
        period = period.date() if isinstance(period, dt.datetime) else period
        actual[(period, r["s_owner"])] = r["a"]
    brier = brier_scores(scope, months[0], add_months(months[-1], 1))
    reps = scope.reps()
    owners = {o for (_, o) in forecast} | {o for (_, o) in actual}
    reps += list(User.objects.filter(pk__in=owners - {r.pk for r in reps}).select_related("team"))

    def cells_for(owner_ids):
        out = []
        for m in months:
            has = m in with_snapshot
            f = [forecast[(m, o)] for o in owner_ids if (m, o) in forecast]
            a = sum((actual.get((m, o), ZERO) for o in owner_ids), ZERO)
            out.append(AccuracyCell(m, (sum(f, ZERO) if f or has else None), a))
        return out

    rows = []
    for rep in reps:
        if rep.pk not in owners and not visibility.carries_quota(rep):
            continue
        b = brier["by_owner"].get(rep.pk)
        rows.append(
            AccuracyRow(
                label=str(rep),
                cells=cells_for([rep.pk]),
                brier=b["brier"] if b else None,
                closed=b["n"] if b else 0,
            )
        )
    team_rows = []
    # A rep sees only their own deals: a "team" or "all" row would repeat their own figures
    # under a misleading label, so reps get their row alone.
    sees_people = visibility.can_see_team_forecast(scope.user)
    for team in scope.teams() if sees_people else []:
        ids = [r.pk for r in reps if r.team_id == team.pk]
        scored = [brier["by_owner"][i] for i in ids if i in brier["by_owner"]]
        closed = sum(b["n"] for b in scored)
        team_rows.append(
            AccuracyRow(
                label=team.name,
                cells=cells_for(ids),
                # The team's Brier score: the mean over all its reps' closed deals.
                brier=sum(b["brier"] * b["n"] for b in scored) / closed if closed else None,
                closed=closed,
                is_team=True,
            )
        )
    total = AccuracyRow(label="All in view", cells=cells_for([r.pk for r in reps]), is_team=True)
    total.brier = brier["overall"]["brier"]
    total.closed = brier["overall"]["n"]
    buckets = [
        {
            "p": b["p"],
            "n": b["n"],
            "won": int(b["won"] or 0),
            "rate": Decimal(100) * Decimal(int(b["won"] or 0)) / b["n"] if b["n"] else None,
        }
        for b in brier["buckets"]
    ]
    return {
        "rows": rows,
        "team_rows": team_rows,
        "total": total,
        "show_total": sees_people,
        "months": months,
        "missing": [m for m in months if m not in with_snapshot],
        "buckets": buckets,
    }
