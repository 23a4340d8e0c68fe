import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from forecasting import services
from tests.e2e.conftest import login
from tests.factories import OpportunityFactory


@pytest.mark.django_db(transaction=True)
def test_forecast_dashboard_shows_tiles_charts_and_drills_into_deals(
    new_page, artifacts_dir, manager, rep, pipeline
):
    today = timezone.localdate()
    close = today + dt.timedelta(days=1)
    OpportunityFactory(
        owner=rep, pipeline=pipeline, amount=Decimal("40000"), expected_close_date=close,
        name="Globex renewal",
    )  # fmt: skip
    services.take_snapshot(taken_on=today)
    page = new_page()
    login(page, "manager")
    page.goto("/forecasting/")
    assert page.get_by_role("heading", name="By rep").is_visible()
    assert page.locator("canvas[data-chart-ready]").count() == 2  # Chart.js rendered both
    page.screenshot(path=str(artifacts_dir / "forecast_dashboard.png"), full_page=True)
    page.locator(".fc-tile", has_text="Weighted").get_by_role("link").click()
    page.wait_for_load_state()
    assert page.get_by_role("link", name="Globex renewal").is_visible()


@pytest.mark.django_db(transaction=True)
def test_what_changed_bar_opens_the_deals_behind_it(
    new_page, artifacts_dir, manager, rep, pipeline
):
    today = timezone.localdate()
    OpportunityFactory(
        owner=rep, pipeline=pipeline, amount=Decimal("25000"), expected_close_date=today,
        name="Initech pilot",
    )  # fmt: skip
    page = new_page()
    login(page, "manager")
    page.goto(f"/forecasting/changes/?period={today:%Y-%m}")
    assert page.locator("canvas[data-chart-ready]").count() == 1
    page.get_by_role("link", name="New deals").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="New deals: 1 deal").is_visible()
    assert page.get_by_role("link", name="Initech pilot").is_visible()
    page.screenshot(path=str(artifacts_dir / "forecast_changes.png"), full_page=True)
