"""Forecast accuracy (DESIGN.md §3): each finished month's forecast as it stood on the month's
first day beside what was won, per rep, team and everyone in view, and the Brier score of the
probabilities deals closed from. A fixed number of grouped queries."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import (
    Count,
    F,
    Sum,
)

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
    the deal carried in the stage it closed from. That stage's stay is the transition the
    closing move ended (its ``left_at`` is the closing instant, its ``next_stage`` the closed
    stage), so the closings are read as those stays, through the (next stage, left at)
    index, in one query grouped by owner, probability and outcome; the means, the buckets
    and the overall figure are summed from its rows."""
    stays = (
        scope.of_visible_deals(StageTransition.objects.all())
        .filter(
            next_stage__kind__in=[WON, LOST],
            left_at__gte=start_of_day(start),
            left_at__lt=start_of_day(end),
            probability__isnull=False,
        )
        .values("opportunity__owner", "probability", "next_stage__kind")
        .annotate(n=Count("pk"))
        .order_by()
    )
    by_owner: dict = {}
    buckets: dict = {}
    overall = {"sum": 0.0, "n": 0}
    for r in stays:
        won = 1 if r["next_stage__kind"] == WON else 0
        square = r["n"] * (r["probability"] / 100.0 - won) ** 2
        for total in (by_owner.setdefault(r["opportunity__owner"], {"sum": 0.0, "n": 0}), overall):
            total["sum"] += square
            total["n"] += r["n"]
        bucket = buckets.setdefault(r["probability"], {"p": r["probability"], "n": 0, "won": 0})
        bucket["n"] += r["n"]
        bucket["won"] += won * r["n"]

    def scored(total):
        return {"brier": total["sum"] / total["n"] if total["n"] else None, "n": total["n"]}

    return {
        "by_owner": {owner: scored(total) for owner, total in by_owner.items()},
        "buckets": [buckets[p] for p in sorted(buckets)],
        "overall": scored(overall),
    }


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
