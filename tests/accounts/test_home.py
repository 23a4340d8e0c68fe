"""The home page: a rep's ranked priorities; a manager's week at a glance."""

from decimal import Decimal

import pytest
from django.urls import reverse

from tests.factories import current_version
from tests.forecasting.reports.world import NOW, build_world, travel


@pytest.fixture
def world(team, manager, rep, rep2, outsider, admin_user, pipeline, lost_reason):
    """The hand-computed sales world of the report tests (tests/forecasting/reports/world.py)."""
    return build_world(
        team=team, manager=manager, rep=rep, rep2=rep2, outsider=outsider,
        admin_user=admin_user, pipeline=pipeline, lost_reason=lost_reason,
    )  # fmt: skip


def test_home_requires_login(client, db):
    response = client.get(reverse("home"))
    assert response.status_code == 302


def test_home_rep_sees_ranked_priorities_without_team_summary(client, world):
    client.force_login(world.rep)
    with travel(NOW):
        response = client.get(reverse("home"))
    content = response.content.decode()
    assert response.context["summary"] is None
    items = response.context["items"]
    # "Call back" is a task on deal F: one line for F, with the task among its reasons.
    assert [i["title"] for i in items] == ["Qualify budget", "F", "G"]
    assert [i["rank"] for i in items] == [1, 2, 3]
    assert any(reason.startswith("task: Call back, ") for reason in items[1]["reasons"])
    assert content.count(">Call back") == 0 and "task: Call back" in content
    assert "Today&#x27;s priorities" in content or "Today's priorities" in content
    assert "How this is ranked" in content
    assert "at a glance" not in content


def test_home_manager_sees_team_summary_and_report_links(client, world):
    client.force_login(world.manager)
    with travel(NOW):
        response = client.get(reverse("home"))
    summary = response.context["summary"]
    # East's open deals now: C 30,000, D 5,000, F 8,000, G 40,000.
    assert (summary["open_count"], summary["open_amount"]) == (4, Decimal("83000"))
    # Weighted: C 75 % of 30,000 + 10 % of 5,000 + 8,000 + 40,000.
    assert summary["weighted"] == Decimal("27800")
    # Won since Apr 1: none; last 90 days (since Jan 1): A won, B lost.
    assert summary["won_month_count"] == 0
    assert summary["win_rate_90"] == Decimal(50)
    assert summary["attention"]["flagged"] == 2
    content = response.content.decode()
    for name in ("report_stages", "report_scorecards", "report_rotting", "reports_index"):
        assert reverse(f"forecasting:{name}") in content
    assert "$83k" in content
    assert "Which rep needs help" in content
    assert "4 deals · weighted" in content and "0 deals since Apr 1" in content


def test_home_admin_summary_covers_everyone(client, world):
    client.force_login(world.admin)
    with travel(NOW):
        response = client.get(reverse("home"))
    assert response.context["summary"]["open_count"] == 4
    assert response.context["summary"]["won_90"] == 2  # A and the West's E


def test_home_empty_state_says_what_to_do(client, rep):
    client.force_login(rep)
    content = client.get(reverse("home")).content.decode()
    assert "Nothing needs you today" in content
    assert "Create a deal" in content


def test_home_manager_without_own_deals_hides_empty_priorities(client, world):
    client.force_login(world.manager)
    with travel(NOW):
        response = client.get(reverse("home"))
    assert response.context["items"] == []
    assert "Nothing needs you today" not in response.content.decode()


def test_home_counts_read_right_in_the_singular(client, manager, rep, pipeline):
    from pipeline import services
    from tests.factories import OpportunityFactory

    deal = OpportunityFactory(owner=rep, pipeline=pipeline)
    services.close_won(opportunity=deal, version=current_version(deal), by=rep)
    OpportunityFactory(owner=rep, pipeline=pipeline)
    client.force_login(manager)
    content = client.get(reverse("home")).content.decode()
    assert "1 deal · weighted" in content and "1 deal since" in content


@pytest.mark.parametrize("who", ["manager", "admin_user", "rep"])
@pytest.mark.django_db
def test_home_with_no_pipeline_and_no_deals(client, request, who):
    """A new installation has no pipeline yet: every role's home page opens and says so."""
    from pipeline.models import Pipeline

    Pipeline.objects.all().delete()
    client.force_login(request.getfixturevalue(who))
    response = client.get(reverse("home"))
    assert response.status_code == 200


FORECAST_PAGES = [
    "forecasting:dashboard", "forecasting:deals", "forecasting:changes", "forecasting:accuracy",
    "forecasting:calibration", "forecasting:quotas", "forecasting:reports_index",
    "forecasting:report_funnel", "forecasting:report_stages", "forecasting:report_win_rate",
    "forecasting:report_pipeline", "forecasting:report_rotting", "forecasting:report_scorecards",
    "forecasting:report_priorities", "forecasting:report_deals",
]  # fmt: skip


@pytest.mark.django_db
@pytest.mark.parametrize("name", FORECAST_PAGES)
def test_forecast_pages_with_no_pipeline(client, admin_user, name):
    """Before an admin has set up a pipeline, every forecast page and report opens."""
    from pipeline.models import Pipeline

    Pipeline.objects.all().delete()
    client.force_login(admin_user)
    assert client.get(reverse(name)).status_code == 200
