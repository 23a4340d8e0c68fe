"""The home page's week at a glance for managers and admins: open pipeline, won this month,
the win rate of the last 90 days and how many open deals need attention."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Q, Sum

from forecasting.reports.rotting import rotting_summary
from forecasting.reports.scope import ReportScope
from forecasting.reports.tables import ratio_pct
from pipeline import expressions
from pipeline.models import Stage

WON, LOST = Stage.Kind.WON, Stage.Kind.LOST


def home_summary(scope: ReportScope) -> dict:
    """A manager's (or admin's) week at a glance: open pipeline, won this month, win rate of
    the last 90 days and how many open deals need attention, money in the reporting currency.
    Three queries, besides the day's exchange rates and the open stages (each read once per
    scope).

    The open deals and the deals closed since the earlier of the month's start and 90 days
    ago are counted apart, each from its own index (``ReportScope.open_deals``, then the
    owner/closed-date index), without visiting the table's rows."""
    today = scope.today
    month_start = today.replace(day=1)
    since = today - dt.timedelta(days=90)
    open_amount = scope.open_amount()  # in the reporting currency
    agg = scope.open_deals().aggregate(
        open_count=Count("*"),
        open_amount=Sum(open_amount),
        weighted=Sum(expressions.weighted_amount(amount=open_amount)),
    )
    amount = scope.amount()
    agg |= (
        scope.deals()
        .filter(closed_on__gte=min(since, month_start))
        .aggregate(
            won_month=Sum(amount, filter=Q(stage__kind=WON, closed_on__gte=month_start)),
            won_month_count=Count("pk", filter=Q(stage__kind=WON, closed_on__gte=month_start)),
            won_90=Count("pk", filter=Q(stage__kind=WON, closed_on__gte=since)),
            lost_90=Count("pk", filter=Q(stage__kind=LOST, closed_on__gte=since)),
        )
    )
    attention = rotting_summary(scope)
    return {
        **agg,
        "win_rate_90": ratio_pct(agg["won_90"], agg["won_90"] + agg["lost_90"]),
        "attention": attention,
        "month_start": month_start,
        "since": since,
    }
