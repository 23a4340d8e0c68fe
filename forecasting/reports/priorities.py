"""Report 7, today's priorities: a rep's open deals and open tasks ranked by the documented
score (:data:`PRIORITY_NOTE`), computed in SQL; the home page shows the top of the same list."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import (
    Case,
    Exists,
    F,
    FloatField,
    Max,
    OuterRef,
    Q,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Greatest, Least

from forecasting.reports.links import opportunity_url, task_target_url
from forecasting.reports.scope import ReportScope
from forecasting.reports.sql import DateDiff, DaysBetween
from forecasting.reports.tables import Column, Table
from pipeline import conversion, expressions
from pipeline.models import ACTIVITY_TARGETS, Activity, Stage, activity_target_flags

OPEN = Stage.Kind.OPEN
ZERO = Decimal("0")
MONEY_FIELD = expressions.MONEY_FIELD


PRIORITY_HORIZON_DAYS = 90
TASK_HORIZON_DAYS = 7
PRIORITY_WEIGHTS = {"amount": 40, "close": 25, "stale": 20, "next_step": 15}
TASK_WEIGHTS = {"amount": 40, "due": 25, "overdue": 35}
PRIORITY_NOTE = (
    "Deals score out of 100: 40 × weighted amount relative to the largest on the list, "
    "+ 25 × closeness of the close date (1 when due or past, falling to 0 at 90 days out), "
    "+ 20 × staleness (days since the last activity ÷ the idle setting, capped at 1), "
    "+ 15 when the next step is overdue (its date has passed or an open task on the deal is "
    "overdue; the weighted amount is in the reporting currency at today's rate and uses the "
    "pipeline's probability source, or the win model when ranked by it). Open tasks due "
    "within 7 days score 40 × their deal's weighted amount factor, "
    "+ 25 × how close the due date is (1 today or overdue, 0 at 7 days), + 35 when overdue."
)


def priorities(scope: ReportScope, *, owner, limit: int = 25, by_model: bool = False) -> list[dict]:
    """Open deals and open tasks of ``owner`` ranked by the documented score (PRIORITY_NOTE);
    with ``by_model`` the weighted amounts use the win model's probability
    (``expressions.model_probability``) instead of the effective one.

    Two queries for the list plus one for the largest weighted amount (the scale); the
    score itself is computed in SQL, Python only merges the two ranked, bounded lists.
    """
    today, now = scope.today, scope.now
    fx = scope.rates()  # the day's rates, read once per scope

    def in_reporting(prefix: str = ""):
        # An open deal's amount at today's rate (pipeline.conversion); NULL without a rate.
        return conversion.open_amount(F(f"{prefix}amount"), F(f"{prefix}currency"), fx)

    def weighted(prefix: str = ""):
        return expressions.weighted_amount(prefix, by_model=by_model, amount=in_reporting(prefix))

    deals = scope.open_deals().filter(owner=owner)  # from the open-deals index
    biggest = deals.aggregate(m=Max(weighted()))["m"] or ZERO
    scale = Value(float(biggest) if biggest else 1.0, output_field=FloatField())
    overdue_task = Activity.objects.filter(
        opportunity=OuterRef("pk"), kind=Activity.Kind.TASK, done_at__isnull=True, due_on__lt=today
    )
    idle = DaysBetween(Value(now), Coalesce("last_activity_at", "created_at"))
    w = PRIORITY_WEIGHTS
    ranked_deals = (
        deals.annotate(
            weighted=Coalesce(weighted(), Value(ZERO), output_field=MONEY_FIELD),
            amount_reporting=in_reporting(),
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
            "amount_reporting",
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
            deal_weighted=weighted("opportunity__"),
            deal_amount=in_reporting("opportunity__"),
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
            "deal_amount",
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
                "deal_id": d["pk"],
                "title": d["name"],
                "subtitle": f"{d['company__name'] or 'No company'} · {d['stage__name']}",
                "url": opportunity_url(d["pk"]),
                "amount": d["amount_reporting"],
                "weighted": d["weighted"],
                "date": d["expected_close_date"],
                # Read with the relative date: "Closes in 3 weeks", "Close date 2 days ago".
                "date_label": "Closes" if d["days_to_close"] >= 0 else "Close date",
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
                "deal_id": t["opportunity_id"],
                "title": t["subject"],
                "subtitle": about,
                "url": task_target_url(t),
                "amount": t["deal_amount"],
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
    "opportunity": ("opportunity_id", "opportunity__name", "deal_amount"),
    "lead": ("lead_id", "lead__first_name", "lead__last_name"),
    "contact": ("contact_id", "contact__first_name", "contact__last_name"),
    "company": ("company_id", "company__name"),
}


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
