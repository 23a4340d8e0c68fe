"""Read queries of the forecast pages. Every query starts from ``visible_to(user)``; each
selector issues a fixed number of SQL queries whatever the number of deals or snapshots
(grouped aggregates, never a query per row).

Live figures (the dashboard's tiles and table, the deal lists) come from the live tables
through the same deal-state expressions the snapshot uses (``services.live_deals``), so a
tile and the list behind it always agree; the trend, the ranges and the accuracy come from
the stored snapshots.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import urlencode

from django.db.models import (
    Avg,
    Case,
    Count,
    F,
    FloatField,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce
from django.urls import reverse
from django.utils import timezone

from accounts import visibility
from accounts.models import Team, User
from forecasting import services
from forecasting.models import (
    ForecastAdjustment,
    ForecastRange,
    ForecastSnapshot,
    PeriodKind,
    Quota,
)
from pipeline.models import Opportunity, Pipeline, Stage, StageTransition

ZERO = Decimal("0")
OPEN, WON, LOST = Stage.Kind.OPEN, Stage.Kind.WON, Stage.Kind.LOST
QUARTER_NAMES = {1: "Q1", 4: "Q2", 7: "Q3", 10: "Q4"}


# --- periods and scope -----------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
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
        return cls(PeriodKind.QUARTER, services.quarter_start(today or timezone.localdate()))

    @property
    def months(self) -> list[dt.date]:
        n = 3 if self.kind == PeriodKind.QUARTER else 1
        return [services.add_months(self.start, i) for i in range(n)]

    @property
    def end(self) -> dt.date:
        """The first day after the period."""
        return services.add_months(self.start, len(self.months))

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


def period_choices(today: dt.date | None = None) -> list[tuple[str, str]]:
    today = today or timezone.localdate()
    q0 = services.quarter_start(today)
    quarters = [Period(PeriodKind.QUARTER, services.add_months(q0, 3 * i)) for i in range(-4, 3)]
    m0 = services.month_start(today)
    months = [Period(PeriodKind.MONTH, services.add_months(m0, i)) for i in range(-12, 7)]
    return [
        ("Quarters", [(p.param, p.label) for p in reversed(quarters)]),
        ("Months", [(p.param, p.label) for p in reversed(months)]),
    ]


@dataclass
class Scope:
    """Who is asking and what they filtered on; the one place that narrows queries."""

    user: User
    period: Period
    pipeline: Pipeline | None = None
    team: Team | None = None
    rep: User | None = None

    def querystring(self, **extra) -> str:
        params = {"period": self.period.param}
        if self.pipeline:
            params["pipeline"] = self.pipeline.pk
        if self.team:
            params["team"] = self.team.pk
        if self.rep:
            params["rep"] = self.rep.pk
        params.update({k: v for k, v in extra.items() if v not in (None, "")})
        return urlencode(params)

    def opportunities(self):
        qs = Opportunity.objects.visible_to(self.user)
        return self._narrow(qs, "owner")

    def snapshots(self):
        return self._narrow(ForecastSnapshot.objects.visible_to(self.user), "owner")

    def _narrow(self, qs, owner_field: str):
        if self.pipeline:
            qs = qs.filter(pipeline=self.pipeline)
        if self.team:
            qs = qs.filter(**{f"{owner_field}__team": self.team})
        if self.rep:
            qs = qs.filter(**{owner_field: self.rep})
        return qs

    def reps(self) -> list[User]:
        """The people whose rows the scope shows (visible, narrowed by team and rep)."""
        qs = visibility.visible_users(self.user).select_related("team")
        if self.team:
            qs = qs.filter(team=self.team)
        if self.rep:
            qs = qs.filter(pk=self.rep.pk)
        return list(qs.order_by("first_name", "last_name", "username"))

    def teams(self) -> list[Team]:
        """Teams the scope covers: the filtered team, a rep's team, or every visible team."""
        if self.rep:
            return []
        if self.team:
            return [self.team]
        if "_teams" not in self.__dict__:
            self.__dict__["_teams"] = list(visibility.visible_teams(self.user).order_by("name"))
        return self.__dict__["_teams"]

    @property
    def is_everyone(self) -> bool:
        return visibility.is_admin(self.user) and not (self.team or self.rep)


# --- figures ---------------------------------------------------------------------------------


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


def _figures(row: dict) -> Figures:
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


def scoped_deals(scope: Scope, *, rates: dict[int, int] | None = None):
    if rates is None:
        rates = services.empirical_stage_rates(on=timezone.localdate())
    return services.live_deals(rates=rates, queryset=scope.opportunities())


def _months_filter(months: list[dt.date]) -> Q:
    return Q(s_period__gte=months[0], s_period__lte=months[-1])


def figures_by_owner(scope: Scope, *, rates=None) -> dict[int, Figures]:
    """Live figures of the period per owner: one grouped query."""
    rows = (
        scoped_deals(scope, rates=rates)
        .filter(_months_filter(scope.period.months))
        .values("s_owner")
        .annotate(**services.snapshot_aggregates())
        .order_by()
    )
    return {r["s_owner"]: _figures(r) for r in rows}


def figures_by_month(scope: Scope, months: list[dt.date], *, rates=None) -> dict[dt.date, Figures]:
    rows = (
        scoped_deals(scope, rates=rates)
        .filter(_months_filter(months))
        .values("s_period")
        .annotate(**services.snapshot_aggregates())
        .order_by()
    )
    out = {}
    for r in rows:
        period = r["s_period"]
        period = period.date() if isinstance(period, dt.datetime) else period
        out[period] = _figures(r)
    return out


# --- quotas ----------------------------------------------------------------------------------


@dataclass
class QuotaBook:
    """Quotas of some months: by user, by team, and each team's effective quota."""

    user: dict[tuple[int, dt.date], Decimal]
    team: dict[tuple[int, dt.date], Decimal]
    members: dict[int, list[int]]
    teamless: set[int]

    def for_user(self, user_id: int, months) -> Decimal | None:
        parts = [self.user[(user_id, m)] for m in months if (user_id, m) in self.user]
        return sum(parts, ZERO) if parts else None

    def for_team(self, team_id: int, months) -> Decimal | None:
        total, found = ZERO, False
        for m in months:
            if (team_id, m) in self.team:
                total += self.team[(team_id, m)]
                found = True
                continue
            for u in self.members.get(team_id, []):
                if (u, m) in self.user:
                    total += self.user[(u, m)]
                    found = True
        return total if found else None

    def for_scope(self, scope: Scope, months) -> Decimal | None:
        if scope.rep:
            return self.for_user(scope.rep.pk, months)
        if not (visibility.is_admin(scope.user) or visibility.is_manager(scope.user)):
            # A rep sees their own deals only, so their own quota is the one that applies.
            return self.for_user(scope.user.pk, months)
        parts = [self.for_team(t.pk, months) for t in scope.teams()]
        if scope.is_everyone:
            parts += [self.for_user(u, months) for u in self.teamless]
        parts = [p for p in parts if p is not None]
        return sum(parts, ZERO) if parts else None


def quota_book(months: list[dt.date]) -> QuotaBook:
    user_q, team_q = services.quota_lookup(months)
    members: dict[int, list[int]] = {}
    teamless = set()
    for pk, team_id in User.objects.filter(is_active=True).values_list("pk", "team_id"):
        if team_id:
            members.setdefault(team_id, []).append(pk)
        else:
            teamless.add(pk)
    teamless &= {u for (u, _) in user_q}
    return QuotaBook(user=user_q, team=team_q, members=members, teamless=teamless)


# --- the dashboard ---------------------------------------------------------------------------


@dataclass
class RepRow:
    rep: User
    figures: Figures
    adjustment: ForecastAdjustment | None = None
    can_adjust: bool = False


@dataclass
class Dashboard:
    scope: Scope
    total: Figures
    rows: list[RepRow]
    team_adjustments: list[tuple[Team, ForecastAdjustment | None, bool]]
    months: list[dict]
    trend: list[dict]
    range: ForecastRange | None
    range_note: str
    links: dict[str, str] = field(default_factory=dict)
    quota_note: str = ""


def deals_url(scope: Scope, metric: str, **extra) -> str:
    return f"{reverse('forecasting:deals')}?{scope.querystring(metric=metric, **extra)}"


def _range_for(scope: Scope) -> tuple[ForecastRange | None, str]:
    period = scope.period
    qs = ForecastRange.objects.visible_to(scope.user).filter(
        period_kind=period.kind, period=period.start, pipeline=scope.pipeline
    )
    if scope.rep:
        qs = qs.filter(owner=scope.rep)
    elif scope.team:
        qs = qs.filter(team=scope.team)
    elif scope.is_everyone:
        qs = qs.filter(owner__isnull=True, team__isnull=True)
    elif visibility.is_manager(scope.user):
        teams = visibility.managed_team_ids(scope.user)
        if len(teams) != 1:
            return None, "Choose a team to see its range of outcomes."
        qs = qs.filter(team_id=teams[0])
    else:
        qs = qs.filter(owner=scope.user)
    found = qs.order_by("-taken_on").first()
    if found is None:
        return None, (
            "No range for this period: the nightly snapshot computes the ranges of the "
            "current and the next quarter and their months."
        )
    return found, ""


def dashboard(scope: Scope) -> Dashboard:
    today = timezone.localdate()
    rates = services.empirical_stage_rates(on=today)
    months = scope.period.months
    year_months = [dt.date(scope.period.start.year, m, 1) for m in range(1, 13)]
    book = quota_book(sorted(set(year_months) | set(months)))
    by_owner = figures_by_owner(scope, rates=rates)
    reps = scope.reps()
    rep_ids = {r.pk for r in reps}
    missing = set(by_owner) - rep_ids
    if missing:  # deals of people no longer in the visible, active list (e.g. deactivated)
        reps += list(User.objects.filter(pk__in=missing).select_related("team"))

    adjustments = {
        (a.user_id, a.team_id): a
        for a in ForecastAdjustment.objects.visible_to(scope.user)
        .filter(period_kind=scope.period.kind, period=scope.period.start)
        .select_related("author")
    }
    rows = []
    total = Figures()
    for rep in reps:
        fig = by_owner.get(rep.pk, Figures())
        fig.quota = book.for_user(rep.pk, months)
        if fig.quota is None and not by_owner.get(rep.pk) and rep.role != User.Role.REP:
            continue  # managers and admins without deals or quota are not rows
        total.add(fig)
        rows.append(
            RepRow(
                rep=rep,
                figures=fig,
                adjustment=adjustments.get((rep.pk, None)),
                can_adjust=services.can_manage(scope.user, user=rep) and rep.pk != scope.user.pk,
            )
        )
    total.quota = book.for_scope(scope, months)
    teams = [
        (t, adjustments.get((None, t.pk)), services.can_manage(scope.user, team=t))
        for t in scope.teams()
        if visibility.is_admin(scope.user) or visibility.is_manager(scope.user)
    ]

    by_month = figures_by_month(scope, year_months, rates=rates)
    month_rows = []
    for m in year_months:
        fig = by_month.get(m, Figures())
        fig.quota = book.for_scope(scope, [m])
        month_rows.append(
            {
                "month": m,
                "figures": fig,
                "param": f"{m:%Y-%m}",
                "in_period": m in months,
                "won_url": deals_url(scope, "won", period=f"{m:%Y-%m}"),
                "weighted_url": deals_url(scope, "weighted", period=f"{m:%Y-%m}"),
            }
        )

    trend_rows = (
        scope.snapshots()
        .filter(period__in=months, taken_on__gte=services.add_months(scope.period.start, -3))
        .values("taken_on")
        .annotate(
            won=Sum("won_amount"),
            commit=Sum("commit_amount"),
            best_case=Sum("best_case_amount"),
            weighted=Sum("weighted_amount"),
            open=Sum("open_amount"),
        )
        .order_by("taken_on")
    )
    trend = [
        {
            "taken_on": r["taken_on"],
            "won": r["won"],
            "commit_forecast": r["won"] + r["commit"],
            "best_case_forecast": r["won"] + r["commit"] + r["best_case"],
            "weighted_forecast": r["won"] + r["weighted"],
            "open": r["open"],
        }
        for r in trend_rows
    ]
    found_range, note = _range_for(scope)
    links = {
        metric: deals_url(scope, metric)
        for metric in ("won", "commit_forecast", "best_case_forecast", "weighted", "open")
    }
    return Dashboard(
        scope=scope,
        total=total,
        rows=rows,
        team_adjustments=teams,
        months=month_rows,
        trend=trend,
        range=found_range,
        range_note=note,
        links=links,
        quota_note="Quotas cover every pipeline." if scope.pipeline else "",
    )


# --- deals behind a number -------------------------------------------------------------------

METRICS = {
    "won": ("Closed won", Q(s_kind=WON)),
    "commit_forecast": (
        "Commit forecast: closed won and open commit deals",
        Q(s_kind=WON) | Q(s_kind=OPEN, s_category="commit"),
    ),
    "best_case_forecast": (
        "Best-case forecast: closed won, open commit and best-case deals",
        Q(s_kind=WON) | Q(s_kind=OPEN, s_category__in=["commit", "best_case"]),
    ),
    "weighted": (
        "Weighted forecast: closed won and every open deal at its probability",
        Q(s_kind__in=[WON, OPEN]),
    ),
    "open": ("Open pipeline", Q(s_kind=OPEN)),
    "lost": ("Closed lost", Q(s_kind=LOST)),
}


def deals_behind(scope: Scope, metric: str):
    """The deals behind a dashboard figure (live), their totals, and the title."""
    title, condition = METRICS[metric]
    qs = (
        scoped_deals(scope)
        .filter(_months_filter(scope.period.months))
        .filter(condition)
        .annotate(s_weighted=services.weighted_expression())
        .select_related("owner", "stage", "company")
        .order_by("-amount", "pk")
    )
    totals = qs.aggregate(
        count=Count("pk"),
        amount=Coalesce(Sum("s_amount"), Value(ZERO), output_field=services.MONEY_FIELD),
        weighted=Coalesce(
            Sum(services.weighted_expression()), Value(ZERO), output_field=services.MONEY_FIELD
        ),
    )
    return title, qs, totals


# --- what changed ----------------------------------------------------------------------------

BARS = [
    ("start", "Open at start"),
    ("new", "New deals"),
    ("pulled_in", "Pulled in"),
    ("pushed_out", "Pushed out"),
    ("amount_change", "Amount changes"),
    ("won", "Won"),
    ("lost", "Lost"),
    ("end", "Open at end"),
]


def _state_at(qs, on: dt.date, prefix: str, rates):
    """Annotate ``{prefix}kind``, ``{prefix}amount``, ``{prefix}period`` of each deal at
    ``on`` (kind is NULL where the deal did not exist yet)."""
    if on >= timezone.localdate():
        states = services.live_deals(rates=rates)
    else:
        states = services.reconstructed_deals(on=on, rates=rates)
    return qs.annotate(
        **{
            f"{prefix}kind": Subquery(states.filter(pk=OuterRef("pk")).values("s_kind")[:1]),
            f"{prefix}amount": Subquery(
                states.filter(pk=OuterRef("pk")).values("s_amount")[:1],
                output_field=services.MONEY_FIELD,
            ),
            f"{prefix}period": Subquery(states.filter(pk=OuterRef("pk")).values("s_period")[:1]),
        }
    )


def change_conditions(months: list[dt.date]) -> dict[str, Q]:
    first, last = months[0], months[-1]
    in1 = Q(a_kind=OPEN, a_period__gte=first, a_period__lte=last)
    in2 = Q(b_kind=OPEN, b_period__gte=first, b_period__lte=last)
    closed_now = Q(b_kind__in=[WON, LOST], b_period__gte=first, b_period__lte=last) & ~Q(
        a_kind__in=[WON, LOST]
    )
    return {
        "start": in1,
        "new": Q(a_kind__isnull=True) & (in2 | closed_now),
        "pulled_in": Q(a_kind__isnull=False) & ~in1 & (in2 | closed_now),
        "pushed_out": in1 & ~in2 & ~closed_now,
        "amount_change": in1 & (in2 | closed_now) & ~Q(a_amount=F("b_amount")),
        "won": closed_now & Q(b_kind=WON),
        "lost": closed_now & Q(b_kind=LOST),
        "end": in2,
    }


def _changes_queryset(scope: Scope, start: dt.date, end: dt.date):
    rates = services.empirical_stage_rates(on=end)
    qs = scope.opportunities()
    qs = _state_at(qs, start, "a_", rates)
    return _state_at(qs, end, "b_", rates)


def what_changed(scope: Scope, start: dt.date, end: dt.date) -> list[dict]:
    """The waterfall of the period's open pipeline between ``start`` and ``end``: one query.
    Start + new + pulled in − pushed out ± amount changes − won − lost = end."""
    conditions = change_conditions(scope.period.months)
    money = services.MONEY_FIELD
    values = {
        "start": F("a_amount"),
        "new": F("b_amount"),
        "pulled_in": F("b_amount"),
        "pushed_out": F("a_amount"),
        "amount_change": F("b_amount") - F("a_amount"),
        "won": F("b_amount"),
        "lost": F("b_amount"),
        "end": F("b_amount"),
    }
    aggregates = {}
    for key, condition in conditions.items():
        aggregates[f"{key}_amount"] = Coalesce(
            Sum(values[key], filter=condition, output_field=money), Value(ZERO), output_field=money
        )
        aggregates[f"{key}_count"] = Count("pk", filter=condition)
    totals = _changes_queryset(scope, start, end).aggregate(**aggregates)
    sign = {"pushed_out": -1, "won": -1, "lost": -1}
    bars = []
    running = ZERO
    for key, label in BARS:
        amount = totals[f"{key}_amount"]
        delta = sign.get(key, 1) * amount
        if key in ("start", "end"):
            low, high = ZERO, amount
            running = amount
        else:
            low, high = sorted([running, running + delta])
            running += delta
        bars.append(
            {
                "key": key,
                "label": label,
                "amount": amount,
                "delta": delta,
                "count": totals[f"{key}_count"],
                "low": low,
                "high": high,
            }
        )
    return bars


def changed_deals(scope: Scope, start: dt.date, end: dt.date, bar: str):
    condition = change_conditions(scope.period.months)[bar]
    return (
        _changes_queryset(scope, start, end)
        .filter(condition)
        .select_related("owner", "stage", "company")
        .order_by("-b_amount", "-a_amount", "pk")
    )


def snapshot_dates(limit: int = 60) -> list[dt.date]:
    return list(
        ForecastSnapshot.objects.order_by("-taken_on")
        .values_list("taken_on", flat=True)
        .distinct()[:limit]
    )


# --- accuracy --------------------------------------------------------------------------------


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


def finished_months(count: int, today: dt.date | None = None) -> list[dt.date]:
    m0 = services.month_start(today or timezone.localdate())
    return [services.add_months(m0, -i) for i in range(count, 0, -1)]


def brier_scores(scope: Scope, start: dt.date, end: dt.date) -> dict:
    """Per owner: mean of (p − outcome)² over deals closed in [start, end), p the probability
    the deal carried in the stage it closed from. One grouped query (plus one by bucket)."""
    previous = StageTransition.objects.filter(
        opportunity=OuterRef("opportunity_id"), changed_at__lt=OuterRef("changed_at")
    ).order_by("-changed_at", "-id")
    closings = (
        StageTransition.objects.filter(
            opportunity__in=scope.opportunities().values("pk"),
            to_stage__kind__in=[WON, LOST],
            changed_at__gte=services.end_of_day(start - dt.timedelta(days=1)),
            changed_at__lt=services.end_of_day(end - dt.timedelta(days=1)),
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


def accuracy(scope: Scope, months: list[dt.date]) -> dict:
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
        .filter(_months_filter(months))
        .values("s_period", "s_owner")
        .annotate(a=Sum("s_amount"))
        .order_by()
    )
    actual = {}
    for r in actuals:
        period = r["s_period"]
        period = period.date() if isinstance(period, dt.datetime) else period
        actual[(period, r["s_owner"])] = r["a"]
    brier = brier_scores(scope, months[0], services.add_months(months[-1], 1))
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
        if rep.pk not in owners and rep.role != User.Role.REP:
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
    sees_people = visibility.is_admin(scope.user) or visibility.is_manager(scope.user)
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


# --- stage calibration -----------------------------------------------------------------------


def stage_calibration() -> list[dict]:
    """Each pipeline's stages: configured probability beside the empirical win rate (trailing
    12 months of transitions). Two queries."""
    counts = services.stage_win_counts(on=timezone.localdate())
    pipelines = {}
    for stage in Stage.objects.select_related("pipeline").order_by(
        "pipeline__position", "pipeline_id", "position", "pk"
    ):
        entry = pipelines.setdefault(stage.pipeline_id, {"pipeline": stage.pipeline, "stages": []})
        c = counts.get(stage.pk)
        rate = c.rate if c else None
        entry["stages"].append(
            {
                "stage": stage,
                "entered": c.entered if c else 0,
                "closed": c.closed if c else 0,
                "won": c.won if c else 0,
                "rate": rate,
                "difference": (rate - stage.probability) if rate is not None else None,
                "used": stage.pipeline.use_empirical_probabilities
                and stage.is_open
                and c is not None
                and c.closed >= services.EMPIRICAL_MIN_CLOSED,
            }
        )
    return list(pipelines.values())


# --- quotas page -----------------------------------------------------------------------------


def quota_grid(user: User, year: int) -> dict:
    months = [dt.date(year, m, 1) for m in range(1, 13)]
    people = [
        u
        for u in visibility.visible_users(user).select_related("team").order_by("team__name")
        if u.role == User.Role.REP
    ]
    teams = list(visibility.visible_teams(user).order_by("name"))
    quotas = Quota.objects.visible_to(user).filter(month__in=months)
    values = {}
    for q in quotas:
        key = f"u{q.user_id}" if q.user_id else f"t{q.team_id}"
        values[(key, q.month)] = q.amount
    return {"months": months, "people": people, "teams": teams, "values": values}
