from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from accounts import visibility
from forecasting.reports import selectors
from forecasting.reports.filters import ReportScope, default_range

HOME_PRIORITIES = 8


@login_required
def home(request):
    """The day's starting point: a rep's ranked priorities; for managers and admins also the
    week at a glance with links into the reports."""
    user = request.user
    start, end = default_range(timezone.localdate())
    scope = ReportScope(user=user, start=start, end=end)
    items = selectors.priorities(scope, owner=user, limit=HOME_PRIORITIES)
    summary = None
    if visibility.is_manager(user) or visibility.is_admin(user):
        summary = selectors.home_summary(scope)
        summary["open_url"] = selectors.deals_url(scope, "open")
        summary["won_url"] = selectors.deals_url(
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
            "note": selectors.PRIORITY_NOTE,
            "reports_url": reverse("forecasting:reports_index"),
        },
    )
