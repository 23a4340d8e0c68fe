"""Report 4, pipeline created and revenue won by month, and why deals were lost.

*Pipeline created* is the count and current amount of deals created in each month."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Count, DateTimeField, F, Q, Sum, Value
from django.db.models.functions import TruncMonth

from forecasting import charts
from forecasting.periods import month_starts
from forecasting.reports.links import deals_url
from forecasting.reports.scope import ReportScope
from forecasting.reports.tables import Column, Report, Table, ratio_pct, to_date
from forecasting.reports.win_rate import closed_in_range
from forecasting.rowsums import grouped_totals_over
from pipeline import conversion
from pipeline.expressions import MonthStart
from pipeline.models import Stage
from pipeline.templatetags.opportune import pct

WON, LOST = Stage.Kind.WON, Stage.Kind.LOST
ZERO = Decimal("0")


def pipeline_by_month(scope: ReportScope) -> Report:
    deals = scope.deals()
    # Each deal's month and amount in a subquery, grouped by month over it: grouped directly,
    # PostgreSQL takes the month of an instant for nearly one value per deal and sorts every
    # deal to group them, where a hash of a dozen months suffices.
    created_rows = (
        deals.filter(created_at__gte=scope.start_at, created_at__lt=scope.end_at)
        .annotate(c_month=TruncMonth("created_at"), c_amount=scope.amount())
        .values("c_month", "c_amount")
        .order_by()
    )
    created = [
        {"month": month, **sums}
        for (month,), sums in grouped_totals_over(
            created_rows,
            {"c_month": DateTimeField(), "c_amount": conversion.MONEY_FIELD},
            {"n": Count(Value(1)), "amount": Sum(F("c_amount"))},
            group=("c_month",),
        ).items()
    ]
    closed = (
        closed_in_range(scope)
        .annotate(month=MonthStart("closed_on"))
        .values("month")
        .annotate(
            won=Count("pk", filter=Q(stage__kind=WON)),
            won_amount=Sum(conversion.closed_amount(), filter=Q(stage__kind=WON)),
            lost=Count("pk", filter=Q(stage__kind=LOST)),
            lost_amount=Sum(conversion.closed_amount(), filter=Q(stage__kind=LOST)),
        )
        .order_by("month")
    )
    created_by = {to_date(r["month"]).replace(day=1): r for r in created}
    closed_by = {to_date(r["month"]): r for r in closed}
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
        closed_in_range(scope)
        .filter(stage__kind=LOST)
        .values("lost_reason", "lost_reason__name")
        .annotate(n=Count("pk"), amount=Sum(conversion.closed_amount()))
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
    chart = charts.pipeline_created(rows)
    reasons_chart = charts.lost_reasons(reasons)
    findings = []
    if reasons:
        top = reasons[0]
        findings.append(
            f"Most lost deals cite “{top['reason']}”: {top['lost']} of {lost_total} "
            f"({pct(top['share'], 1)})."
        )
    return Report(
        tables=[table, reasons_table],
        chart=chart,
        findings=findings,
        extra={"chart2": reasons_chart},
    )
