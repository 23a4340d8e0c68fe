"""A manager's home below the tiles: the quarter against quota, the largest deals at risk and
the team's latest activity, on the hand-computed world of the report tests."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from forecasting.reports.scope import ReportScope
from forecasting.reports.team_home import deals_at_risk, quarter_attainment, recent_activity
from pipeline.templatetags.dates import ago
from tests.forecasting.reports.world import NOW, at, build_world, travel

# Read on the last day of Q1 2026: A (rep, 10,000) is won in the quarter; C's win was
# reopened; E (outsider, 99,999) is another team's. Quotas: rep 10,000 a month in Q1.
Q1_END = at(3, 31, 18)
HOME_BUDGET = 23  # the exchange rates (priorities, deals at risk), the latest activity
# read in two steps (the newest ids through their index, then those rows), the quarter's trend;
# the open stages once, for the week at a glance, the flags and the deals at risk; open and
# closed deals apart (each from its own index) for the week at a glance and the quarter


@pytest.fixture
def world(team, manager, rep, rep2, outsider, admin_user, pipeline, lost_reason):
    return build_world(
        team=team, manager=manager, rep=rep, rep2=rep2, outsider=outsider,
        admin_user=admin_user, pipeline=pipeline, lost_reason=lost_reason,
    )  # fmt: skip


def _scope(user, now=Q1_END):
    return ReportScope(user=user, start=dt.date(2026, 1, 1), end=dt.date(2026, 3, 31), now=now)


def test_manager_quarter_against_quota(world):
    with travel(Q1_END):
        q = quarter_attainment(_scope(world.manager))
    assert q["period"].param == "2026-Q1"
    assert (q["won"], q["quota"]) == (Decimal("10000"), Decimal("30000"))
    assert q["gap"] == Decimal("20000")
    assert round(q["pct"], 2) == Decimal("33.33")
    rows = {r["rep"].username: r for r in q["rows"]}
    assert set(rows) == {"rep", "rep2"}  # the manager's team only, never the outsider
    assert (rows["rep"]["won"], rows["rep"]["quota"]) == (Decimal("10000"), Decimal("30000"))
    assert rows["rep2"]["quota"] is None and rows["rep2"]["pct"] is None
    assert [r["rep"].username for r in q["rows"]] == ["rep", "rep2"]  # unknown last
    assert q["expected"] == q["won"] + q["weighted"]


def test_admin_quarter_covers_every_team(world):
    with travel(Q1_END):
        q = quarter_attainment(_scope(world.admin))
    assert q["won"] == Decimal("109999")  # A and the other team's E
    assert q["quota"] == Decimal("30000")


def test_deals_at_risk_are_the_managers_teams_largest_flagged(world):
    with travel(NOW):
        rows = deals_at_risk(_scope(world.manager, NOW))
    names = [r["name"] for r in rows]
    assert names and "E" not in names
    amounts = [r["amount"] for r in rows]
    assert amounts == sorted(amounts, reverse=True)
    assert all(r["signs"] for r in rows)
    assert {sign for r in rows for sign in r["signs"]} <= {
        "stuck in stage", "no recent activity", "close date passed", "close date pushed",
    }  # fmt: skip


def test_recent_activity_is_the_teams_logged_work_not_open_tasks(world):
    with travel(NOW):
        recent = recent_activity(_scope(world.manager, NOW))
    subjects = [a.subject for a in recent]
    assert "Follow-up" in subjects and "Check-in" in subjects
    assert "Call back" not in subjects and "Later" not in subjects  # open tasks
    assert all(a.owner.team_id == world.manager.team_id for a in recent)
    times = [a.occurred_at for a in recent]
    assert times == sorted(times, reverse=True)


def test_manager_home_shows_the_panels_and_a_rep_home_does_not(client, world):
    client.force_login(world.manager)
    with travel(Q1_END):
        body = client.get(reverse("home")).content.decode()
    assert "Quota, Q1 2026" in body and "$20k to go" in body
    assert "Largest deals at risk" in body and "Latest team activity" in body
    client.force_login(world.rep)
    with travel(Q1_END):
        body = client.get(reverse("home")).content.decode()
    assert "Largest deals at risk" not in body and "Quota, " not in body


def test_manager_home_draws_the_quarters_forecast_trend_from_its_snapshots(client, world):
    from forecasting import services as forecasting_services

    client.force_login(world.manager)
    with travel(Q1_END):
        body = client.get(reverse("home")).content.decode()
        assert "No forecast snapshot of this quarter yet" in body
        assert "vendor/chart.umd" not in body  # no chart, no chart library
        forecasting_services.take_snapshot(taken_on=dt.date(2026, 3, 31), ranges=False)
        body = client.get(reverse("home")).content.decode()
    assert 'id="home-trend-chart"' in body and "How Q1 2026" in body
    assert "vendor/chart.umd" in body and "Open the forecast dashboard" in body


def test_ago_names_the_largest_unit_only():
    now = dt.datetime(2026, 4, 1, 12, 0, tzinfo=dt.UTC)
    with travel(now):
        assert ago(now - dt.timedelta(hours=8, minutes=16)) == "8\xa0hours ago"
        assert ago(now - dt.timedelta(seconds=20)) == "just now"
        assert ago(now + dt.timedelta(days=3, hours=2)) == "in 3\xa0days"
        assert ago(None) == ""


def test_manager_home_query_budget(client, world):
    """A fixed number of queries whatever the team's size."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.factories import OpportunityFactory, UserFactory

    def count():
        client.force_login(world.manager)
        with travel(Q1_END), CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("home")).status_code == 200
        return len(queries)

    before = count()
    for i in range(3):
        newcomer = UserFactory(username=f"new{i}", team=world.team)
        with travel(at(3, 2)):
            OpportunityFactory(owner=newcomer, pipeline=world.pipeline, name=f"New {i}")
    assert count() == before <= HOME_BUDGET
