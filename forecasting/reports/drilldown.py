"""The deals behind a report number: each count and sum of the reports links here with the
same filters plus a ``kind`` (and its extras), and the listing is the same deals the number
counts."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal

from django.db.models import Count, F, Sum
from django.db.models.expressions import RawSQL

from forecasting.periods import end_of_day, next_month, start_of_day
from forecasting.reports.deal_funnel import STEPS, step_deals
from forecasting.reports.links import opportunity_url
from forecasting.reports.scope import ReportScope
from forecasting.reports.stages import stage_visit_deal_ids_sql
from forecasting.reports.tables import OWNER_LABEL_FIELDS, Column, Table, owner_label, to_date
from pipeline.models import Stage

WON, OPEN = Stage.Kind.WON, Stage.Kind.OPEN
ZERO = Decimal("0")


DRILL_KINDS = {
    "created": "Deals created",
    "won": "Deals won",
    "lost": "Deals lost",
    "open": "Open deals",
    "entered": "Deals that entered a stage",
    "funnel": "Deals converted from leads created",
    "deal_funnel": "Deals created that entered a stage",
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
    elif kind == "deal_funnel":
        stage_id = params.get("stage")
        stage = (
            Stage.objects.select_related("pipeline").filter(pk=stage_id).first()
            if stage_id not in (None, "")
            else None
        )
        if stage is None:
            return title, qs.none()
        outcome = params.get("outcome") if params.get("outcome") in STEPS else "entered"
        qs = step_deals(replace(scope, pipeline=stage.pipeline), stage, outcome)
        title = f"Deals created that entered {stage.name}"
        if outcome != "entered":
            title += f" and {STEPS[outcome]}"
    elif kind == "funnel":
        leads = scope.leads().filter(created_at__gte=scope.start_at, created_at__lt=scope.end_at)
        qs = qs.filter(pk__in=leads.filter(opportunity__isnull=False).values("opportunity_id"))
        if params.get("won"):
            qs = qs.filter(stage__kind=WON)
            title = "Won deals converted from leads created"
    return title, qs


def drilldown_table(scope: ReportScope, qs, *, page: int = 1, limit: int | None = 100):
    """The listing of drill-down deals (page of ``limit``) and the count and sum of all."""
    qs = qs.annotate(amount_reporting=scope.amount())
    totals = qs.aggregate(n=Count("pk"), amount=Sum("amount_reporting"))
    rows_qs = qs.order_by(F("amount_reporting").desc(nulls_last=True), "pk").values(
        "pk",
        "name",
        "amount_reporting",
        "expected_close_date",
        "closed_on",
        "created_at",
        "company__name",
        "stage__name",
        *OWNER_LABEL_FIELDS,
    )
    if limit:
        rows_qs = rows_qs[(page - 1) * limit : page * limit]
    rows = [
        {
            "deal": r["name"],
            "company": r["company__name"],
            "owner": owner_label(r),
            "stage": r["stage__name"],
            "amount": r["amount_reporting"],
            "created": to_date(r["created_at"]),
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
