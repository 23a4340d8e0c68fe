"""What every list page and the day-to-day pages share: the filter bar folds behind a
"Filters" toggle on a phone (a <details>, so it works without JavaScript, open unless folded),
My tasks has its counts under its title, and dates read relative where that helps ("in 3
days", "2 weeks ago"), always as <time datetime=… title=full date>."""

import datetime as dt
import re

import pytest
import time_machine
from django.urls import reverse

from pipeline import services
from pipeline.templatetags.dates import ago, relative
from tests.factories import CompanyFactory, LeadFactory, OpportunityFactory, current_version

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)
TODAY = NOW.date()

# Every list page with a filter bar, and the board.
LISTS = [
    "pipeline:opportunity_list",
    "pipeline:lead_list",
    "pipeline:company_list",
    "pipeline:contact_list",
    "pipeline:activity_list",
    "pipeline:product_list",
    "pipeline:board",
]
# One filter of each, set to something that is not its default.
ACTIVE = {
    "pipeline:opportunity_list": {"status": "all"},
    "pipeline:lead_list": {"q": "zz"},
    "pipeline:company_list": {"q": "zz"},
    "pipeline:contact_list": {"q": "zz"},
    "pipeline:activity_list": {"q": "zz"},
    "pipeline:product_list": {"q": "zz"},
    "pipeline:board": {"q": "zz"},
}
PANEL = re.compile(r'<details class="filters-panel" open( data-active)?>\s*<summary[^>]*>Filters')


def _page(client, name, params=None) -> str:
    response = client.get(reverse(name), params or {})
    assert response.status_code == 200
    return response.content.decode()


def _fold(html: str) -> re.Match:
    """The filter bar's <details>: it opens on the toggle and holds the bar's form."""
    match = PANEL.search(html)
    assert match, "no folding filter bar"
    rest = html[match.end() :]
    assert rest.index("<form") < rest.index("</details>"), "the form is outside the fold"
    assert 'role="search"' in rest[: rest.index("</details>")]
    return match


@pytest.mark.parametrize("name", LISTS)
def test_list_filter_bar_folds_behind_a_toggle_open_by_default(client, manager, pipeline, name):
    client.force_login(manager)
    match = _fold(_page(client, name))
    # Open in the page itself (a laptop, or a phone without JavaScript); no filter is on.
    assert match.group(1) is None


@pytest.mark.parametrize("name", LISTS)
def test_list_filter_bar_with_a_filter_on_says_so_and_stays_open(client, manager, pipeline, name):
    client.force_login(manager)
    html = _page(client, name, ACTIVE[name])
    assert _fold(html).group(1) == " data-active"
    assert 'Filters <span class="muted">(on)</span></summary>' in html


def test_list_folding_is_one_stylesheet_and_one_script_for_every_list():
    """The board's fold is the lists' fold: its rules are in app.css and app.js (loaded by
    every page), not in the board's own files, and no page carries an inline script."""
    from django.conf import settings

    static = settings.BASE_DIR / "static"
    assert ".filters-panel > summary" in (static / "css/app.css").read_text()
    assert "details.filters-panel" in (static / "js/app.js").read_text()
    assert ".filters-panel >" not in (static / "css/board.css").read_text()
    assert "filters-panel" not in (static / "js/board_prefs.js").read_text()


# --- My tasks -------------------------------------------------------------------------------


def _task(owner, due, subject="Follow up"):
    return services.log_activity(
        by=owner, kind="task", subject=subject, lead=LeadFactory(owner=owner), due_on=due
    )


@time_machine.travel(NOW, tick=False)
def test_tasks_head_has_its_counts_under_the_title_and_due_dates_relative(client, rep):
    _task(rep, TODAY - dt.timedelta(days=3), "Late one")
    _task(rep, TODAY + dt.timedelta(days=1), "Tomorrow one")
    _task(rep, TODAY + dt.timedelta(days=20), "Later one")
    client.force_login(rep)
    html = _page(client, "pipeline:tasks")
    head = html[html.index('<div class="page-head">') : html.index('<div class="task-groups">')]
    title = head[head.index('<div class="page-title">') : head.index('<div class="actions">')]
    # Title first, its counts in the same block (not a loose middle item of the row).
    assert title.index("<h1>My tasks</h1>") < title.index('class="page-counts"')
    assert '<a href="#tasks-overdue" class="is-overdue"><strong>1</strong> overdue</a>' in title
    assert '<a href="#tasks-upcoming"><strong>2</strong> upcoming</a>' in title
    # Due dates: relative, with the machine date and the full date on hover.
    assert 'Due <time datetime="2026-03-07" title="Mar 7, 2026">3\xa0days ago</time>' in html
    assert 'Due <time datetime="2026-03-11" title="Mar 11, 2026">tomorrow</time>' in html
    assert 'Due <time datetime="2026-03-30" title="Mar 30, 2026">in 2\xa0weeks</time>' in html
    assert "Tue 10 Mar" not in html and "Wed 11 Mar" not in html


def test_tasks_head_without_tasks_shows_no_zero_counts(client, rep):
    client.force_login(rep)
    html = _page(client, "pipeline:tasks")
    assert "page-counts" not in html and "No open tasks." in html


# --- relative dates -------------------------------------------------------------------------


@time_machine.travel(NOW, tick=False)
def test_ago_counts_calendar_days_for_a_date():
    assert ago(TODAY) == "today"
    assert ago(TODAY + dt.timedelta(days=1)) == "tomorrow"
    assert ago(TODAY - dt.timedelta(days=1)) == "yesterday"
    assert ago(TODAY + dt.timedelta(days=10)) == "in 10\xa0days"
    assert ago(TODAY - dt.timedelta(days=13)) == "13\xa0days ago"
    assert ago(TODAY - dt.timedelta(days=15)) == "2\xa0weeks ago"
    assert ago(TODAY + dt.timedelta(days=75)) == "in 2\xa0months"
    assert ago("2026-03-10") == ""


@time_machine.travel(NOW, tick=False)
def test_relative_is_a_time_element_with_the_full_date_on_hover():
    moment = NOW - dt.timedelta(hours=5)
    assert relative(moment) == (
        '<time datetime="2026-03-10T07:00:00+00:00" title="Mar 10, 2026 07:00">'
        "5\xa0hours ago</time>"
    )
    assert relative(TODAY + dt.timedelta(days=3)) == (
        '<time datetime="2026-03-13" title="Mar 13, 2026">in 3\xa0days</time>'
    )
    assert relative(None) == "" and relative(None, "none yet") == "none yet"
    # Past the window, a moment reads as its date (the time stays on hover).
    old = NOW - dt.timedelta(days=400)
    assert relative(old, within=30) == (
        '<time datetime="2025-02-03T12:00:00+00:00" title="Feb 3, 2025 12:00">Feb 3, 2025</time>'
    )
    assert ">4\xa0days ago<" in relative(NOW - dt.timedelta(days=4), within=30)


@pytest.fixture
def deal(rep, pipeline):
    with time_machine.travel(NOW - dt.timedelta(days=20), tick=False):
        deal = OpportunityFactory(
            owner=rep,
            pipeline=pipeline,
            name="Relative deal",
            company=CompanyFactory(owner=rep),
            expected_close_date=TODAY + dt.timedelta(days=40),
        )
    with time_machine.travel(NOW - dt.timedelta(days=2), tick=False):
        services.log_activity(by=rep, kind="call", subject="Pricing call", opportunity=deal)
    with time_machine.travel(NOW - dt.timedelta(hours=3), tick=False):
        deal = services.update_opportunity(
            opportunity=deal,
            by=rep,
            version=current_version(deal),
            next_step="Send the quote",
            next_step_due=TODAY + dt.timedelta(days=4),
        )
    return deal


@time_machine.travel(NOW, tick=False)
def test_deal_page_timeline_next_step_and_last_activity_read_relative(client, rep, deal):
    client.force_login(rep)
    html = _page_of(client, deal.get_absolute_url())
    # Next step: "due in 4 days".
    assert '· due <time datetime="2026-03-14" title="Mar 14, 2026">in 4\xa0days</time>' in html
    # Timeline: the call two days ago; its creation 20 days ago, both relative.
    timeline = html[html.index('class="timeline-list"') :]
    assert 'title="Mar 8, 2026 12:00">2\xa0days ago</time>' in timeline
    assert 'title="Feb 18, 2026 12:00">2\xa0weeks ago</time>' in timeline
    assert "Feb 18, 2026 12:00</time>" not in timeline
    # Details: the last activity.
    assert '<dt>Last activity</dt><dd><time datetime="2026-03-08T12:00:00+00:00"' in html


def _page_of(client, url) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


@time_machine.travel(NOW, tick=False)
def test_deal_list_shows_last_activity_relative_and_close_date_in_full(client, rep, deal):
    client.force_login(rep)
    html = _page(client, "pipeline:opportunity_list")
    assert '<th scope="col">Last activity</th>' in html
    assert (
        '<td data-label="Last activity"><time datetime="2026-03-08T12:00:00+00:00" '
        'title="Mar 8, 2026 12:00">2\xa0days ago</time></td>'
    ) in html
    # The close date is the column managers sort and forecast by: the date itself.
    assert '<time datetime="2026-04-19">Apr 19, 2026</time>' in html


@time_machine.travel(NOW, tick=False)
def test_deal_list_without_activity_says_dash(client, rep, pipeline):
    OpportunityFactory(owner=rep, pipeline=pipeline, name="Quiet deal")
    client.force_login(rep)
    assert '<td data-label="Last activity">—</td>' in _page(client, "pipeline:opportunity_list")


@time_machine.travel(NOW, tick=False)
def test_rep_home_priorities_read_close_and_due_dates_relative(client, rep, deal):
    _task(rep, TODAY + dt.timedelta(days=1), "Call the buyer")
    client.force_login(rep)
    html = _page(client, "home")
    assert 'Closes <time datetime="2026-04-19" title="Apr 19, 2026">in 1\xa0month</time>' in html
    assert 'Due <time datetime="2026-03-11" title="Mar 11, 2026">tomorrow</time>' in html


@time_machine.travel(NOW, tick=False)
def test_rep_home_names_a_passed_close_date_as_such(client, rep, pipeline):
    with time_machine.travel(NOW - dt.timedelta(days=30), tick=False):
        OpportunityFactory(
            owner=rep, pipeline=pipeline, expected_close_date=TODAY - dt.timedelta(days=3)
        )
    client.force_login(rep)
    html = _page(client, "home")
    assert 'Close date <time datetime="2026-03-07" title="Mar 7, 2026">3\xa0days ago</time>' in html
    assert "Closes <time" not in html


@time_machine.travel(NOW, tick=False)
def test_manager_home_recent_activity_uses_the_same_tag(client, manager, deal):
    client.force_login(manager)
    html = _page(client, "home")
    recent = html[html.index('class="recent-list"') :]
    assert (
        '<time datetime="2026-03-08T12:00:00+00:00" title="Mar 8, 2026 12:00">2\xa0days ago</time>'
    ) in recent
