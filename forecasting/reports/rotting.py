"""Report 5, rotting and slipping deals: open deals past their stage's rotting threshold,
idle (no activity for the idle setting), overdue (close date passed) or slipped (close date
ever moved later). The flags are cheap comparisons per deal; the slipped set is one hashed
subquery over the field history. The home page's "needs attention" counts come from
:func:`rotting_summary`."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Case, F, IntegerField, Q, Value, When
from django.db.models.functions import Coalesce
from django.urls import reverse

from forecasting import charts
from forecasting.reports.links import opportunity_url
from forecasting.reports.scope import ReportScope
from forecasting.reports.sql import DateDiff, DaysBetween
from forecasting.reports.tables import OWNER_LABEL_FIELDS, Column, Report, Table, owner_label
from pipeline.models import Stage

OPEN = Stage.Kind.OPEN
ZERO = Decimal("0")
CENT = Decimal("0.01")


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


def _flag(condition) -> Case:
    return Case(When(condition, then=Value(1)), default=Value(0), output_field=IntegerField())


def rotting_queryset(scope: ReportScope):
    """Open deals in scope, each annotated with its four flags, all comparisons of the deal's
    own columns (slipped: its close date was ever pushed later, ``close_pushes``, which the
    deal keeps from its field history)."""
    idle_since = scope.now - dt.timedelta(days=scope.idle_days)
    stages = scope.open_stages()
    # Open stages by id (not by a join on the stage's kind), so the database narrows to
    # open deals before it evaluates the flags.
    return scope.open_deals().annotate(
        is_rotting=_flag(_rotting_q(scope, stages)),
        is_idle=_flag(
            Q(last_activity_at__lte=idle_since)
            | Q(last_activity_at__isnull=True, created_at__lte=idle_since)
        ),
        is_overdue=_flag(Q(expected_close_date__lt=scope.today)),
        is_slipped=_flag(Q(close_pushes__gt=0)),
    )


def _with_measures(qs, scope: ReportScope):
    """The figures shown for each listed deal (computed only for the rows fetched)."""
    return qs.annotate(
        days_in_stage=DaysBetween(Value(scope.now), F("stage_entered_at")),
        idle_days=DaysBetween(Value(scope.now), Coalesce("last_activity_at", "created_at")),
        overdue_days=DateDiff(Value(scope.today), F("expected_close_date")),
        pushes=F("close_pushes"),
        pushed_days=F("close_pushed_days"),
    )


ANY_FLAG = Q(is_rotting=1) | Q(is_idle=1) | Q(is_overdue=1) | Q(is_slipped=1)


def _rotting_by_owner(base, scope: ReportScope) -> list[dict]:
    """Per owner of open deals in scope: how many carry each flag (one query).

    The flags are computed once per deal in an inner query and summed per owner outside it
    (on PostgreSQL behind an ``OFFSET 0`` fence): grouping them with the ORM would repeat
    each flag's conditions and the reporting amount for every aggregate that mentions them.
    """
    rows = base.annotate(
        oid=F("owner_id"),
        o_first=F("owner__first_name"),
        o_last=F("owner__last_name"),
        o_user=F("owner__username"),
        amount_r=scope.amount(),  # in the reporting currency (pipeline.conversion)
    ).values("oid", "o_first", "o_last", "o_user", "amount_r", *FLAG_FIELDS)
    try:
        inner_sql, params = rows.order_by().query.sql_with_params()
    except EmptyResultSet:  # nothing can match (no pipeline yet, an empty filter)
        return []
    fence = " OFFSET 0" if connection.vendor == "postgresql" else ""
    any_flag = " + ".join(f"b.{f}" for f in FLAG_FIELDS)
    sql = f"""
        SELECT b.oid, b.o_first, b.o_last, b.o_user, COUNT(*),
               SUM(CASE WHEN {any_flag} > 0 THEN 1 ELSE 0 END),
               SUM(CASE WHEN {any_flag} > 0 THEN b.amount_r END),
               {", ".join(f"SUM(b.{f})" for f in FLAG_FIELDS)}
        FROM ({inner_sql}{fence}) b
        GROUP BY b.oid, b.o_first, b.o_last, b.o_user
    """  # nosec B608: SQL text is column names and ints built here; every value is a parameter
    keys = ("owner", *OWNER_LABEL_FIELDS, "open", "flagged", "flagged_amount", *ROT_FLAGS)
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
    return _summarise(_rotting_by_owner(rotting_queryset(scope), scope))


def rotting(
    scope: ReportScope, *, flag: str = "", sort: str = "-amount", page: int = 1, limit=ROT_PAGE
) -> Report:
    base = rotting_queryset(scope)
    flagged = base.filter(ANY_FLAG)
    owner_groups = list(_rotting_by_owner(base, scope))
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
            *OWNER_LABEL_FIELDS,
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
                "owner": owner_label(r),
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
            Column("days_in_stage", "Days in stage", "whole_days"),
            Column("rot_after", "Rots after", "int"),
            Column("idle_days", "Days idle", "whole_days"),
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
                "owner": owner_label(r),
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
    chart = charts.flagged_by_owner(owner_rows)
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
