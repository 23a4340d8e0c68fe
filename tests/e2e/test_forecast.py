import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from forecasting import services
from forecasting.periods import Period, add_months
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


@pytest.mark.django_db(transaction=True)
def test_forecast_trend_chart_renders_with_its_title_axes_and_level_date_labels(
    new_page, artifacts_dir, manager, rep, pipeline
):
    """Weekly snapshots make many points: the chart keeps its title and caption, names its
    axes, and shows a few date labels, none tilted."""
    today = timezone.localdate()
    period = Period.current_quarter(today)
    first = add_months(period.start, -3)
    with time_machine.travel(dt.datetime.combine(first, dt.time(9), tzinfo=dt.UTC), tick=False):
        OpportunityFactory(
            owner=rep, pipeline=pipeline, amount=Decimal("40000"), expected_close_date=today,
        )  # fmt: skip
    days = [first + dt.timedelta(weeks=w) for w in range((today - first).days // 7 + 1)]
    for day in days:
        services.take_snapshot(taken_on=day, ranges=False)
    page = new_page(viewport={"width": 1440, "height": 900})
    login(page, "manager")
    page.goto(f"/forecasting/?period={period.param}")
    card = page.locator("section", has=page.locator("#trend-h"))
    title = f"How {period.label}'s forecast moved"
    assert card.get_by_role("heading", name=title).is_visible()
    assert card.locator(".chart-caption").inner_text().startswith("Each step is one snapshot")
    canvas = card.locator("canvas[data-chart-ready]")
    assert canvas.get_attribute("aria-label").startswith(title + ".")
    drawn = canvas.evaluate(
        """c => ({
            x: c._chart.options.scales.x.title.text,
            y: c._chart.options.scales.y.title.text,
            ticks: c._chart.scales.x.ticks.length,
            rotation: c._chart.scales.x.labelRotation,
            stepped: c._chart.data.datasets[0].stepped,
            points: c._chart.data.labels.length,
        })"""
    )
    assert drawn["points"] == len(days) > 8
    assert drawn["x"] == "Snapshot" and drawn["y"] == "Amount (USD)"
    assert 2 <= drawn["ticks"] <= 8 and drawn["rotation"] == 0
    assert drawn["stepped"] is True
    months = page.locator("section", has=page.locator("#months-h"))
    assert months.get_by_role("heading", name="Forecast vs quota by month").is_visible()
    assert months.locator("canvas[data-chart-ready]").count() == 1
    page.screenshot(path=str(artifacts_dir / "forecast_dashboard_trend.png"), full_page=True)
