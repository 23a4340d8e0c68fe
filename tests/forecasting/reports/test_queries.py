"""Query budgets: every report page issues the same number of queries with 10 deals as with
200+ (no query per row), and stays within its budget."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from pipeline import services
from tests.factories import LeadFactory, OpportunityFactory, current_version, stage
from tests.forecasting.reports.world import NOW, travel

RANGE = {"start": "2026-01-01", "end": "2026-03-31"}
# Session + user, the filter form's choices (pipelines, teams, reps), then the report's own.
# The stage report (also on the scorecard page) raises work_mem on PostgreSQL (and for one
# person's deals, joins them by deal): a savepoint, one set_config() and its release, three
# statements that SQLite does not need. Pages with dates
# read the first and latest day of the deals in scope once (the period menu, the default
# range). The filter bar's product and category choices are one query; reports that sum open
# deals read today's exchange rates once (pipeline.conversion).
BUDGETS = {
    # The lead funnel (2; on PostgreSQL each lead joins its deal by key: a savepoint, one
    # set_config() and its release) and the deal funnel beside it (its stages, its counts).
    ("forecasting:report_funnel", ()): 14,
    ("forecasting:report_stages", ()): 17,
    ("forecasting:report_win_rate", ()): 10,
    ("forecasting:report_pipeline", ()): 12,
    ("forecasting:report_rotting", ()): 11,
    ("forecasting:report_scorecards", ()): 15,
    # One rep: the exchange rates and open stages read once for its several views.
    ("forecasting:report_scorecard", ("rep",)): 22,
    # The priorities convert each deal at today's exchange rates (one read) and select the
    # open deals by the open stages' ids (one read), from the open-deals index.
    ("forecasting:report_priorities", ()): 10,
    ("forecasting:report_deals", ()): 11,
    # A manager's home adds the week at a glance (the open deals and the recently closed
    # ones, each read from its own index, and the rotting flags), the quarter against quota
    # (reps, won and open figures per owner from their indexes, the quota book and the
    # teams), the deals at risk (open stages, the deals) and the team's activity (the newest
    # ids through their index, then those rows), and the quarter's forecast trend (one
    # grouped query over the snapshot rows); the open stages are read once per scope.
    ("home", ()): 22,
}
# Every signed-in page also counts the header bell's unread notifications: one query.
BUDGETS = {key: budget + 1 for key, budget in BUDGETS.items()}


def _grow(world, n):
    """Add ``n`` deals for rep and rep2 with transitions, closes, activities and leads."""
    p = world.pipeline
    with travel(dt.datetime(2026, 1, 3, 12, tzinfo=dt.UTC)):
        for i in range(n):
            owner = world.rep if i % 2 else world.rep2
            deal = OpportunityFactory(
                owner=owner,
                pipeline=p,
                amount=Decimal(1000 + i),
                expected_close_date=dt.date(2026, 2, 1) + dt.timedelta(days=i % 50),
            )
            if i % 3 == 0:
                deal = services.move_opportunity(
                    opportunity=deal,
                    version=current_version(deal),
                    to_stage=stage(p, "Discovery"),
                    by=owner,
                )
            if i % 5 == 0:
                services.close_won(opportunity=deal, version=current_version(deal), by=owner)
            elif i % 7 == 0:
                services.close_lost(
                    opportunity=deal,
                    version=current_version(deal),
                    by=owner,
                    lost_reason=world.b.lost_reason,
                )
            if i % 4 == 0:
                services.log_activity(by=owner, kind="call", subject="Call", opportunity=deal)
                services.log_activity(
                    by=owner, kind="task", subject="Task", opportunity=deal, due_on="2026-04-02"
                )
            LeadFactory(owner=owner, source="event", opportunity=deal, status="converted")


def _count(client, name, args, world):
    url = reverse(name, args=[getattr(world, a).pk for a in args])
    params = dict(RANGE) if name != "home" else {}
    if name == "forecasting:report_deals":
        params["kind"] = "created"
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params)
    assert response.status_code == 200
    return len(ctx)


@pytest.mark.parametrize("who", ["manager", "rep"])
def test_report_query_counts_do_not_grow_with_data(client, world, who):
    client.force_login(getattr(world, who))
    with travel(NOW):
        small = {key: _count(client, *key, world) for key in BUDGETS}
    _grow(world, 220)
    with travel(NOW):
        large = {key: _count(client, *key, world) for key in BUDGETS}
    assert large == small
    for key, count in large.items():
        assert count <= BUDGETS[key], (key, count)


def test_report_page_within_budget(client, world, django_assert_max_num_queries):
    client.force_login(world.manager)
    with travel(NOW), django_assert_max_num_queries(BUDGETS[("forecasting:report_stages", ())]):
        client.get(reverse("forecasting:report_stages"), RANGE)
