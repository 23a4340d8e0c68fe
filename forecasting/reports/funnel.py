"""Report 1, the funnel: leads created in the range, followed forward, by source, rep or team.

*Prospects* are the leads that were ever qualified (``qualified_at`` set, or status
prospect/converted), *opportunities* those converted into a deal (in the chosen pipeline),
*won* those whose deal is won now. Two queries; beside it the deal funnel
(:mod:`forecasting.reports.deal_funnel`, two more)."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Count, Q, Sum

from accounts import visibility
from forecasting import charts
from forecasting.reports.deal_funnel import deal_funnel
from forecasting.reports.links import deals_url
from forecasting.reports.scope import ReportScope
from forecasting.reports.sql import planner_settings
from forecasting.reports.tables import (
    OWNER_LABEL_FIELDS,
    Column,
    Report,
    Table,
    owner_label,
    ratio_pct,
)
from pipeline import conversion
from pipeline.models import Lead, Stage
from pipeline.templatetags.opportune import pct

WON = Stage.Kind.WON
ZERO = Decimal("0")


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
        "rep": ["owner", *OWNER_LABEL_FIELDS],
        "team": ["owner__team", "owner__team__name"],
    }[group]
    rows = (
        leads.values(*keys)
        .annotate(
            leads=Count("pk"),
            prospects=Count("pk", filter=prospect_q),
            opportunities=Count("pk", filter=opp_q),
            won=Count("pk", filter=won_q),
            won_amount=Sum(conversion.closed_amount("opportunity__"), filter=won_q),
        )
        .order_by(*keys)
    )
    # Each lead's deal by its key (forecasting.reports.sql.planner_settings).
    with planner_settings(megabytes=None, by_deal=True):
        rows = list(rows)
    sources = dict(Lead.Source.choices)
    out = []
    for r in rows:
        if group == "source":
            label, link = sources.get(r["source"], r["source"]), {"source": r["source"]}
        elif group == "rep":
            label = owner_label(r)
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
    chart = charts.funnel(
        steps,
        values,
        [None, None, total["_links"].get("opportunities"), total["_links"].get("won")],
    )
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
            findings.append(f"The weakest step is {step}: {pct(rate, 1)} convert.")
    deals_table, deals_chart = deal_funnel(scope)
    dropped = [r for r in deals_table.rows if r["dropped"]]
    if dropped:
        worst = max(dropped, key=lambda r: (r["drop_rate"], r["dropped"]))
        findings.append(
            f"Most deals drop out at {worst['stage']}: {worst['dropped']} of {worst['entered']} "
            f"that entered it reached no later stage ({pct(worst['drop_rate'], 1)})."
        )
    return Report(
        tables=[table, deals_table], chart=chart, findings=findings, extra={"chart2": deals_chart}
    )


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
