"""Report 6, rep scorecards: each rep beside the per-rep average and the total of the reps
shown, and one rep beside their team's per-rep average for a coaching conversation. Four
grouped queries per page."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.urls import reverse

from accounts import visibility
from forecasting import charts
from forecasting.reports.links import deals_url
from forecasting.reports.scope import ReportScope
from forecasting.reports.tables import Column, Report, Table, mean, ratio_pct
from forecasting.reports.win_rate import closed_aggregates
from pipeline.models import Activity, Stage
from pipeline.templatetags.opportune import pct

WON, LOST, OPEN = Stage.Kind.WON, Stage.Kind.LOST, Stage.Kind.OPEN
ZERO = Decimal("0")


def scorecard_reps(scope: ReportScope):
    """The reps a scorecard covers: visible reps, narrowed by the team and rep filters."""
    users = visibility.quota_carriers(visibility.visible_users(scope.user))
    if scope.team is not None:
        users = users.filter(team=scope.team)
    if scope.owner is not None:
        users = visibility.visible_users(scope.user).filter(pk=scope.owner.pk)
    return users.select_related("team").order_by("first_name", "last_name", "username")


def _scorecard_metrics(scope: ReportScope, user_ids: list[int]) -> dict[int, dict]:
    """Per rep: closed, open, activities, quota — four grouped queries."""
    from forecasting.models import Quota

    metrics = {pk: {} for pk in user_ids}
    deals = scope.deals().filter(owner_id__in=user_ids)
    closed = (
        deals.filter(
            stage__kind__in=[WON, LOST], closed_on__gte=scope.start, closed_on__lte=scope.end
        )
        .values("owner")
        .annotate(**closed_aggregates())
        .order_by()
    )
    for r in closed:
        metrics[r["owner"]].update(r)
    opened = (
        scope.open_deals()
        .filter(owner_id__in=user_ids)
        .values("owner")
        .annotate(open_count=Count("*"), open_amount=Sum(scope.open_amount()))
        .order_by()
    )
    for r in opened:
        metrics[r["owner"]].update(r)
    # Calls, emails, meetings and notes by when they happened; tasks by when they were done.
    # Counted apart and added up: each part reads one index (``activity_logged_idx`` and
    # the owner/kind/done index) without visiting the rows; one count over "logged or
    # done" read every activity of the reps in a year.
    mine = scope.logged_activities().filter(owner_id__in=user_ids)
    logged = mine.filter(
        ~Q(kind=Activity.Kind.TASK), occurred_at__gte=scope.start_at, occurred_at__lt=scope.end_at
    )
    done = mine.filter(
        kind=Activity.Kind.TASK, done_at__gte=scope.start_at, done_at__lt=scope.end_at
    )
    counted = [qs.values("owner").annotate(n=Count("*")).order_by() for qs in (logged, done)]
    for r in counted[0].union(counted[1], all=True):
        metrics[r["owner"]]["activities"] = metrics[r["owner"]].get("activities", 0) + r["n"]
    quotas = (
        Quota.objects.visible_to(scope.user)
        .filter(
            user_id__in=user_ids,
            month__gte=scope.start.replace(day=1),
            month__lte=scope.end,
        )
        .values("user")
        .annotate(quota=Sum("amount"))
        .order_by()
    )
    for r in quotas:
        metrics[r["user"]]["quota"] = r["quota"]
    return metrics


def _score_row(label, m: dict) -> dict:
    """One rep's figures; given several reps' metrics added up (:func:`_pool`), their totals:
    counts and amounts summed, rates over the summed counts (won over closed, won amount of
    the reps with a quota over their quotas)."""
    won, lost = m.get("won", 0), m.get("lost", 0)
    won_amount = m.get("won_amount") or ZERO
    quota = m.get("quota")
    return {
        "rep": label,
        "won": won,
        "lost": lost,
        "win_rate": ratio_pct(won, won + lost),
        "avg_cycle": mean(m.get("cycle_days") or 0, won),
        "avg_won": mean(won_amount, won),
        "won_amount": won_amount,
        "activities": m.get("activities", 0),
        "open_amount": m.get("open_amount") or ZERO,
        "open_count": m.get("open_count", 0),
        "quota": quota or None,
        "attainment": ratio_pct(m.get("quota_won", won_amount), quota) if quota else None,
    }


SCORE_COLUMNS = [
    Column("rep", "Rep"),
    Column("win_rate", "Win rate", "pct"),
    Column("won", "Won", "num"),
    Column("lost", "Lost", "num"),
    Column("avg_cycle", "Sales cycle (days)", "days"),
    Column("avg_won", "Average won", "money"),
    Column("won_amount", "Won amount", "money"),
    Column("activities", "Activities logged", "num"),
    Column("open_count", "Open deals", "num"),
    Column("open_amount", "Open pipeline", "money"),
    Column("quota", "Quota", "money"),
    Column("attainment", "Quota attainment", "pct"),
]
AVERAGE_LABEL = "Per-rep average"
TOTAL_LABEL = "Total of reps shown"


def _pool(metrics: list[dict]) -> dict:
    """Several reps' metrics added up (for the total row)."""
    pooled: dict = {"quota_won": ZERO}
    for m in metrics:
        for k, v in m.items():
            if k in ("owner", "user") or v is None:
                continue
            pooled[k] = pooled.get(k, 0) + v
        if m.get("quota"):
            pooled["quota_won"] += m.get("won_amount") or ZERO
    return pooled


def average_row(label: str, rows: list[dict]) -> dict:
    """Every figure the mean of its column over the rep rows that have one: a zero counts,
    a dash (no quota, no closed deal to take a rate from) is left out."""
    out: dict = {"rep": label}
    for column in SCORE_COLUMNS[1:]:
        values = [Decimal(str(r[column.key])) for r in rows if r[column.key] is not None]
        out[column.key] = sum(values, ZERO) / len(values) if values else None
    return out


def scorecards(scope: ReportScope) -> Report:
    """Every rep in scope: win rate, cycle, average won deal, activities logged, open
    pipeline, quota attainment; with more than one rep, two rows under them. The *per-rep
    average* row holds, in every column, the mean of the reps' own figures (of the reps that
    have one: a rep without a quota or a closed deal is left out of that column). The *total*
    row adds the reps' counts and amounts up, and its rates are pooled (all won over all
    closed, all won over all quota)."""
    reps = list(scorecard_reps(scope))
    metrics = _scorecard_metrics(scope, [r.pk for r in reps])
    rows = []
    for rep in reps:
        row = _score_row(str(rep), metrics[rep.pk])
        row["_links"] = {
            "rep": reverse("forecasting:report_scorecard", args=[rep.pk])
            + "?"
            + scope.querystring(owner=None),
            "won": deals_url(scope, "won", owner=rep.pk),
            "lost": deals_url(scope, "lost", owner=rep.pk),
            "won_amount": deals_url(scope, "won", owner=rep.pk),
            "open_amount": deals_url(scope, "open", owner=rep.pk),
            "open_count": deals_url(scope, "open", owner=rep.pk),
        }
        rows.append(row)
    average = total = None
    if len(reps) > 1:
        average = average_row(AVERAGE_LABEL, rows)
        total = _score_row(TOTAL_LABEL, _pool(list(metrics.values())))
    table = Table(
        key="scorecards",
        caption="Rep scorecards",
        columns=SCORE_COLUMNS,
        rows=rows,
        average=average,
        total=total,
        empty="No reps in this scope.",
    )
    chart = charts.scorecards(rows)
    findings = []
    if average and average["win_rate"] is not None:
        below = [
            r for r in rows if r["win_rate"] is not None and r["win_rate"] < average["win_rate"]
        ]
        if below:
            weakest = min(below, key=lambda r: r["win_rate"])
            findings.append(
                f"{weakest['rep']} has the lowest win rate: {pct(weakest['win_rate'], 1)} "
                f"against {pct(average['win_rate'], 1)} on average per rep."
            )
    return Report(tables=[table], chart=chart, findings=findings)


def scorecard(scope: ReportScope, rep) -> Report:
    """One rep's scorecard beside their team's per-rep average (:func:`average_row` over the
    reps of the same team the viewer may see), for a coaching conversation."""
    rep_ids = [rep.pk]
    peers = []
    if rep.team_id:
        peers = list(
            visibility.quota_carriers(visibility.visible_users(scope.user))
            .filter(team_id=rep.team_id)
            .values_list("pk", flat=True)
        )
    ids = sorted(set(rep_ids) | set(peers))
    metrics = _scorecard_metrics(scope, ids)
    own = _score_row(str(rep), metrics[rep.pk])
    rows = [own]
    if len(peers) > 1:
        peer_rows = [_score_row(str(p), metrics[p]) for p in peers]
        rows.append(average_row(f"{rep.team}: {AVERAGE_LABEL.lower()}", peer_rows))
    own["_links"] = {
        "won": deals_url(scope, "won", owner=rep.pk),
        "lost": deals_url(scope, "lost", owner=rep.pk),
        "won_amount": deals_url(scope, "won", owner=rep.pk),
        "open_amount": deals_url(scope, "open", owner=rep.pk),
        "open_count": deals_url(scope, "open", owner=rep.pk),
    }
    table = Table(
        key="scorecard", caption=f"{rep} beside the team", columns=SCORE_COLUMNS, rows=rows
    )
    findings = []
    if len(rows) == 2:
        team = rows[1]
        for key, label, higher_is_better in (
            ("win_rate", "win rate", True),
            ("avg_cycle", "sales cycle", False),
            ("avg_won", "average won deal", True),
            ("activities", "activities logged", True),
            ("attainment", "quota attainment", True),
        ):
            a, b = own[key], team[key]
            if a is None or b is None or not b:
                continue
            diff = (Decimal(str(a)) - Decimal(str(b))) / Decimal(str(b)) * 100
            if abs(diff) >= 10:
                better = (diff > 0) == higher_is_better
                word = "above" if diff > 0 else "below"
                findings.append(
                    f"{label.capitalize()} is {pct(abs(diff))} {word} the team average"
                    f" — {'a strength' if better else 'worth a coaching conversation'}."
                )
    return Report(tables=[table], findings=findings)
