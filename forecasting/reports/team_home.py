"""What a manager's home page shows below the tiles: the team against its quota this
quarter, the open deals most at risk, and the latest activity of the team. Every figure is
read through the report scope, so nobody sees a deal, a person or an activity they may not."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Sum

from forecasting.periods import Period
from forecasting.quotas import quota_book
from forecasting.reports.links import opportunity_url
from forecasting.reports.rotting import ANY_FLAG, rotting_queryset
from forecasting.reports.scope import ReportScope
from forecasting.reports.scorecards import scorecard_reps
from forecasting.reports.tables import OWNER_LABEL_FIELDS, owner_label, ratio_pct
from forecasting.scope import ForecastScope
from pipeline import expressions
from pipeline.models import Activity, Stage

ZERO = Decimal("0")
AT_RISK = 5
RECENT = 8
FLAG_WORDS = {
    "is_rotting": "stuck in stage",
    "is_idle": "no recent activity",
    "is_overdue": "close date passed",
    "is_slipped": "close date pushed",
}


def _attainment(won: Decimal, quota: Decimal | None) -> dict:
    return {
        "won": won,
        "quota": quota,
        "pct": ratio_pct(won, quota) if quota else None,
        "gap": max(quota - won, ZERO) if quota else None,
    }


def _forecast_scope(scope: ReportScope, period: Period) -> ForecastScope:
    return ForecastScope(
        user=scope.user, pipeline=scope.pipeline, team=scope.team, period=period, rep=scope.owner
    )


def quarter_attainment(scope: ReportScope) -> dict:
    """Won this quarter (to today) against the quarter's quota, for the scope and per rep,
    with what is still weighted in open deals expected to close this quarter, in the
    reporting currency. Three queries, besides the day's exchange rates (read once per scope)
    and the quota book's: the won deals from the owner/closed-date index, the open deals from
    the open-deals index (``ReportScope.open_deals``), neither visiting the table's rows."""
    period = Period.current_quarter(scope.today)
    reps = list(scorecard_reps(scope))
    per_owner: dict = {}
    won_rows = (
        scope.deals()
        .filter(stage__kind=Stage.Kind.WON, closed_on__gte=period.start, closed_on__lt=period.end)
        .values("owner")
        .annotate(won=Sum(scope.amount()))  # in the reporting currency
        .order_by()
    )
    open_amount = scope.open_amount()
    weighted_rows = (
        scope.open_deals()
        .filter(expected_close_date__gte=period.start, expected_close_date__lt=period.end)
        .values("owner")
        .annotate(weighted=Sum(expressions.weighted_amount(amount=open_amount)))
        .order_by()
    )
    for row in [*won_rows, *weighted_rows]:
        per_owner.setdefault(row["owner"], {}).update(row)
    book = quota_book(period.months)
    rows = []
    for rep in reps:
        figures = per_owner.get(rep.pk, {})
        rows.append(
            {
                "rep": rep,
                "weighted": figures.get("weighted") or ZERO,
                **_attainment(figures.get("won") or ZERO, book.for_user(rep.pk, period.months)),
            }
        )
    rows.sort(key=lambda r: (r["pct"] is None, r["pct"] if r["pct"] is not None else 0))
    won = sum((r.get("won") or ZERO for r in per_owner.values()), ZERO)
    weighted = sum((r.get("weighted") or ZERO for r in per_owner.values()), ZERO)
    return {
        "period": period,
        "rows": rows,
        "weighted": weighted,
        "expected": won + weighted,
        # The team's own quota where one is set, else the sum of its members' (as the
        # forecast dashboard reads it).
        **_attainment(won, book.for_scope(_forecast_scope(scope, period), period.months)),
    }


def deals_at_risk(scope: ReportScope, *, limit: int = AT_RISK) -> list[dict]:
    """The largest open deals that show a warning sign, with the signs in words."""
    rows = (
        rotting_queryset(scope)
        .filter(ANY_FLAG)
        .order_by("-amount", "pk")
        .values("pk", "name", "amount", "stage__name", *FLAG_WORDS, *OWNER_LABEL_FIELDS)[:limit]
    )
    return [
        {
            "name": row["name"],
            "url": opportunity_url(row["pk"]),
            "amount": row["amount"],
            "stage": row["stage__name"],
            "owner": owner_label(row),
            "signs": [words for flag, words in FLAG_WORDS.items() if row[flag]],
        }
        for row in rows
    ]


def recent_activity(scope: ReportScope, *, limit: int = RECENT) -> list[Activity]:
    """The team's latest logged calls, emails, meetings, notes and finished tasks; the record
    each is about is linked only when the viewer may open it (``visible_target``).

    Two queries: the newest ids, walking the (occurred_at, id) index backwards, then those
    rows with their records and visibility flags; in one query the flags' subqueries were
    computed over every contact and company before the limit applied."""
    latest = list(
        scope.activities()
        .exclude(kind=Activity.Kind.TASK, done_at__isnull=True)
        .order_by("-occurred_at", "-pk")
        .values_list("pk", flat=True)[:limit]
    )
    return list(
        Activity.objects.filter(pk__in=latest)
        .with_visible_targets(scope.user)
        .select_related("owner", "opportunity", "lead", "contact", "company")
        .order_by("-occurred_at", "-pk")
    )
