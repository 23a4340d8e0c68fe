"""The home page: where every signed-in user starts. It combines the pipeline (a rep's open
deals and tasks) and the reports (the ranked priorities, a manager's week at a glance), so it
lives above both."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from accounts import visibility
from forecasting import charts
from forecasting.reports.links import deals_url
from forecasting.reports.priorities import PRIORITY_NOTE, priorities
from forecasting.reports.scope import ReportScope, default_range
from forecasting.reports.summary import home_summary
from forecasting.reports.team_home import deals_at_risk, quarter_attainment, recent_activity
from forecasting.scope import ForecastScope
from forecasting.selectors import forecast_trend
from pipeline import read_cache

HOME_PRIORITIES = 8


def fold_tasks_into_deals(items: list[dict]) -> list[dict]:
    """One line per deal: a task on a deal that is itself listed becomes one of that deal's
    reasons ("task: Send the quote, due today") instead of a second line; ranks follow."""
    deals = {item["deal_id"]: item for item in items if item["kind"] == "deal"}
    folded = []
    for item in items:
        deal = deals.get(item["deal_id"]) if item["kind"] == "task" else None
        if deal is None:
            folded.append(item)
            continue
        deal["reasons"] = [*deal["reasons"], f"task: {item['title']}, {item['reasons'][0]}"]
    for rank, item in enumerate(folded, start=1):
        item["rank"] = rank
    return folded


@login_required
def home(request):
    """The day's starting point: a rep's ranked priorities; for managers and admins also the
    week at a glance with links into the reports."""
    user = request.user
    start, end = default_range(timezone.localdate())
    scope = ReportScope(user=user, start=start, end=end)
    # From the cache of computed figures while no write changed them (pipeline.read_cache).
    items, summary, team = read_cache.cached_for(scope, "home", lambda: _figures(scope), owner=user)
    return render(
        request,
        "home.html",
        {
            "items": items,
            "summary": summary,
            "team": team,
            "company_wide": visibility.sees_every_record(user),
            "note": PRIORITY_NOTE,
            "reports_url": reverse("forecasting:reports_index"),
        },
    )


def _quarter_trend(user, quarter: dict) -> dict | None:
    """How this quarter's forecast moved, snapshot by snapshot, as the forecast dashboard
    draws it (``None`` before the quarter's first snapshot)."""
    period = quarter["period"]
    trend = forecast_trend(ForecastScope(user=user, period=period))
    if not trend:
        return None
    return charts.forecast_trend(trend, quarter.get("quota"), period.label)


def _figures(scope: ReportScope):
    """The home page's priorities and, for those who lead others, the team's week."""
    user, end = scope.user, scope.end
    items = fold_tasks_into_deals(priorities(scope, owner=user, limit=HOME_PRIORITIES * 2))
    items = items[:HOME_PRIORITIES]
    summary = team = None
    if visibility.can_see_team_forecast(user):
        summary = home_summary(scope)
        quarter = quarter_attainment(scope)
        team = {
            "quarter": quarter,
            "at_risk": deals_at_risk(scope),
            "recent": recent_activity(scope),
            "trend_chart": _quarter_trend(user, quarter),
            "today": scope.today,
        }
        summary["open_url"] = deals_url(scope, "open")
        summary["won_url"] = deals_url(
            ReportScope(user=user, start=summary["month_start"], end=end), "won"
        )
        summary["win_rate_url"] = (
            reverse("forecasting:report_win_rate")
            + "?"
            + ReportScope(user=user, start=summary["since"], end=end).querystring()
        )
    return items, summary, team
