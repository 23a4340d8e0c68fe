"""Every report chart has a title, a caption in plain words, named axes and a text
alternative, and draws discrete figures as bars (never a smoothed curve)."""

import pytest
from django.urls import reverse

from tests.forecasting.chart_helpers import assert_readable, charts_of
from tests.forecasting.reports.world import NOW, travel

RANGE = {"start": "2026-01-01", "end": "2026-03-31"}
CHARTS = {
    "report_funnel": ("Leads reaching each step", "Deals reaching each stage — "),
    "report_stages": ("Conversion, loss and win rate by stage",),
    "report_win_rate": ("Win rate by month closed", "Average sales cycle by month closed"),
    "report_pipeline": ("Pipeline created and revenue won by month", "Why deals were lost"),
    "report_rotting": ("Flagged open pipeline by owner",),
    "report_scorecards": ("Win rate and quota attainment by rep",),
    "report_products": ("Won revenue and open pipeline by product",),
}


@pytest.fixture
def now():
    with travel(NOW):
        yield


@pytest.mark.parametrize("name", sorted(CHARTS))
def test_report_charts_are_titled_captioned_and_described(client, world, now, name):
    client.force_login(world.manager)
    page = client.get(reverse(f"forecasting:{name}"), RANGE).content.decode()
    found = charts_of(page)
    titles = [found[key]["title"] for key in ("chart-main", "chart-second") if key in found]
    assert len(titles) == len(CHARTS[name])
    for title, expected in zip(titles, CHARTS[name], strict=True):
        assert title.startswith(expected)
    for config in found.values():
        assert_readable(page, config)
        assert config["type"] == "bar"


def test_month_charts_label_the_axis_with_short_months_and_full_tooltips(client, world, now):
    client.force_login(world.manager)
    page = client.get(reverse("forecasting:report_win_rate"), RANGE).content.decode()
    config = charts_of(page)["chart-main"]
    assert config["labels"] == ["Jan 2026", "Feb 2026", "Mar 2026"]
    assert config["ticks"] == [["Jan", "2026"], "Feb", "Mar"]
    assert config["percent"] is True and config["axes"]["value"] == "Win rate (%)"
    cycle = charts_of(page)["chart-second"]
    assert cycle["unit"] == "days" and cycle["axes"]["value"] == "Days"


def test_the_funnels_name_their_steps_and_stages(client, world, now):
    client.force_login(world.manager)
    page = client.get(reverse("forecasting:report_funnel"), RANGE).content.decode()
    leads, deals = charts_of(page)["chart-main"], charts_of(page)["chart-second"]
    assert leads["axes"] == {"category": "Step", "value": "Leads"} and leads["unit"] == "leads"
    assert deals["axes"] == {"category": "Stage", "value": "Deals"} and deals["unit"] == "deals"


def test_money_report_charts_are_in_the_reporting_currency(client, world, now, settings):
    settings.OPPORTUNE_CURRENCY = "EUR"
    from pipeline.templatetags.opportune import currency_symbol

    currency_symbol.cache_clear()
    client.force_login(world.manager)
    page = client.get(reverse("forecasting:report_pipeline"), RANGE).content.decode()
    config = charts_of(page)["chart-main"]
    assert config["money"] is True and config["currency"] == "€"
    assert config["axes"]["value"] == "Amount (EUR)"
    currency_symbol.cache_clear()


def test_the_scorecard_page_charts_the_reps_win_rate(client, world, now):
    client.force_login(world.manager)
    url = reverse("forecasting:report_scorecard", args=[world.rep.pk])
    page = client.get(url, RANGE).content.decode()
    config = charts_of(page)["chart-main"]
    assert_readable(page, config)
    assert config["title"] == "Win rate by month closed" and config["type"] == "bar"
