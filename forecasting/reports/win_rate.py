"""Report 3, win rate, average won amount, sales cycle and velocity by month closed.

*Closed deals* are deals whose current stage is won or lost, by their closed date; the
*sales cycle* is whole days from the creation date to the closed date of won deals. *Open at
month end* counts deals created before the month ended and not closed by then (their
current closed date); for the current month: open now. The closed-deal helpers here are
shared with the pipeline report and the scorecards."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Count, F, Q, Sum
from django.db.models.functions import TruncDate

from forecasting import charts
from forecasting.periods import month_starts, next_month, start_of_day
from forecasting.reports.links import deals_url
from forecasting.reports.scope import ReportScope
from forecasting.reports.sql import DateDiff, Median
from forecasting.reports.tables import Column, Report, Table, mean, ratio_pct, to_date
from pipeline import conversion
from pipeline.expressions import MonthStart
from pipeline.models import Stage
from pipeline.templatetags.opportune import pct

WON, LOST, OPEN = Stage.Kind.WON, Stage.Kind.LOST, Stage.Kind.OPEN
ZERO = Decimal("0")


def closed_in_range(scope: ReportScope):
    return scope.deals().filter(
        stage__kind__in=[WON, LOST], closed_on__gte=scope.start, closed_on__lte=scope.end
    )


def cycle_days():
    return DateDiff(F("closed_on"), TruncDate("created_at"))


def closed_aggregates():
    won = Q(stage__kind=WON)
    return {
        "won": Count("pk", filter=won),
        "lost": Count("pk", filter=Q(stage__kind=LOST)),
        "won_amount": Sum(conversion.closed_amount(), filter=won),
        "cycle_days": Sum(cycle_days(), filter=won),
    }


def velocity(open_count, win_rate_pct, avg_won, avg_cycle) -> Decimal | None:
    """DESIGN §3: open deals × win rate × average won amount / average cycle days ($/day)."""
    if win_rate_pct is None or avg_won is None or not avg_cycle:
        return None
    return Decimal(open_count) * (win_rate_pct / 100) * avg_won / Decimal(str(avg_cycle))


def win_rate(scope: ReportScope) -> Report:
    months = month_starts(scope.start, scope.end)
    grouped = (
        closed_in_range(scope)
        .annotate(month=MonthStart("closed_on"))
        .values("month")
        .annotate(
            **closed_aggregates(),
            median_cycle=Median(cycle_days(), filter=Q(stage__kind=WON)),
        )
        .order_by("month")
    )
    by_month = {to_date(r["month"]): r for r in grouped}
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
        cycle_days(),
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
    chart = charts.win_rate(rows)
    cycle_chart = charts.sales_cycle(rows)
    findings = []
    if total["win_rate"] is not None:
        findings.append(
            f"Win rate over the range: {pct(total['win_rate'], 1)} "
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
