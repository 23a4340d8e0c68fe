"""The home page: where every signed-in user starts. It combines the pipeline (a rep's open
deals and tasks) and the reports (the ranked priorities, a manager's week at a glance), so it
lives above both."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from accounts import visibility
from forecasting.reports.links import deals_url
from forecasting.reports.priorities import PRIORITY_NOTE, priorities
from forecasting.reports.scope import ReportScope, default_range
from forecasting.reports.summary import home_summary

HOME_PRIORITIES = 8


@login_required
def home(request):
    """The day's starting point: a rep's ranked priorities; for managers and admins also the
    week at a glance with links into the reports."""
    user = request.user
    start, end = default_range(timezone.localdate())
    scope = ReportScope(user=user, start=start, end=end)
    items = priorities(scope, owner=user, limit=HOME_PRIORITIES)
    summary = None
    if visibility.can_see_team_forecast(user):
        summary = home_summary(scope)
        summary["open_url"] = deals_url(scope, "open")
        summary["won_url"] = deals_url(
            ReportScope(user=user, start=summary["month_start"], end=end), "won"
        )
        summary["win_rate_url"] = (
            reverse("forecasting:report_win_rate")
            + "?"
            + ReportScope(user=user, start=summary["since"], end=end).querystring()
        )
    return render(
        request,
        "home.html",
        {
            "items": items,
            "summary": summary,
            "company_wide": visibility.sees_every_record(user),
            "note": PRIORITY_NOTE,
            "reports_url": reverse("forecasting:reports_index"),
        },
    )
