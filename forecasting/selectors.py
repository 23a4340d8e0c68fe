"""Read queries of the forecast pages. Every query starts from ``visible_to(user)``; each
selector issues a fixed number of SQL queries whatever the number of deals or snapshots
(grouped aggregates, never a query per row).

Live figures (the dashboard's tiles and table, the deal lists) come from the live tables
through the same deal-state expressions the snapshot uses (:mod:`forecasting.dealstate`), so
a tile and the list behind it always agree; the trend and the ranges come from the stored
snapshots. The accuracy page reads through :mod:`forecasting.accuracy`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import (
    BigIntegerField,
    BooleanField,
    CharField,
    Count,
    ExpressionWrapper,
    F,
    Q,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from accounts import visibility
from accounts.models import Team, User
from forecasting.aggregates import Figures
from forecasting.dealstate import MONEY_FIELD, state_at, weighted_expression
from forecasting.figures import figures_by_owner_and_month
from forecasting.models import ForecastAdjustment, ForecastRange, ForecastSnapshot, Quota
from forecasting.periods import add_months, end_of_day
from forecasting.quotas import quota_book
from forecasting.rowsums import totals_over
from forecasting.scope import ForecastScope, months_filter, scoped_deals
from forecasting.winrates import EMPIRICAL_MIN_CLOSED, empirical_stage_rates, stage_win_counts
from pipeline import conversion
from pipeline.models import Opportunity, Stage, StageTransition

ZERO = Decimal("0")
OPEN, WON, LOST = Stage.Kind.OPEN, Stage.Kind.WON, Stage.Kind.LOST
_DAY = dt.timedelta(days=1)


# --- figures ---------------------------------------------------------------------------------


# --- quotas ----------------------------------------------------------------------------------


# --- the dashboard ---------------------------------------------------------------------------


@dataclass
class RepRow:
    rep: User
    figures: Figures
    adjustment: ForecastAdjustment | None = None
    can_adjust: bool = False


@dataclass
class Dashboard:
    scope: ForecastScope
    total: Figures
    rows: list[RepRow]
    team_adjustments: list[tuple[Team, ForecastAdjustment | None, bool]]
    months: list[dict]
    trend: list[dict]
    range: ForecastRange | None
    range_note: str
    links: dict[str, str] = field(default_factory=dict)
    quota_note: str = ""
    missing_rates: list = field(default_factory=list)


def deals_url(scope: ForecastScope, metric: str, **extra) -> str:
    return f"{reverse('forecasting:deals')}?{scope.querystring(metric=metric, **extra)}"


def _range_for(scope: ForecastScope) -> tuple[ForecastRange | None, str]:
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
    elif visibility.forecasts_by_team(scope.user):
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


def forecast_trend(scope: ForecastScope) -> list[dict]:
    """The period's won and forecast figures in each stored snapshot from three months
    before it began (one grouped query over the snapshot rows in scope)."""
    rows = (
        scope.snapshots()
        .filter(period__in=scope.period.months, taken_on__gte=add_months(scope.period.start, -3))
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
    return [
        {
            "taken_on": r["taken_on"],
            "won": r["won"],
            "commit_forecast": r["won"] + r["commit"],
            "best_case_forecast": r["won"] + r["commit"] + r["best_case"],
            "weighted_forecast": r["won"] + r["weighted"],
            "open": r["open"],
        }
        for r in rows
    ]


def dashboard(scope: ForecastScope) -> Dashboard:
    today = timezone.localdate()
    rates = empirical_stage_rates(on=today)
    months = scope.period.months
    year_months = [dt.date(scope.period.start.year, m, 1) for m in range(1, 13)]
    book = quota_book(sorted(set(year_months) | set(months)))
    fx = conversion.rates_on(today)
    by_owner, by_month = figures_by_owner_and_month(scope, year_months, rates=rates, fx=fx)
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
        if fig.quota is None and not by_owner.get(rep.pk) and not visibility.carries_quota(rep):
            continue  # managers and admins without deals or quota are not rows
        total.add(fig)
        rows.append(
            RepRow(
                rep=rep,
                figures=fig,
                adjustment=adjustments.get((rep.pk, None)),
                can_adjust=visibility.can_adjust_forecast(scope.user, user=rep),
            )
        )
    total.quota = book.for_scope(scope, months)
    teams = [
        (t, adjustments.get((None, t.pk)), visibility.can_adjust_forecast(scope.user, team=t))
        for t in scope.teams()
        if visibility.can_see_team_forecast(scope.user)
    ]

    this_month = today.replace(day=1)
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
                # A finished month: its weighted figure is won plus the open deals still
                # dated in it (overdue), so the page shows its closed won only, and marks a
                # weighted figure that such deals lift above it.
                "past": m < this_month,
                "past_with_overdue": m < this_month and fig.weighted_forecast > fig.won,
                "won_url": deals_url(scope, "won", period=f"{m:%Y-%m}"),
                "weighted_url": deals_url(scope, "weighted", period=f"{m:%Y-%m}"),
            }
        )

    trend = forecast_trend(scope)
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
        missing_rates=conversion.missing_rates(scope.opportunities(), on=today),
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


def deals_behind(scope: ForecastScope, metric: str):
    """The deals behind a dashboard figure (live), their totals, and the title."""
    title, condition = METRICS[metric]
    qs = (
        scoped_deals(scope)
        .filter(months_filter(scope.period.months))
        .filter(condition)
        .annotate(s_weighted=weighted_expression())
        .select_related("owner", "stage", "company")
        .order_by("-amount", "pk")
    )
    totals = qs.aggregate(
        count=Count("pk"),
        amount=Coalesce(Sum("s_amount"), Value(ZERO), output_field=MONEY_FIELD),
        weighted=Coalesce(Sum(weighted_expression()), Value(ZERO), output_field=MONEY_FIELD),
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


# How the deals behind the bars changed besides: amount changes split by sign, and deals of
# the period (at either date) that moved to another owner. Not part of the waterfall's sum.
DETAILS = [
    ("amount_up", "Amount up"),
    ("amount_down", "Amount down"),
    ("reassigned", "Reassigned"),
]


STATE_COLUMNS = [f"{d}_{f}" for d in "ab" for f in ("kind", "amount", "owner")]
# Where each deal stands: open in the period at the start (``f_in1``), at the end (``f_in2``),
# closed in the period at the end but not at the start (``f_closed``). SQL booleans, NULL
# where a comparison is (a deal that did not exist yet), as the conditions they name.
FLAG_COLUMNS = ["f_in1", "f_in2", "f_closed"]
STATE_FIELDS = {
    **{
        f"{d}_{f}": field
        for d in "ab"
        for f, field in (
            ("kind", CharField()),
            ("amount", MONEY_FIELD),
            ("owner", BigIntegerField()),
        )
    },
    **{name: BooleanField() for name in FLAG_COLUMNS},
}


def _standing(months: list[dt.date]) -> tuple[Q, Q, Q]:
    first, last = months[0], months[-1]
    in1 = Q(a_kind=OPEN, a_period__gte=first, a_period__lte=last)
    in2 = Q(b_kind=OPEN, b_period__gte=first, b_period__lte=last)
    closed_now = Q(b_kind__in=[WON, LOST], b_period__gte=first, b_period__lte=last) & ~Q(
        a_kind__in=[WON, LOST]
    )
    return in1, in2, closed_now


def change_conditions(months: list[dt.date], *, flagged: bool = False) -> dict[str, Q]:
    """Each bar's condition over two dates' states; with ``flagged``, over the
    :data:`FLAG_COLUMNS` a row carries (:func:`_with_flags`) instead of its periods, the same
    conditions computed once per row."""
    if flagged:
        in1, in2, closed_now = (Q(**{name: True}) for name in FLAG_COLUMNS)
    else:
        in1, in2, closed_now = _standing(months)
    return {
        "start": in1,
        "new": Q(a_kind__isnull=True) & (in2 | closed_now),
        "pulled_in": Q(a_kind__isnull=False) & ~in1 & (in2 | closed_now),
        "pushed_out": in1 & ~in2 & ~closed_now,
        "amount_change": in1 & (in2 | closed_now) & ~Q(a_amount=F("b_amount")),
        "amount_up": in1 & (in2 | closed_now) & Q(b_amount__gt=F("a_amount")),
        "amount_down": in1 & (in2 | closed_now) & Q(b_amount__lt=F("a_amount")),
        "reassigned": Q(a_kind__isnull=False) & (in1 | in2 | closed_now) & ~Q(a_owner=F("b_owner")),
        "won": closed_now & Q(b_kind=WON),
        "lost": closed_now & Q(b_kind=LOST),
        "end": in2,
    }


def _changes_candidates(qs, months: list[dt.date], start: dt.date, end: dt.date):
    """The deals that can fall in a bar, found through indexes before any state is computed.

    Every bar holds deals open in the period at the start or at the end (their close date
    then in the period) or closed in the period at the end (the day they closed in it), so a
    deal is kept only if one of these could hold:

    * its close date now, or that of one of its field-history rows written before the end of
      ``end``, is in the period (a state's close date is its last history row's, or the
      deal's current one);
    * it closed in the period: its ``closed_on`` is, or it has a stage transition into a
      closed stage during the period (the closing transition's day is a past state's closed
      date), or it is closed without ``closed_on`` and entered its stage during the period.

    and, besides, it was touched (it entered its current stage, or has a field-history row,
    after the end of ``start``) or is in the period now: a deal untouched since then stood
    at both dates as it stands now (:mod:`forecasting.dealstate` agrees with the live state),
    so it can only be open or closed in the period at both dates if it is now. Deals created
    after ``end`` (they existed at neither date) and those in a closed stage today that they
    entered before the end of ``start`` (closed at both dates, the same way: no bar counts a
    deal closed before the range began) are left out. The history, transition and deal
    indexes on close dates and dates (pipeline migration 0015) give each set, so the lateral
    joins run only for these deals."""
    since, until = end_of_day(start), end_of_day(end)
    first, after = months[0], add_months(months[-1], 1)
    span_start, span_end = end_of_day(first - dt.timedelta(days=1)), end_of_day(after - _DAY)
    # The stage's kind is asked of the deal's own stage id (the open stages are a handful of
    # ids), not of a join: every condition is then on the deal's row, so the database tests
    # them once, while it reads the table, and builds each id set below once.
    is_open = Q(stage_id__in=Stage.objects.filter(kind=OPEN).values("pk"))
    qs = qs.filter(created_at__lt=until).exclude(~is_open & Q(stage_entered_at__lt=since))
    history = Opportunity.history.model.objects
    # A deal's last transition is its current stay, so a transition since ``since`` means
    # it entered its current stage since.
    touched = Q(stage_entered_at__gte=since) | Q(
        pk__in=history.filter(history_date__gte=since).values("id")
    )
    close_now = Q(expected_close_date__gte=first, expected_close_date__lt=after)
    open_now = is_open & close_now
    closed_now = ~is_open & (
        Q(closed_on__gte=first, closed_on__lt=after)
        | Q(closed_on__isnull=True, expected_close_date__gte=first, expected_close_date__lt=after)
    )
    close_then = Q(
        pk__in=history.filter(
            history_date__lt=until, expected_close_date__gte=first, expected_close_date__lt=after
        ).values("id")
    )
    closed_then = Q(
        pk__in=StageTransition.objects.filter(changed_at__gte=span_start, changed_at__lt=span_end)
        .exclude(to_stage__kind=OPEN)
        .values("opportunity_id")
    ) | (
        ~is_open
        & Q(closed_on__isnull=True, stage_entered_at__gte=span_start, stage_entered_at__lt=span_end)
    )
    in_period_then = (
        close_now | Q(closed_on__gte=first, closed_on__lt=after) | close_then | closed_then
    )
    return qs.filter(touched | open_now | closed_now).filter(in_period_then)


def _with_flags(qs, months: list[dt.date]):
    return qs.annotate(
        **{
            name: ExpressionWrapper(condition, output_field=BooleanField())
            for name, condition in zip(FLAG_COLUMNS, _standing(months), strict=True)
        }
    )


def _changes_queryset(scope: ForecastScope, start: dt.date, end: dt.date):
    rates = empirical_stage_rates(on=end)
    qs = _changes_candidates(scope.opportunities(), scope.period.months, start, end)
    qs = state_at(qs, start, "a_", rates)
    return state_at(qs, end, "b_", rates)


def what_changed(scope: ForecastScope, start: dt.date, end: dt.date) -> list[dict]:
    """The waterfall of the period's open pipeline between ``start`` and ``end``."""
    return changes(scope, start, end)[0]


def changes(scope: ForecastScope, start: dt.date, end: dt.date) -> tuple[list[dict], list[dict]]:
    """The waterfall of the period's open pipeline between ``start`` and ``end`` (start + new +
    pulled in − pushed out ± amount changes − won − lost = end) and the :data:`DETAILS`
    counts: one aggregate over both dates' deal states (:func:`forecasting.dealstate.state_at`,
    lateral joins for a past date), plus the empirical rates' query, whatever the range."""
    months = scope.period.months
    conditions = change_conditions(months, flagged=True)
    money = MONEY_FIELD
    values = {
        "start": F("a_amount"),
        "new": F("b_amount"),
        "pulled_in": F("b_amount"),
        "pushed_out": F("a_amount"),
        "amount_change": F("b_amount") - F("a_amount"),
        "amount_up": F("b_amount") - F("a_amount"),
        "amount_down": F("b_amount") - F("a_amount"),
        "reassigned": F("b_amount"),
        "won": F("b_amount"),
        "lost": F("b_amount"),
        "end": F("b_amount"),
    }
    aggregates = {}
    for key, condition in conditions.items():
        aggregates[f"{key}_amount"] = Coalesce(
            Sum(values[key], filter=condition, output_field=money), Value(ZERO), output_field=money
        )
        aggregates[f"{key}_count"] = Count(Value(1), filter=condition)
    # Each row's two states and where they stand are computed once in a subquery, which the
    # aggregates read by column (:func:`forecasting.rowsums.totals_over`).
    states = (
        _with_flags(_changes_queryset(scope, start, end), months)
        .values(*STATE_COLUMNS, *FLAG_COLUMNS)
        .order_by()  # sums need no order (the deals' default one costs a sort)
    )
    totals = totals_over(states, STATE_FIELDS, aggregates)
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
    details = [
        {
            "key": key,
            "label": label,
            "count": totals[f"{key}_count"],
            "delta": totals[f"{key}_amount"],
        }
        for key, label in DETAILS
    ]
    return bars, details


def changed_deals(scope: ForecastScope, start: dt.date, end: dt.date, bar: str):
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


# --- stage calibration -----------------------------------------------------------------------


def stage_calibration() -> list[dict]:
    """Each pipeline's stages: configured probability beside the empirical win rate (trailing
    12 months of transitions). Two queries."""
    counts = stage_win_counts(on=timezone.localdate())
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
                and c.closed >= EMPIRICAL_MIN_CLOSED,
            }
        )
    return list(pipelines.values())


# --- quotas page -----------------------------------------------------------------------------


def quota_grid(user: User, year: int) -> dict:
    months = [dt.date(year, m, 1) for m in range(1, 13)]
    people = [
        u
        for u in visibility.visible_users(user).select_related("team").order_by("team__name")
        if visibility.carries_quota(u)
    ]
    teams = list(visibility.visible_teams(user).order_by("name"))
    quotas = Quota.objects.visible_to(user).filter(month__in=months)
    values = {}
    for q in quotas:
        key = f"u{q.user_id}" if q.user_id else f"t{q.team_id}"
        values[(key, q.month)] = q.amount
    return {"months": months, "people": people, "teams": teams, "values": values}
