"""The sales reports' read queries. Every number is defined in DESIGN.md §3 and computed in
the database (aggregates, window functions); Python only combines a handful of aggregate
rows (per month, per stage, per rep) into ratios. Each selector issues a fixed number of
queries, whatever the amount of data, and starts from the scope's ``visible_to`` querysets.

Definitions used here, beyond DESIGN.md §3:

* **Funnel** — leads created in the range, followed forward: *prospects* are those that
  were ever qualified (``qualified_at`` set, or status prospect/converted), *opportunities*
  those converted into a deal (in the chosen pipeline), *won* those whose deal is won now.
* **Stage conversion** — for each open stage, the deals that entered it in the range. A
  deal's visit ends at its next transition; it *moved on* when that next stage is a later
  open stage (skipping stages counts) or the won stage, was *lost* when it is a lost
  stage, *moved back* when it is an earlier open stage, and is *still there* when there is
  no next transition. A deal that entered a stage more than once (reopened, moved back)
  counts once, with its best outcome (moved on > lost > moved back > still there) and the
  sum of the days of its visits. *Days in stage* run from entering to the next transition,
  or to now for the current stage; the median and mean are over deals.
* **Empirical stage win rate** — of the deals that entered the stage in the range and are
  closed now, the share won.
* **Closed deals** — deals whose current stage is won or lost, by their closed date.
  **Sales cycle** — whole days from the creation date to the closed date of won deals.
* **Open at month end** — deals created before the month ended and not closed by then
  (their current closed date), for the velocity trend; for the current month: open now.
* **Pipeline created** — count and current amount of deals created in each month.
"""

from __future__ import annotations

import datetime as dt
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from decimal import Decimal
from functools import lru_cache

from django.db import connection, transaction
from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    FloatField,
    IntegerField,
    Max,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import (
    Coalesce,
    Greatest,
    Lag,
    Least,
    TruncDate,
    TruncMonth,
)
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from accounts import visibility
from forecasting.periods import end_of_day, month_starts, next_month, start_of_day
from forecasting.reports.filters import ReportScope
from forecasting.reports.sql import DateDiff, DaysBetween, Median, median_sql
from forecasting.reports.tables import Column, Table, mean, ratio_pct
from pipeline import expressions
from pipeline.models import (
    ACTIVITY_TARGETS,
    Activity,
    Lead,
    Opportunity,
    Stage,
    activity_target_flags,
)

WON, LOST, OPEN = Stage.Kind.WON, Stage.Kind.LOST, Stage.Kind.OPEN
ZERO = Decimal("0")
CENT = Decimal("0.01")


# --- links -----------------------------------------------------------------------------------


def deals_url(scope: ReportScope, kind: str, **extra) -> str:
    """URL of the drill-down listing the deals behind a number (same filters, plus extras)."""
    return f"{reverse('forecasting:report_deals')}?{scope.querystring(kind=kind, **extra)}"


_SENTINEL_PK = 987654321


def opportunity_url(pk: int) -> str | None:
    return record_url("pipeline:opportunity_detail", pk)


def record_url(name: str, pk: int) -> str | None:
    """A record page's URL (``None`` if that page is not installed), built from one
    ``reverse`` per process and URL name: a listing of many records stays cheap."""
    template = _url_template(name)
    return template.replace(str(_SENTINEL_PK), str(pk)) if template else None


@lru_cache(maxsize=16)
def _url_template(name: str) -> str | None:
    try:
        return reverse(name, args=[_SENTINEL_PK])
    except NoReverseMatch:
        return None


def _to_date(value) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return value


def _user_label(first: str, last: str, username: str) -> str:
    return f"{first} {last}".strip() or username


@dataclass
class Report:
    """What a report page renders: tables (the first is the main one), a chart config for
    ``static/js/charts.js`` and short findings (sentences answering the page's question)."""

    tables: list[Table]
    chart: dict | None = None
    findings: list[str] = field(default_factory=list)
    extra: dict = field(default_factory=dict)

    @property
    def table(self) -> Table:
        return self.tables[0]

    def get_table(self, key: str | None) -> Table | None:
        if not key:
            return self.table
        return next((t for t in self.tables if t.key == key), None)


# --- 1. Funnel -------------------------------------------------------------------------------

FUNNEL_GROUPS = {
    "source": "Lead source",
    "rep": "Rep",
    "team": "Team",
}


def funnel(scope: ReportScope, *, group: str = "source") -> Report:
    """Leads created in the range → prospects → opportunities → won, by source, rep or team."""
    if group not in FUNNEL_GROUPS:
        group = "source"
    leads = scope.leads().filter(created_at__gte=scope.start_at, created_at__lt=scope.end_at)
    prospect_q = Q(qualified_at__isnull=False) | Q(
        status__in=[Lead.Status.PROSPECT, Lead.Status.CONVERTED]
    )
    opp_q = Q(opportunity__isnull=False)
    deal_scope = visibility.owner_q(scope.user, "opportunity__owner")
    if deal_scope is not None:
        opp_q &= deal_scope
    if scope.pipeline is not None:
        opp_q &= Q(opportunity__pipeline=scope.pipeline)
    won_q = opp_q & Q(opportunity__stage__kind=WON)
    keys = {
        "source": ["source"],
        "rep": ["owner", "owner__first_name", "owner__last_name", "owner__username"],
        "team": ["owner__team", "owner__team__name"],
    }[group]
    rows = (
        leads.values(*keys)
        .annotate(
            leads=Count("pk"),
            prospects=Count("pk", filter=prospect_q),
            opportunities=Count("pk", filter=opp_q),
            won=Count("pk", filter=won_q),
            won_amount=Sum("opportunity__amount", filter=won_q),
        )
        .order_by(*keys)
    )
    sources = dict(Lead.Source.choices)
    out = []
    for r in rows:
        if group == "source":
            label, link = sources.get(r["source"], r["source"]), {"source": r["source"]}
        elif group == "rep":
            label = _user_label(r["owner__first_name"], r["owner__last_name"], r["owner__username"])
            link = {"owner": r["owner"]}
        else:
            label = r["owner__team__name"] or "No team"
            link = {"team": r["owner__team"]} if r["owner__team"] else {}
        out.append(_funnel_row(scope, label, r, link))
    out.sort(key=lambda row: (-row["leads"], row["group"]))
    totals = {
        k: sum((r[k] or 0) for r in out)
        for k in ("leads", "prospects", "opportunities", "won", "won_amount")
    }
    total = _funnel_row(scope, "Total", totals, {})
    table = Table(
        key="funnel",
        caption=f"Funnel by {FUNNEL_GROUPS[group].lower()}",
        columns=[
            Column("group", FUNNEL_GROUPS[group]),
            Column("leads", "Leads", "int"),
            Column("prospects", "Prospects", "int"),
            Column("prospect_rate", "Lead → prospect", "pct"),
            Column("opportunities", "Opportunities", "int"),
            Column("opportunity_rate", "Prospect → opportunity", "pct"),
            Column("won", "Won", "int"),
            Column("win_rate", "Opportunity → won", "pct"),
            Column("overall_rate", "Lead → won", "pct"),
            Column("won_amount", "Won amount", "money"),
        ],
        rows=out,
        total=total,
        empty="No leads were created in this range. Widen the dates or clear the filters.",
    )
    steps = ["Leads", "Prospects", "Opportunities", "Won"]
    values = [totals["leads"], totals["prospects"], totals["opportunities"], totals["won"]]
    chart = {
        "type": "bar",
        "horizontal": True,
        "labels": steps,
        "datasets": [{"label": "Leads created in the range", "data": values}],
        "links": [None, None, total["_links"].get("opportunities"), total["_links"].get("won")],
    }
    findings = []
    if totals["leads"]:
        rates = [
            ("lead → prospect", total["prospect_rate"]),
            ("prospect → opportunity", total["opportunity_rate"]),
            ("opportunity → won", total["win_rate"]),
        ]
        rates = [(n, r) for n, r in rates if r is not None]
        if rates:
            step, rate = min(rates, key=lambda x: x[1])
            findings.append(f"The weakest step is {step}: {rate:.1f} % convert.")
    return Report(tables=[table], chart=chart, findings=findings)


def _funnel_row(scope, label, r, link) -> dict:
    row = {
        "group": label,
        "leads": r["leads"],
        "prospects": r["prospects"],
        "opportunities": r["opportunities"],
        "won": r["won"],
        "won_amount": r["won_amount"] or ZERO,
        "prospect_rate": ratio_pct(r["prospects"], r["leads"]),
        "opportunity_rate": ratio_pct(r["opportunities"], r["prospects"]),
        "win_rate": ratio_pct(r["won"], r["opportunities"]),
        "overall_rate": ratio_pct(r["won"], r["leads"]),
    }
    row["_links"] = {
        "opportunities": deals_url(scope, "funnel", **link),
        "won": deals_url(scope, "funnel", won=1, **link),
        "won_amount": deals_url(scope, "funnel", won=1, **link),
    }
    return row


# --- 2. Stage conversion and time in stage ---------------------------------------------------

OUTCOME_MOVED, OUTCOME_LOST, OUTCOME_BACK, OUTCOME_STILL = 3, 2, 1, 0
OUTCOMES = {"moved": OUTCOME_MOVED, "lost": OUTCOME_LOST, "back": OUTCOME_BACK, "still": 0}


FINAL_WON, FINAL_LOST, FINAL_OPEN = 2, 1, 0


def _pipeline_stages(scope: ReportScope) -> list[tuple[int, str, int]]:
    """(id, kind, position) of every stage of the scope's pipeline."""
    return list(
        Stage.objects.filter(pipeline=scope.pipeline)
        .order_by("position", "id")
        .values_list("pk", "kind", "position")
    )


def _stage_visits_sql(scope: ReportScope, stages=None) -> tuple[str, list]:
    """SQL of one row per (deal, open stage entered in the range): ``opportunity_id,
    to_stage_id, days, outcome, final`` (``final``: 2 won, 1 lost, 0 open now).

    Each transition row knows when the deal left the stage and where it went next
    (``left_at``, ``next_stage``, written by the services with the following move), so a
    stay is read from its own row; the deal's current stage gives its final outcome. Stage
    kinds and positions (a handful per pipeline) are written into the SQL as CASE lists.
    A deal that entered a stage twice in the range counts once, with the sum of its days and
    its best outcome.
    """
    stages = _pipeline_stages(scope) if stages is None else stages
    open_ids = [pk for pk, kind, _ in stages if kind == OPEN]
    entries = (
        scope.transitions()
        .filter(changed_at__gte=scope.start_at, to_stage_id__in=open_ids)
        .annotate(final_stage=F("opportunity__stage_id"))
        .values(
            "opportunity_id",
            "to_stage_id",
            "changed_at",
            "left_at",
            "next_stage_id",
            "final_stage",
        )  # fmt: skip
        .order_by()
    )
    inner_sql, inner_params = entries.query.sql_with_params()
    now = connection.ops.adapt_datetimefield_value(scope.now)
    end = connection.ops.adapt_datetimefield_value(scope.end_at)
    if connection.vendor == "sqlite":
        days = "(julianday(COALESCE(w.left_at, %s)) - julianday(w.changed_at))"
    else:
        # date_part() is double precision; EXTRACT() is numeric and several times slower.
        days = "(date_part('epoch', COALESCE(w.left_at, %s) - w.changed_at) / 86400.0)"

    def ids(kind):
        found = [str(int(pk)) for pk, k, _ in stages if k == kind]
        return f"({', '.join(found)})" if found else "(NULL)"

    def position(column):
        whens = " ".join(f"WHEN {int(pk)} THEN {int(pos)}" for pk, _, pos in stages)
        return f"(CASE {column} {whens} END)" if whens else "NULL"

    sql = f"""
        SELECT w.opportunity_id, w.to_stage_id, SUM({days}) AS days,
               MAX(CASE
                   WHEN w.next_stage_id IS NULL THEN {OUTCOME_STILL}
                   WHEN w.next_stage_id IN {ids(WON)} THEN {OUTCOME_MOVED}
                   WHEN w.next_stage_id IN {ids(LOST)} THEN {OUTCOME_LOST}
                   WHEN {position("w.next_stage_id")} > {position("w.to_stage_id")}
                       THEN {OUTCOME_MOVED}
                   ELSE {OUTCOME_BACK} END) AS outcome,
               MAX(CASE WHEN w.final_stage IN {ids(WON)} THEN {FINAL_WON}
                        WHEN w.final_stage IN {ids(LOST)} THEN {FINAL_LOST}
                        ELSE {FINAL_OPEN} END) AS final
        FROM ({inner_sql}) w
        WHERE w.changed_at < %s AND w.to_stage_id IN {ids(OPEN)}
        GROUP BY w.opportunity_id, w.to_stage_id
    """  # nosec B608: SQL text is column names and ints built here; every value is a parameter
    return sql, [now, *inner_params, end]


def stage_visit_deal_ids_sql(
    scope: ReportScope, *, stage_id: int, outcome: str | None
) -> tuple[str, list]:
    """SQL selecting the ids of the deals counted in one cell of the stage report."""
    visits, params = _stage_visits_sql(scope)
    sql = f"SELECT v.opportunity_id FROM ({visits}) v WHERE v.to_stage_id = %s"  # nosec B608: SQL text is column names and ints built here; every value is a parameter
    params = [*params, stage_id]
    if outcome in OUTCOMES:
        sql += " AND v.outcome = %s"
        params.append(OUTCOMES[outcome])
    elif outcome == "closed":
        sql += f" AND v.final IN ({FINAL_WON}, {FINAL_LOST})"
    elif outcome == "won":
        sql += f" AND v.final = {FINAL_WON}"
    return sql, params


def stages(scope: ReportScope) -> Report:
    """Per open stage of the scope's pipeline: deals that entered it in the range, where they
    went next, days spent in it (median, mean) and the empirical win rate from it."""
    all_stages = list(Stage.objects.filter(pipeline=scope.pipeline).order_by("position", "id"))
    stage_list = [s for s in all_stages if s.kind == OPEN]
    visits, params = _stage_visits_sql(scope, [(s.pk, s.kind, s.position) for s in all_stages])
    sql = f"""
        SELECT v.to_stage_id, COUNT(*),
               SUM(CASE WHEN v.outcome = {OUTCOME_MOVED} THEN 1 ELSE 0 END),
               SUM(CASE WHEN v.outcome = {OUTCOME_LOST} THEN 1 ELSE 0 END),
               SUM(CASE WHEN v.outcome = {OUTCOME_BACK} THEN 1 ELSE 0 END),
               SUM(CASE WHEN v.outcome = {OUTCOME_STILL} THEN 1 ELSE 0 END),
               SUM(CASE WHEN v.final = {FINAL_WON} THEN 1 ELSE 0 END),
               SUM(CASE WHEN v.final IN ({FINAL_WON}, {FINAL_LOST}) THEN 1 ELSE 0 END),
               AVG(v.days), {median_sql(connection, "v.days")}
        FROM ({visits}) v
        GROUP BY v.to_stage_id
    """  # nosec B608: SQL text is column names and ints built here; every value is a parameter
    with sort_memory(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        by_stage = {row[0]: row[1:] for row in cursor.fetchall()}
    rows = []
    for s in stage_list:
        entered, moved, lost, back, still, won, closed, avg_days, median_days = by_stage.get(
            s.pk, (0, 0, 0, 0, 0, 0, 0, None, None)
        )

        def link(outcome=None, _s=s):
            extra = {"stage": _s.pk}
            if outcome:
                extra["outcome"] = outcome
            return deals_url(scope, "entered", **extra)

        rows.append(
            {
                "stage": s.name,
                "stage_id": s.pk,
                "entered": entered,
                "moved_on": moved,
                "lost": lost,
                "moved_back": back,
                "still": still,
                "conversion": ratio_pct(moved, entered),
                "loss_rate": ratio_pct(lost, entered),
                "median_days": median_days,
                "mean_days": avg_days,
                "closed": closed,
                "win_rate": ratio_pct(won, closed),
                "rot_after_days": s.rot_after_days,
                "_links": {
                    "entered": link(),
                    "moved_on": link("moved"),
                    "lost": link("lost"),
                    "moved_back": link("back"),
                    "still": link("still"),
                    "closed": link("closed"),
                },
            }
        )
    table = Table(
        key="stages",
        caption=f"Stage conversion and time in stage — {scope.pipeline}",
        columns=[
            Column("stage", "Stage"),
            Column("entered", "Deals entered", "int"),
            Column("moved_on", "Moved on", "int", "to a later open stage or won"),
            Column("conversion", "Conversion", "pct"),
            Column("lost", "Lost from here", "int"),
            Column("loss_rate", "Loss rate", "pct"),
            Column("moved_back", "Moved back", "int"),
            Column("still", "Still there", "int"),
            Column("median_days", "Median days", "days"),
            Column("mean_days", "Mean days", "days"),
            Column("rot_after_days", "Rots after (days)", "int"),
            Column("closed", "Closed since", "int"),
            Column("win_rate", "Win rate from here", "pct"),
        ],
        rows=rows,
        empty="This pipeline has no open stages.",
    )
    chart = {
        "type": "bar",
        "percent": True,
        "labels": [r["stage"] for r in rows],
        "datasets": [
            {"label": "Conversion", "data": [_f(r["conversion"]) for r in rows]},
            {"label": "Loss rate", "data": [_f(r["loss_rate"]) for r in rows], "color": "#b42318"},
            {"label": "Win rate from here", "data": [_f(r["win_rate"]) for r in rows]},
        ],
    }
    findings = []
    with_losses = [r for r in rows if r["lost"]]
    if with_losses:
        worst = max(with_losses, key=lambda r: (r["lost"], r["loss_rate"] or 0))
        findings.append(
            f"{worst['stage']} loses the most deals: {worst['lost']} of {worst['entered']} "
            f"that entered it ({worst['loss_rate']:.1f} %)."
        )
    slow = [r for r in rows if r["median_days"] is not None]
    if slow:
        slowest = max(slow, key=lambda r: r["median_days"])
        findings.append(
            f"Deals stall longest in {slowest['stage']}: median {slowest['median_days']:.1f} days."
        )
    return Report(tables=[table], chart=chart, findings=findings)


@contextmanager
def sort_memory(megabytes: int = 32):
    """On PostgreSQL, let this report's sorts and hashes use more memory than the default
    4 MB (``SET LOCAL``: this transaction only), so a year of transitions sorts in memory
    instead of spilling to disk. Elsewhere, nothing."""
    if connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL work_mem = '{int(megabytes)}MB'")
        yield


def _f(value) -> float | None:
    return None if value is None else round(float(value), 2)


# --- 3. Win rate, average won amount, cycle, velocity by month -------------------------------


def _closed_in_range(scope: ReportScope):
    return scope.deals().filter(
        stage__kind__in=[WON, LOST], closed_on__gte=scope.start, closed_on__lte=scope.end
    )


def _cycle_days():
    return DateDiff(F("closed_on"), TruncDate("created_at"))


def _closed_aggregates():
    won = Q(stage__kind=WON)
    return {
        "won": Count("pk", filter=won),
        "lost": Count("pk", filter=Q(stage__kind=LOST)),
        "won_amount": Sum("amount", filter=won),
        "cycle_days": Sum(_cycle_days(), filter=won),
    }


def velocity(open_count, win_rate_pct, avg_won, avg_cycle) -> Decimal | None:
    """DESIGN §3: open deals × win rate × average won amount / average cycle days ($/day)."""
    if win_rate_pct is None or avg_won is None or not avg_cycle:
        return None
    return Decimal(open_count) * (win_rate_pct / 100) * avg_won / Decimal(str(avg_cycle))


def win_rate(scope: ReportScope) -> Report:
    months = month_starts(scope.start, scope.end)
    grouped = (
        _closed_in_range(scope)
        .annotate(month=TruncMonth("closed_on"))
        .values("month")
        .annotate(
            **_closed_aggregates(),
            median_cycle=Median(_cycle_days(), filter=Q(stage__kind=WON)),
        )
        .order_by("month")
    )
    by_month = {_to_date(r["month"]): r for r in grouped}
    # Open deals at each month end (the current month: open now), in one scan.
    today = scope.today
    open_counts = {}
    for i, m in enumerate(months):
        end = next_month(m)
        if end > today:
            open_counts[f"m{i}"] = Count("pk", filter=Q(stage__kind=OPEN))
        else:
            end_at = start_of_day(end)
            open_counts[f"m{i}"] = Count(
                "pk",
                filter=Q(created_at__lt=end_at)
                & (Q(closed_on__isnull=True) | Q(closed_on__gte=end)),
            )
    open_counts["now"] = Count("pk", filter=Q(stage__kind=OPEN))
    # The range's median cycle rides along in the same scan (medians do not add up).
    open_counts["median_cycle"] = Median(
        _cycle_days(),
        filter=Q(stage__kind=WON, closed_on__gte=scope.start, closed_on__lte=scope.end),
    )
    opened = scope.deals().aggregate(**open_counts)
    rows = []
    for i, m in enumerate(months):
        r = by_month.get(m, {"won": 0, "lost": 0, "won_amount": None, "cycle_days": None})
        r.setdefault("median_cycle", None)
        rows.append(_win_row(scope, m.strftime("%b %Y"), m, r, opened[f"m{i}"]))
    totals = {
        "won": sum(by_month[m]["won"] for m in by_month),
        "lost": sum(by_month[m]["lost"] for m in by_month),
        "won_amount": sum((by_month[m]["won_amount"] or ZERO) for m in by_month),
        "cycle_days": sum((by_month[m]["cycle_days"] or 0) for m in by_month),
        "median_cycle": opened["median_cycle"],
    }
    total = _win_row(scope, "Range", None, totals, opened["now"])
    table = Table(
        key="win_rate",
        caption="Win rate, deal size, sales cycle and velocity by month closed",
        columns=[
            Column("month", "Month"),
            Column("won", "Won", "int"),
            Column("lost", "Lost", "int"),
            Column("win_rate", "Win rate", "pct"),
            Column("won_amount", "Won amount", "money"),
            Column("avg_won", "Average won", "money"),
            Column("avg_cycle", "Sales cycle (days)", "days", "mean days from creation to won"),
            Column("median_cycle", "Median cycle (days)", "days"),
            Column("open", "Open deals", "int", "at month end; the range total: now"),
            Column("velocity", "Velocity ($/day)", "rate"),
        ],
        rows=rows,
        total=total,
        empty="No months in this range.",
    )
    chart = {
        "type": "line",
        "percent": True,
        "labels": [r["month"] for r in rows],
        "datasets": [{"label": "Win rate", "data": [_f(r["win_rate"]) for r in rows]}],
    }
    cycle_chart = {
        "type": "bar",
        "labels": [r["month"] for r in rows],
        "datasets": [{"label": "Sales cycle (days)", "data": [_f(r["avg_cycle"]) for r in rows]}],
    }
    findings = []
    if total["win_rate"] is not None:
        findings.append(
            f"Win rate over the range: {total['win_rate']:.1f} % "
            f"({totals['won']} won, {totals['lost']} lost)."
        )
    return Report(tables=[table], chart=chart, findings=findings, extra={"chart2": cycle_chart})


def _win_row(scope, label, month, r, open_count):
    won, lost = r["won"], r["lost"]
    won_amount = r["won_amount"] or ZERO
    rate = ratio_pct(won, won + lost)
    avg_won = mean(won_amount, won)
    avg_cycle = mean(r["cycle_days"] or 0, won)
    extra = {"month": month.strftime("%Y-%m")} if month else {}
    return {
        "month": label,
        "won": won,
        "lost": lost,
        "win_rate": rate,
        "won_amount": won_amount,
        "avg_won": avg_won,
        "avg_cycle": avg_cycle,
        "median_cycle": r["median_cycle"],
        "open": open_count,
        "velocity": velocity(open_count, rate, avg_won, avg_cycle),
        "_links": {
            "won": deals_url(scope, "won", **extra),
            "lost": deals_url(scope, "lost", **extra),
            "won_amount": deals_url(scope, "won", **extra),
            **({} if month else {"open": deals_url(scope, "open")}),
        },
    }


# --- 4. Pipeline created and revenue won by month; lost reasons ------------------------------


def pipeline_by_month(scope: ReportScope) -> Report:
    deals = scope.deals()
    created = (
        deals.filter(created_at__gte=scope.start_at, created_at__lt=scope.end_at)
        .annotate(month=TruncMonth("created_at"))
        .values("month")
        .annotate(n=Count("pk"), amount=Sum("amount"))
        .order_by("month")
    )
    closed = (
        _closed_in_range(scope)
        .annotate(month=TruncMonth("closed_on"))
        .values("month")
        .annotate(
            won=Count("pk", filter=Q(stage__kind=WON)),
            won_amount=Sum("amount", filter=Q(stage__kind=WON)),
            lost=Count("pk", filter=Q(stage__kind=LOST)),
            lost_amount=Sum("amount", filter=Q(stage__kind=LOST)),
        )
        .order_by("month")
    )
    created_by = {_to_date(r["month"]).replace(day=1): r for r in created}
    closed_by = {_to_date(r["month"]): r for r in closed}
    rows = []
    keys = ("created", "created_amount", "won", "won_amount", "lost", "lost_amount")
    totals = dict.fromkeys(keys, 0)
    for m in month_starts(scope.start, scope.end):
        c = created_by.get(m, {})
        k = closed_by.get(m, {})
        row = {
            "month": m.strftime("%b %Y"),
            "created": c.get("n", 0),
            "created_amount": c.get("amount") or ZERO,
            "won": k.get("won", 0),
            "won_amount": k.get("won_amount") or ZERO,
            "lost": k.get("lost", 0),
            "lost_amount": k.get("lost_amount") or ZERO,
        }
        for key in keys:
            totals[key] += row[key]
        month = m.strftime("%Y-%m")
        row["_links"] = {
            "created": deals_url(scope, "created", month=month),
            "created_amount": deals_url(scope, "created", month=month),
            "won": deals_url(scope, "won", month=month),
            "won_amount": deals_url(scope, "won", month=month),
            "lost": deals_url(scope, "lost", month=month),
            "lost_amount": deals_url(scope, "lost", month=month),
        }
        rows.append(row)
    total = {"month": "Range", **totals}
    total["_links"] = {
        "created": deals_url(scope, "created"),
        "created_amount": deals_url(scope, "created"),
        "won": deals_url(scope, "won"),
        "won_amount": deals_url(scope, "won"),
        "lost": deals_url(scope, "lost"),
        "lost_amount": deals_url(scope, "lost"),
    }
    table = Table(
        key="months",
        caption="Pipeline created and revenue won by month",
        columns=[
            Column("month", "Month"),
            Column("created", "Deals created", "int"),
            Column("created_amount", "Pipeline created", "money"),
            Column("won", "Won", "int"),
            Column("won_amount", "Revenue won", "money"),
            Column("lost", "Lost", "int"),
            Column("lost_amount", "Amount lost", "money"),
        ],
        rows=rows,
        total=total,
    )
    reasons_qs = (
        _closed_in_range(scope)
        .filter(stage__kind=LOST)
        .values("lost_reason", "lost_reason__name")
        .annotate(n=Count("pk"), amount=Sum("amount"))
        .order_by("-n", "lost_reason__name")
    )
    reasons = []
    lost_total = sum(r["n"] for r in reasons_qs)
    lost_amount = ZERO
    for r in reasons_qs:
        lost_amount += r["amount"] or ZERO
        reasons.append(
            {
                "reason": r["lost_reason__name"] or "No reason recorded",
                "lost": r["n"],
                "share": ratio_pct(r["n"], lost_total),
                "amount": r["amount"] or ZERO,
                "_links": {
                    "lost": deals_url(scope, "lost", reason=r["lost_reason"] or "none"),
                    "amount": deals_url(scope, "lost", reason=r["lost_reason"] or "none"),
                },
            }
        )
    reasons_table = Table(
        key="reasons",
        caption="Why deals were lost (closed in the range)",
        columns=[
            Column("reason", "Lost reason"),
            Column("lost", "Deals", "int"),
            Column("share", "Share", "pct"),
            Column("amount", "Amount", "money"),
        ],
        rows=reasons,
        total={
            "reason": "Total",
            "lost": lost_total,
            "share": ratio_pct(lost_total, lost_total),
            "amount": lost_amount,
            "_links": {"lost": deals_url(scope, "lost"), "amount": deals_url(scope, "lost")},
        },
        empty="No deals were lost in this range.",
    )
    chart = {
        "type": "bar",
        "money": True,
        "labels": [r["month"] for r in rows],
        "datasets": [
            {"label": "Pipeline created", "data": [_f(r["created_amount"]) for r in rows]},
            {"label": "Revenue won", "data": [_f(r["won_amount"]) for r in rows]},
        ],
    }
    reasons_chart = {
        "type": "bar",
        "horizontal": True,
        "labels": [r["reason"] for r in reasons],
        "datasets": [{"label": "Deals lost", "data": [r["lost"] for r in reasons]}],
        "links": [r["_links"]["lost"] for r in reasons],
    }
    findings = []
    if reasons:
        top = reasons[0]
        findings.append(
            f"Most lost deals cite “{top['reason']}”: {top['lost']} of {lost_total} "
            f"({top['share']:.1f} %)."
        )
    return Report(
        tables=[table, reasons_table],
        chart=chart,
        findings=findings,
        extra={"chart2": reasons_chart},
    )


# --- 5. Rotting and slipping deals -----------------------------------------------------------

ROT_FLAGS = {
    "rotting": "Rotting",
    "idle": "Idle",
    "overdue": "Overdue",
    "slipped": "Slipped",
}
ROT_SORTS = {
    "amount": "amount",
    "days_in_stage": "days_in_stage",
    "idle_days": "idle_days",
    "overdue_days": "overdue_days",
    "pushes": "pushes",
    "pushed_days": "pushed_days",
    "close": "expected_close_date",
    "owner": "owner__first_name",
    "deal": "name",
}
ROT_PAGE = 50


def _open_stages(scope: ReportScope) -> list[tuple[int, int | None]]:
    """(id, rotting threshold) of the open stages in scope (one small query)."""
    stages = Stage.objects.filter(kind=OPEN)
    if scope.pipeline is not None:
        stages = stages.filter(pipeline=scope.pipeline)
    return list(stages.values_list("pk", "rot_after_days"))


def _rotting_q(scope: ReportScope, stages) -> Q:
    """Open deals longer in their stage than its threshold — the board's rule
    (``Opportunity.is_rotting``: whole days in stage > ``rot_after_days``) as plain
    comparisons the database can index: entered before now − (threshold + 1) days."""
    q = Q(pk__in=[])
    for stage_id, days in stages:
        if days is not None:
            cutoff = scope.now - dt.timedelta(days=days + 1)
            q |= Q(stage_id=stage_id, stage_entered_at__lte=cutoff)
    return q


def _slipped_ids(deals):
    """Ids of ``deals`` whose expected close date was ever moved later than the value before
    it: ``LAG(expected_close_date)`` over each deal's field history (oldest first)."""
    history = Opportunity.history.model
    return (
        history.objects.filter(id__in=deals.values("pk"))
        .annotate(
            prev=Window(
                Lag("expected_close_date"),
                partition_by=[F("id")],
                order_by=[F("history_date").asc(), F("history_id").asc()],
            )
        )
        .filter(expected_close_date__gt=F("prev"))
        .values("id")
    )


def _flag(condition) -> Case:
    return Case(When(condition, then=Value(1)), default=Value(0), output_field=IntegerField())


def rotting_queryset(scope: ReportScope):
    """Open deals in scope, each annotated with its four flags (cheap comparisons; the
    slipped set is computed once as a hashed subquery)."""
    idle_since = scope.now - dt.timedelta(days=scope.idle_days)
    stages = _open_stages(scope)
    # Open stages by id (not by a join on the stage's kind), so the database narrows to
    # open deals before it evaluates the flags.
    open_deals = scope.deals().filter(stage_id__in=[pk for pk, _ in stages])
    return open_deals.annotate(
        is_rotting=_flag(_rotting_q(scope, stages)),
        is_idle=_flag(
            Q(last_activity_at__lte=idle_since)
            | Q(last_activity_at__isnull=True, created_at__lte=idle_since)
        ),
        is_overdue=_flag(Q(expected_close_date__lt=scope.today)),
        is_slipped=_flag(Q(pk__in=_slipped_ids(open_deals))),
    )


def _with_measures(qs, scope: ReportScope):
    """The figures shown for each listed deal (computed only for the rows fetched)."""
    pushes, pushed_days = _slip_subqueries()
    return qs.annotate(
        days_in_stage=DaysBetween(Value(scope.now), F("stage_entered_at")),
        idle_days=DaysBetween(Value(scope.now), Coalesce("last_activity_at", "created_at")),
        overdue_days=DateDiff(Value(scope.today), F("expected_close_date")),
        pushes=pushes,
        pushed_days=pushed_days,
    )


def _slip_subqueries():
    history = Opportunity.history.model
    lagged = (
        history.objects.filter(id=OuterRef("pk"))
        .annotate(
            prev=Window(
                Lag("expected_close_date"),
                order_by=[F("history_date").asc(), F("history_id").asc()],
            )
        )
        .values("expected_close_date", "prev")
        .order_by()
    )
    # The ORM cannot aggregate over a window in the same SELECT; wrap it in SQL once.
    return _SlipCount(lagged), _SlipDays(lagged)


class _SlipAggregate(Subquery):
    """``(SELECT agg FROM (<lagged history of the outer deal>) s WHERE s.d > s.prev)``."""

    aggregate = ""
    output_field = IntegerField()

    def as_sql(self, compiler, connection, template=None, **extra_context):
        inner_sql, params = self.query.as_sql(compiler, connection)
        if connection.vendor == "sqlite":
            days = "CAST(ROUND(julianday(s.expected_close_date) - julianday(s.prev)) AS INTEGER)"
        else:
            days = "(s.expected_close_date - s.prev)"
        agg = "COUNT(*)" if self.aggregate == "count" else f"COALESCE(SUM({days}), 0)"
        sql = f"(SELECT {agg} FROM {inner_sql} s WHERE s.expected_close_date > s.prev)"  # nosec B608: SQL text is column names and ints built here; every value is a parameter
        return sql, params


class _SlipCount(_SlipAggregate):
    aggregate = "count"


class _SlipDays(_SlipAggregate):
    aggregate = "days"


ANY_FLAG = Q(is_rotting=1) | Q(is_idle=1) | Q(is_overdue=1) | Q(is_slipped=1)


def _rotting_by_owner(base) -> list[dict]:
    """Per owner of open deals in scope: how many carry each flag (one query).

    The flags are computed once per deal in an inner query and summed per owner outside it
    (on PostgreSQL behind an ``OFFSET 0`` fence): grouping them with the ORM would repeat
    the slipped-set subquery for every aggregate that mentions it.
    """
    rows = base.annotate(
        oid=F("owner_id"),
        o_first=F("owner__first_name"),
        o_last=F("owner__last_name"),
        o_user=F("owner__username"),
    ).values("oid", "o_first", "o_last", "o_user", "amount", *FLAG_FIELDS)
    inner_sql, params = rows.order_by().query.sql_with_params()
    fence = " OFFSET 0" if connection.vendor == "postgresql" else ""
    any_flag = " + ".join(f"b.{f}" for f in FLAG_FIELDS)
    sql = f"""
        SELECT b.oid, b.o_first, b.o_last, b.o_user, COUNT(*),
               SUM(CASE WHEN {any_flag} > 0 THEN 1 ELSE 0 END),
               SUM(CASE WHEN {any_flag} > 0 THEN b.amount END),
               {", ".join(f"SUM(b.{f})" for f in FLAG_FIELDS)}
        FROM ({inner_sql}{fence}) b
        GROUP BY b.oid, b.o_first, b.o_last, b.o_user
    """  # nosec B608: SQL text is column names and ints built here; every value is a parameter
    keys = ("owner", "owner__first_name", "owner__last_name", "owner__username", "open",
            "flagged", "flagged_amount", "rotting", "idle", "overdue", "slipped")  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        out = [dict(zip(keys, row, strict=True)) for row in cursor.fetchall()]
    for r in out:
        # SQLite returns sums of decimals as floats; money stays Decimal.
        amount = r["flagged_amount"]
        r["flagged_amount"] = Decimal(str(amount)).quantize(CENT) if amount else ZERO
    return out


FLAG_FIELDS = ("is_rotting", "is_idle", "is_overdue", "is_slipped")
SUMMARY_KEYS = ("rotting", "idle", "overdue", "slipped", "flagged", "flagged_amount", "open")


def _summarise(owner_rows) -> dict:
    summary = dict.fromkeys(SUMMARY_KEYS, 0)
    for r in owner_rows:
        for key in SUMMARY_KEYS:
            summary[key] += r[key] or 0
    summary["flagged_amount"] = Decimal(summary["flagged_amount"])
    return summary


def rotting_summary(scope: ReportScope) -> dict:
    """How many open deals in scope carry each flag."""
    return _summarise(_rotting_by_owner(rotting_queryset(scope)))


def rotting(
    scope: ReportScope, *, flag: str = "", sort: str = "-amount", page: int = 1, limit=ROT_PAGE
) -> Report:
    base = rotting_queryset(scope)
    flagged = base.filter(ANY_FLAG)
    owner_groups = list(_rotting_by_owner(base))
    summary = _summarise(owner_groups)
    listing = flagged.filter(**{f"is_{flag}": 1}) if flag in ROT_FLAGS else flagged
    key = sort.lstrip("-")
    if key not in ROT_SORTS:
        sort, key = "-amount", "amount"
    field_name = ROT_SORTS[key]
    order = F(field_name).desc(nulls_last=True) if sort.startswith("-") else F(field_name).asc()
    total_rows = summary[flag] if flag in ROT_FLAGS else summary["flagged"]
    page = max(1, page)
    offset = (page - 1) * limit if limit else 0
    rows_qs = (
        _with_measures(listing, scope)
        .order_by(order, "pk")
        .values(
            "pk",
            "name",
            "amount",
            "expected_close_date",
            "days_in_stage",
            "idle_days",
            "overdue_days",
            "pushes",
            "pushed_days",
            "is_rotting",
            "is_idle",
            "is_overdue",
            "is_slipped",
            "stage__name",
            "stage__rot_after_days",
            "owner__first_name",
            "owner__last_name",
            "owner__username",
        )
    )
    if limit is not None:
        rows_qs = rows_qs[offset : offset + limit]
    rows = []
    for r in rows_qs:
        flags = [label for f, label in ROT_FLAGS.items() if r[f"is_{f}"]]
        rows.append(
            {
                "deal": r["name"],
                "owner": _user_label(
                    r["owner__first_name"], r["owner__last_name"], r["owner__username"]
                ),
                "stage": r["stage__name"],
                "amount": r["amount"],
                "days_in_stage": r["days_in_stage"],
                "rot_after": r["stage__rot_after_days"],
                "idle_days": r["idle_days"],
                "close": r["expected_close_date"],
                "overdue_days": r["overdue_days"] if r["is_overdue"] else None,
                "pushes": r["pushes"],
                "pushed_days": r["pushed_days"],
                "flags": flags,
                "_links": {"deal": opportunity_url(r["pk"])},
            }
        )
    table = Table(
        key="deals",
        caption="Open deals that are rotting, idle, overdue or slipping",
        columns=[
            Column("deal", "Deal"),
            Column("owner", "Owner"),
            Column("stage", "Stage"),
            Column("amount", "Amount", "money"),
            Column("days_in_stage", "Days in stage", "days"),
            Column("rot_after", "Rots after", "int"),
            Column("idle_days", "Days idle", "days"),
            Column("close", "Close date", "date"),
            Column("overdue_days", "Days overdue", "int"),
            Column("pushes", "Times pushed", "int"),
            Column("pushed_days", "Days pushed", "int"),
            Column("flags", "Flags", "flags"),
        ],
        rows=rows,
        empty="Nothing is rotting, idle, overdue or slipping here. Good.",
    )
    by_owner = sorted(
        (r for r in owner_groups if r["flagged"]),
        key=lambda r: (-(r["flagged_amount"] or 0), r["owner"]),
    )
    owner_rows = []
    for r in by_owner:
        link = {"owner": r["owner"]}
        owner_rows.append(
            {
                "owner": _user_label(
                    r["owner__first_name"], r["owner__last_name"], r["owner__username"]
                ),
                "flagged": r["flagged"],
                "amount": r["flagged_amount"] or ZERO,
                "rotting": r["rotting"],
                "idle": r["idle"],
                "overdue": r["overdue"],
                "slipped": r["slipped"],
                "_links": {
                    "flagged": _rot_url(scope, **link),
                    "amount": _rot_url(scope, **link),
                    **{f: _rot_url(scope, flag=f, **link) for f in ROT_FLAGS},
                },
            }
        )
    owners_table = Table(
        key="owners",
        caption="Flagged deals by owner",
        columns=[
            Column("owner", "Owner"),
            Column("flagged", "Flagged deals", "int"),
            Column("amount", "Amount", "money"),
            Column("rotting", "Rotting", "int"),
            Column("idle", "Idle", "int"),
            Column("overdue", "Overdue", "int"),
            Column("slipped", "Slipped", "int"),
        ],
        rows=owner_rows,
        total={
            "owner": "Total",
            "flagged": summary["flagged"],
            "amount": summary["flagged_amount"] or ZERO,
            **{f: summary[f] for f in ROT_FLAGS},
        },
        empty="No flagged deals.",
    )
    chart = {
        "type": "bar",
        "horizontal": True,
        "stacked": False,
        "money": True,
        "labels": [r["owner"] for r in owner_rows],
        "datasets": [{"label": "Flagged amount", "data": [_f(r["amount"]) for r in owner_rows]}],
        "links": [r["_links"]["amount"] for r in owner_rows],
    }
    findings = []
    if summary["flagged"]:
        findings.append(
            f"{summary['flagged']} of {summary['open']} open deals need attention "
            f"({summary['rotting']} rotting, {summary['idle']} idle for {scope.idle_days}+ days, "
            f"{summary['overdue']} past their close date, {summary['slipped']} pushed out)."
        )
    return Report(
        tables=[owners_table, table],
        chart=chart,
        findings=findings,
        extra={"summary": summary, "total_rows": total_rows, "page": page, "limit": limit},
    )


def _rot_url(scope, **extra) -> str:
    return f"{reverse('forecasting:report_rotting')}?{scope.querystring(**extra)}"


# --- 6. Rep scorecards -----------------------------------------------------------------------


def scorecard_reps(scope: ReportScope):
    """The reps a scorecard covers: visible reps, narrowed by the team and rep filters."""
    users = visibility.visible_users(scope.user).filter(role="rep")
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
        .annotate(**_closed_aggregates())
        .order_by()
    )
    for r in closed:
        metrics[r["owner"]].update(r)
    opened = (
        deals.filter(stage__kind=OPEN)
        .values("owner")
        .annotate(open_count=Count("pk"), open_amount=Sum("amount"))
        .order_by()
    )
    for r in opened:
        metrics[r["owner"]].update(r)
    logged = Q(~Q(kind=Activity.Kind.TASK), occurred_at__gte=scope.start_at) & Q(
        occurred_at__lt=scope.end_at
    )
    done = Q(kind=Activity.Kind.TASK, done_at__gte=scope.start_at, done_at__lt=scope.end_at)
    activities = (
        scope.activities()
        .filter(owner_id__in=user_ids)
        .filter(logged | done)
        .values("owner")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for r in activities:
        metrics[r["owner"]]["activities"] = r["n"]
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


def _score_row(label, m: dict, *, reps: int = 1) -> dict:
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
        "activities": mean(m.get("activities", 0), reps),
        "open_amount": mean(m.get("open_amount") or ZERO, reps),
        "open_count": mean(m.get("open_count", 0), reps),
        "quota": mean(quota, reps) if quota else None,
        # Pooled rows compare the quotas with what the reps that have one won.
        "attainment": ratio_pct(m.get("quota_won", won_amount), quota) if quota else None,
    }


SCORE_COLUMNS = [
    Column("rep", "Rep"),
    Column("win_rate", "Win rate", "pct"),
    Column("won", "Won", "int"),
    Column("lost", "Lost", "int"),
    Column("avg_cycle", "Sales cycle (days)", "days"),
    Column("avg_won", "Average won", "money"),
    Column("won_amount", "Won amount", "money"),
    Column("activities", "Activities logged", "num"),
    Column("open_count", "Open deals", "num"),
    Column("open_amount", "Open pipeline", "money"),
    Column("quota", "Quota", "money"),
    Column("attainment", "Quota attainment", "pct"),
]


def _pool(metrics: list[dict]) -> dict:
    """Several reps' metrics added up (for the average row)."""
    pooled: dict = {"quota_won": ZERO}
    for m in metrics:
        for k, v in m.items():
            if k in ("owner", "user") or v is None:
                continue
            pooled[k] = pooled.get(k, 0) + v
        if m.get("quota"):
            pooled["quota_won"] += m.get("won_amount") or ZERO
    return pooled


def scorecards(scope: ReportScope) -> Report:
    """Every rep in scope beside the average of the reps shown: win rate, cycle, average won
    deal, activities logged, open pipeline, quota attainment. Rates in the average row are
    pooled (the team's won over its closed); counts and pipeline are per rep."""
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
    total = None
    if len(reps) > 1:
        total = _score_row("Average of reps shown", _pool(list(metrics.values())), reps=len(reps))
    table = Table(
        key="scorecards",
        caption="Rep scorecards",
        columns=SCORE_COLUMNS,
        rows=rows,
        total=total,
        empty="No reps in this scope.",
    )
    chart = {
        "type": "bar",
        "percent": True,
        "labels": [r["rep"] for r in rows],
        "datasets": [
            {"label": "Win rate", "data": [_f(r["win_rate"]) for r in rows]},
            {"label": "Quota attainment", "data": [_f(r["attainment"]) for r in rows]},
        ],
        "links": [r["_links"]["rep"] for r in rows],
    }
    findings = []
    if total and total["win_rate"] is not None:
        below = [r for r in rows if r["win_rate"] is not None and r["win_rate"] < total["win_rate"]]
        if below:
            weakest = min(below, key=lambda r: r["win_rate"])
            findings.append(
                f"{weakest['rep']} has the lowest win rate: {weakest['win_rate']:.1f} % "
                f"against {total['win_rate']:.1f} % for the reps shown."
            )
    return Report(tables=[table], chart=chart, findings=findings)


def scorecard(scope: ReportScope, rep) -> Report:
    """One rep's scorecard beside their team's average (reps of the same team the viewer may
    see), for a coaching conversation."""
    rep_ids = [rep.pk]
    peers = []
    if rep.team_id:
        peers = list(
            visibility.visible_users(scope.user)
            .filter(role="rep", team_id=rep.team_id)
            .values_list("pk", flat=True)
        )
    ids = sorted(set(rep_ids) | set(peers))
    metrics = _scorecard_metrics(scope, ids)
    own = _score_row(str(rep), metrics[rep.pk])
    rows = [own]
    if len(peers) > 1:
        team = _score_row(
            f"{rep.team} average", _pool([metrics[p] for p in peers]), reps=len(peers)
        )
        rows.append(team)
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
                    f"{label.capitalize()} is {abs(diff):.0f} % {word} the team average"
                    f" — {'a strength' if better else 'worth a coaching conversation'}."
                )
    return Report(tables=[table], findings=findings)


# --- 7. Today's priorities -------------------------------------------------------------------

PRIORITY_HORIZON_DAYS = 90
TASK_HORIZON_DAYS = 7
PRIORITY_WEIGHTS = {"amount": 40, "close": 25, "stale": 20, "next_step": 15}
TASK_WEIGHTS = {"amount": 40, "due": 25, "overdue": 35}
PRIORITY_NOTE = (
    "Deals score out of 100: 40 × weighted amount relative to the largest on the list, "
    "+ 25 × closeness of the close date (1 when due or past, falling to 0 at 90 days out), "
    "+ 20 × staleness (days since the last activity ÷ the idle setting, capped at 1), "
    "+ 15 when the next step is overdue (its date has passed or an open task on the deal is "
    "overdue). Open tasks due within 7 days score 40 × their deal's weighted amount factor, "
    "+ 25 × how close the due date is (1 today or overdue, 0 at 7 days), + 35 when overdue."
)


def priorities(scope: ReportScope, *, owner, limit: int = 25) -> list[dict]:
    """Open deals and open tasks of ``owner`` ranked by the documented score (PRIORITY_NOTE).

    Two queries for the list plus one for the largest weighted amount (the scale); the
    score itself is computed in SQL, Python only merges the two ranked, bounded lists.
    """
    today, now = scope.today, scope.now
    deals = scope.deals().filter(owner=owner, stage__kind=OPEN)
    biggest = deals.aggregate(m=Max(expressions.weighted_amount()))["m"] or ZERO
    scale = Value(float(biggest) if biggest else 1.0, output_field=FloatField())
    overdue_task = Activity.objects.filter(
        opportunity=OuterRef("pk"), kind=Activity.Kind.TASK, done_at__isnull=True, due_on__lt=today
    )
    idle = DaysBetween(Value(now), Coalesce("last_activity_at", "created_at"))
    w = PRIORITY_WEIGHTS
    ranked_deals = (
        deals.annotate(
            weighted=expressions.weighted_amount(),
            days_to_close=DateDiff(F("expected_close_date"), Value(today)),
            idle_days=idle,
            task_overdue=Exists(overdue_task),
        )
        .annotate(
            a_factor=_clamp(F("weighted") * Value(1.0) / scale),
            c_factor=_clamp(
                (Value(float(PRIORITY_HORIZON_DAYS)) - F("days_to_close"))
                / Value(float(PRIORITY_HORIZON_DAYS))
            ),
            i_factor=_clamp(F("idle_days") / Value(float(scope.idle_days))),
            n_factor=_indicator(Q(next_step_due__lt=today) | Q(task_overdue=True)),
        )
        .annotate(
            score=_score(
                w, amount="a_factor", close="c_factor", stale="i_factor", next_step="n_factor"
            )
        )
        .order_by("-score", "expected_close_date", "pk")
        .values(
            "pk",
            "name",
            "amount",
            "weighted",
            "expected_close_date",
            "days_to_close",
            "idle_days",
            "next_step",
            "next_step_due",
            "n_factor",
            "a_factor",
            "score",
            "stage__name",
            "company__name",
        )[:limit]
    )
    tw = TASK_WEIGHTS
    task_qs = (
        scope.activities()
        .filter(
            owner=owner,
            kind=Activity.Kind.TASK,
            done_at__isnull=True,
            due_on__lte=today + dt.timedelta(days=TASK_HORIZON_DAYS),
        )
        .filter(Q(opportunity__isnull=True) | Q(opportunity__stage__kind=OPEN))
        .annotate(
            days_to_due=DateDiff(F("due_on"), Value(today)),
            deal_weighted=expressions.weighted_amount("opportunity__"),
        )
        .annotate(
            # PostgreSQL's GREATEST/LEAST skip NULLs, SQLite's return NULL: no NULL goes in.
            a_factor=_clamp(
                Coalesce(F("deal_weighted"), Value(ZERO), output_field=expressions.MONEY_FIELD)
                * Value(1.0)
                / scale
            ),
            d_factor=_clamp(
                (Value(float(TASK_HORIZON_DAYS)) - F("days_to_due"))
                / Value(float(TASK_HORIZON_DAYS))
            ),
            o_factor=_indicator(Q(due_on__lt=today)),
        )
        .annotate(score=_score(tw, amount="a_factor", due="d_factor", overdue="o_factor"))
        .annotate(**activity_target_flags(scope.user))
        .order_by("-score", "due_on", "pk")
        .values(
            *(f"{name}_visible" for name in ACTIVITY_TARGETS),
            "pk",
            "subject",
            "due_on",
            "lead_id",
            "contact_id",
            "company_id",
            "days_to_due",
            "score",
            "opportunity_id",
            "opportunity__name",
            "opportunity__amount",
            "lead__first_name",
            "lead__last_name",
            "contact__first_name",
            "contact__last_name",
            "company__name",
        )[:limit]
    )
    items = []
    for d in ranked_deals:
        reasons = []
        if d["days_to_close"] < 0:
            reasons.append(f"close date passed {-d['days_to_close']} d ago")
        elif d["days_to_close"] <= 14:
            reasons.append(f"closes in {d['days_to_close']} d")
        if d["idle_days"] >= scope.idle_days:
            reasons.append(f"no activity for {int(d['idle_days'])} d")
        if d["n_factor"]:
            reasons.append("next step overdue")
        if d["a_factor"] >= 0.5:
            reasons.append("large weighted amount")
        items.append(
            {
                "kind": "deal",
                "pk": d["pk"],
                "title": d["name"],
                "subtitle": f"{d['company__name'] or 'No company'} · {d['stage__name']}",
                "url": opportunity_url(d["pk"]),
                "amount": d["amount"],
                "weighted": d["weighted"],
                "date": d["expected_close_date"],
                "date_label": "Close",
                "next_step": d["next_step"],
                "score": round(d["score"], 1),
                "reasons": reasons,
            }
        )
    for t in task_qs:
        # A task stays its owner's, but the record it is on is named only when they may
        # open it (a deal reassigned to another rep is not).
        for name, fields in TASK_TARGET_FIELDS.items():
            if not t[f"{name}_visible"]:
                t.update(dict.fromkeys(fields))
        about = (
            t["opportunity__name"]
            or " ".join(filter(None, [t["lead__first_name"], t["lead__last_name"]]))
            or " ".join(filter(None, [t["contact__first_name"], t["contact__last_name"]]))
            or t["company__name"]
            or ""
        )
        reasons = []
        if t["days_to_due"] < 0:
            reasons.append(f"overdue by {-t['days_to_due']} d")
        elif t["days_to_due"] == 0:
            reasons.append("due today")
        else:
            reasons.append(f"due in {t['days_to_due']} d")
        items.append(
            {
                "kind": "task",
                "pk": t["pk"],
                "title": t["subject"],
                "subtitle": about,
                "url": _task_target_url(t),
                "amount": t["opportunity__amount"],
                "weighted": None,
                "date": t["due_on"],
                "date_label": "Due",
                "next_step": "",
                "score": round(t["score"], 1),
                "reasons": reasons,
            }
        )
    items.sort(key=lambda i: (-i["score"], i["date"] or dt.date.max, i["kind"], i["pk"]))
    for rank, item in enumerate(items[:limit], start=1):
        item["rank"] = rank
    return items[:limit]


TASK_TARGET_FIELDS = {
    "opportunity": ("opportunity_id", "opportunity__name", "opportunity__amount"),
    "lead": ("lead_id", "lead__first_name", "lead__last_name"),
    "contact": ("contact_id", "contact__first_name", "contact__last_name"),
    "company": ("company_id", "company__name"),
}


def _task_target_url(task: dict) -> str | None:
    """The page of the record a task is about (deal, lead, contact or company)."""
    for key, name in (
        ("opportunity_id", "pipeline:opportunity_detail"),
        ("lead_id", "pipeline:lead_detail"),
        ("contact_id", "pipeline:contact_detail"),
        ("company_id", "pipeline:company_detail"),
    ):
        if task[key]:
            return record_url(name, task[key])
    return None


def _indicator(condition) -> Case:
    """1.0 where ``condition`` holds, else 0.0."""
    return Case(When(condition, then=Value(1.0)), default=Value(0.0), output_field=FloatField())


def _score(weights: dict[str, int], **factors: str):
    """Σ weight × factor, the factors being annotations between 0 and 1."""
    terms = [Value(float(weights[name])) * F(field) for name, field in factors.items()]
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total


def _clamp(expr):
    """``expr`` limited to 0..1 (never pass an expression that can be NULL)."""
    return Greatest(
        Value(0.0), Least(Value(1.0), expr, output_field=FloatField()), output_field=FloatField()
    )


def priorities_table(items: list[dict]) -> Table:
    return Table(
        key="priorities",
        caption="Today's priorities",
        columns=[
            Column("rank", "#", "int"),
            Column("kind", "Type"),
            Column("title", "Deal or task"),
            Column("subtitle", "Company / about"),
            Column("amount", "Amount", "money"),
            Column("weighted", "Weighted", "money"),
            Column("date", "Close / due", "date"),
            Column("why", "Why now", "longtext"),
            Column("score", "Score", "num"),
        ],
        rows=[
            {
                **i,
                "kind": "Deal" if i["kind"] == "deal" else "Task",
                "why": "; ".join(i["reasons"]),
                "_links": {"title": i["url"]},
            }
            for i in items
        ],
        empty="Nothing needs you today: no open deals or tasks due this week.",
    )


# --- Drill-down: the deals behind a number ---------------------------------------------------

DRILL_KINDS = {
    "created": "Deals created",
    "won": "Deals won",
    "lost": "Deals lost",
    "open": "Open deals",
    "entered": "Deals that entered a stage",
    "funnel": "Deals converted from leads created",
}


def _month_bounds(month: dt.date | None) -> tuple[dt.date, dt.date] | None:
    if month is None:
        return None
    first = month.replace(day=1)
    return first, next_month(first) - dt.timedelta(days=1)


def drilldown(scope: ReportScope, params: dict) -> tuple[str, object]:
    """The title and queryset of deals behind one report number (``kind`` + extras).

    ``params`` are the cleaned values of ``forms.ReportOptionsForm``: ``kind``, ``month``
    (a date), ``stage`` (an id), ``reason`` (``none`` or an id), ``outcome`` and ``won``."""
    kind = params.get("kind") or ""
    if kind not in DRILL_KINDS:
        kind = "open"
    title = DRILL_KINDS[kind]
    qs = scope.deals()
    start, end = scope.start, scope.end
    month = _month_bounds(params.get("month"))
    if month:
        start, end = max(start, month[0]), min(end, month[1])
        title += f" — {month[0]:%B %Y}"
    if kind == "created":
        qs = qs.filter(
            created_at__gte=start_of_day(start),
            created_at__lt=end_of_day(end),
        )
    elif kind in ("won", "lost"):
        qs = qs.filter(stage__kind=kind, closed_on__gte=start, closed_on__lte=end)
        reason = params.get("reason") or ""
        if kind == "lost" and reason == "none":
            qs = qs.filter(lost_reason__isnull=True)
        elif kind == "lost" and reason:
            qs = qs.filter(lost_reason_id=int(reason))
    elif kind == "open":
        qs = qs.filter(stage__kind=OPEN)
        if params.get("stage") not in (None, ""):
            qs = qs.filter(stage_id=params["stage"])
    elif kind == "entered":
        stage_id = params.get("stage")
        stage = (
            Stage.objects.select_related("pipeline").filter(pk=stage_id).first()
            if stage_id not in (None, "")
            else None
        )
        if stage is None:
            return title, qs.none()
        # The stage report's cell: the same visits, in the stage's own pipeline.
        sql, sql_params = stage_visit_deal_ids_sql(
            replace(scope, pipeline=stage.pipeline),
            stage_id=stage.pk,
            outcome=params.get("outcome"),
        )
        qs = qs.filter(pk__in=RawSQL(sql, sql_params))  # nosec B611: SQL text is column names and ints built here; every value is a parameter
        label = {
            "moved": "moved on",
            "lost": "were lost",
            "back": "moved back",
            "still": "are still there",
            "closed": "have closed since",
        }.get(params.get("outcome"))
        title = f"Deals that entered {stage.name}" + (f" and {label}" if label else "")
    elif kind == "funnel":
        leads = scope.leads().filter(created_at__gte=scope.start_at, created_at__lt=scope.end_at)
        qs = qs.filter(pk__in=leads.filter(opportunity__isnull=False).values("opportunity_id"))
        if params.get("won"):
            qs = qs.filter(stage__kind=WON)
            title = "Won deals converted from leads created"
    return title, qs


def drilldown_table(scope: ReportScope, qs, *, page: int = 1, limit: int | None = 100):
    """The listing of drill-down deals (page of ``limit``) and the count and sum of all."""
    totals = qs.aggregate(n=Count("pk"), amount=Sum("amount"))
    rows_qs = qs.order_by("-amount", "pk").values(
        "pk",
        "name",
        "amount",
        "expected_close_date",
        "closed_on",
        "created_at",
        "company__name",
        "stage__name",
        "owner__first_name",
        "owner__last_name",
        "owner__username",
    )
    if limit:
        rows_qs = rows_qs[(page - 1) * limit : page * limit]
    rows = [
        {
            "deal": r["name"],
            "company": r["company__name"],
            "owner": _user_label(
                r["owner__first_name"], r["owner__last_name"], r["owner__username"]
            ),
            "stage": r["stage__name"],
            "amount": r["amount"],
            "created": _to_date(r["created_at"]),
            "close": r["closed_on"] or r["expected_close_date"],
            "_links": {"deal": opportunity_url(r["pk"])},
        }
        for r in rows_qs
    ]
    table = Table(
        key="deals",
        caption="Deals",
        columns=[
            Column("deal", "Deal"),
            Column("company", "Company", empty="No company"),
            Column("owner", "Owner"),
            Column("stage", "Stage"),
            Column("amount", "Amount", "money"),
            Column("created", "Created", "date"),
            Column("close", "Closed / expected close", "date"),
        ],
        rows=rows,
        total={"deal": f"{totals['n']} deals", "amount": totals["amount"] or ZERO},
        empty="No deals behind this number.",
    )
    return table, totals


# --- Home summary ----------------------------------------------------------------------------


def home_summary(scope: ReportScope) -> dict:
    """A manager's (or admin's) week at a glance: open pipeline, won this month, win rate of
    the last 90 days and how many open deals need attention. Three queries."""
    today = scope.today
    month_start = today.replace(day=1)
    deals = scope.deals()
    since = today - dt.timedelta(days=90)
    agg = deals.aggregate(
        open_count=Count("pk", filter=Q(stage__kind=OPEN)),
        open_amount=Sum("amount", filter=Q(stage__kind=OPEN)),
        weighted=Sum(expressions.weighted_amount(), filter=Q(stage__kind=OPEN)),
        won_month=Sum("amount", filter=Q(stage__kind=WON, closed_on__gte=month_start)),
        won_month_count=Count("pk", filter=Q(stage__kind=WON, closed_on__gte=month_start)),
        won_90=Count("pk", filter=Q(stage__kind=WON, closed_on__gte=since)),
        lost_90=Count("pk", filter=Q(stage__kind=LOST, closed_on__gte=since)),
    )
    attention = rotting_summary(scope)
    return {
        **agg,
        "win_rate_90": ratio_pct(agg["won_90"], agg["won_90"] + agg["lost_90"]),
        "attention": attention,
        "month_start": month_start,
        "since": since,
    }
