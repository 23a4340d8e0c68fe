"""Every chart says what it shows: a title, named axes, a caption in plain words, a text
alternative; discrete figures as bars or steps; a finished month shows closed won only; the
forecast trend keeps a few level date labels. And the jargon beside the figures is explained."""

import datetime as dt
import re
from decimal import Decimal

from django.urls import reverse

from forecasting import charts, services
from forecasting.aggregates import Figures
from pipeline import services as deals
from tests.factories import OpportunityFactory, current_version
from tests.forecasting.chart_helpers import assert_readable, charts_of
from tests.forecasting.conftest import NOW, TODAY


def _month(m: int, won, weighted, *, past: bool) -> dict:
    fig = Figures(won=Decimal(won), weighted=Decimal(weighted - won), quota=Decimal(100))
    return {"month": dt.date(2026, m, 1), "figures": fig, "past": past, "weighted_url": "/x"}


def test_a_finished_month_shows_closed_won_only():
    months = [_month(1, 80, 95, past=True), _month(2, 10, 60, past=False)]
    config = charts.forecast_months(months, 2026)
    won, weighted, quota = config["datasets"]
    assert won["data"] == [80.0, 10.0]
    assert weighted["data"] == [None, 60.0]  # January's 95 is won + overdue open deals
    assert quota["stepped"] == "middle" and quota["data"] == [100.0, 100.0]
    assert config["labels"] == ["Jan 2026", "Feb 2026"] and config["ticks"] == ["Jan", "Feb"]
    assert config["title"] == "Forecast vs quota by month, 2026"
    assert "finished months show closed won only" in config["caption"]
    assert config["axes"] == {"category": "Month", "value": "Amount (USD)"}
    assert config["money"] is True and config["currency"] == "$"


def test_the_trend_is_steps_with_a_few_level_date_labels():
    trend = [
        {"taken_on": dt.date(2026, 1, 5) + dt.timedelta(weeks=i), "won": Decimal(i),
         "commit_forecast": Decimal(2 * i), "best_case_forecast": Decimal(3 * i),
         "weighted_forecast": Decimal(i)}
        for i in range(22)
    ]  # fmt: skip
    config = charts.forecast_trend(trend, Decimal(50), "Q1 2026")
    assert config["type"] == "line"
    assert all(ds["stepped"] for ds in config["datasets"][:4])
    assert config["options"]["scales"]["x"]["ticks"] == {
        "autoSkip": True, "maxRotation": 0, "minRotation": 0, "maxTicksLimit": 8,
    }  # fmt: skip
    assert config["ticks"][:2] == ["Jan 5", "Jan 12"]
    assert config["labels"][0] == "Jan 5, 2026"  # the tooltip's title
    assert config["title"] == "How Q1 2026's forecast moved"
    assert config["axes"]["category"] == "Snapshot"


def test_the_text_alternative_names_each_series_low_and_high():
    config = charts.win_rate(
        [
            {"month": "Jan 2026", "win_rate": Decimal("40")},
            {"month": "Feb 2026", "win_rate": None},
            {"month": "Mar 2026", "win_rate": Decimal("55.5")},
        ]
    )
    assert config["type"] == "bar"  # a month's win rate is one figure, not a curve
    assert config["summary"] == (
        "Win rate by month closed. Win rate: lowest 40.0% (Jan 2026), highest 55.5% "
        "(Mar 2026). The table below has every figure."
    )
    assert config["ticks"] == [["Jan", "2026"], "Feb", "Mar"]
    money = charts.pipeline_created(
        [{"month": "Jan 2026", "created_amount": Decimal("1500000"), "won_amount": 0}]
    )
    assert "Pipeline created: $1.50M throughout" in money["summary"]


def test_the_backtest_chart_is_straight_lines_of_brier_scores():
    months = [
        {"month": dt.date(2026, m, 1), "sources": [{"key": "model", "brier": 0.2 + m / 100}]}
        for m in (1, 2)
    ]
    config = charts.backtest_brier(months, "New business")
    assert [ds["tension"] for ds in config["datasets"]] == [0]
    assert config["decimals"] == 3 and config["axes"]["value"] == "Brier score"
    assert config["options"]["scales"]["y"]["beginAtZero"] is False
    assert config["title"] == "Brier score by month, New business (lower is better)"


def get(client, user, name, **params):
    client.force_login(user)
    return client.get(reverse(f"forecasting:{name}"), params).content.decode()


def test_dashboard_charts_carry_titles_captions_and_their_options(client, book, manager):
    services.take_snapshot(taken_on=TODAY)
    page = get(client, manager, "dashboard", period="2026-Q1")
    found = charts_of(page)
    assert set(found) == {"month-chart", "trend-chart"}
    for config in found.values():
        assert_readable(page, config)
    months = found["month-chart"]
    # Today is Mar 10: January and February are finished, March is not.
    assert months["datasets"][1]["data"][:3] == [None, None, 38500.0]
    assert 'id="months-h">Forecast vs quota by month, 2026</h2>' in page
    assert "Finished months show closed won only." in page and "(marked *)" not in page
    assert "an open deal whose close date has passed still counts" in page
    trend = found["trend-chart"]
    assert trend["options"]["scales"]["x"]["ticks"]["maxRotation"] == 0
    assert trend["ticks"] == ["Mar 10"] and trend["labels"] == ["Mar 10, 2026"]
    assert "What are P10, P50 and P90?" in page
    assert "9 replays in 10 end above this amount" in page


def test_a_finished_month_marks_a_weighted_figure_above_won(client, frozen, manager, rep, pipeline):
    OpportunityFactory(
        owner=rep,
        pipeline=pipeline,
        amount=Decimal("10000"),
        expected_close_date=dt.date(2026, 2, 20),
    )  # fmt: skip  (open, its close date passed: it still counts in February)
    page = get(client, manager, "dashboard", period="2026-Q1")
    assert page.count('<span class="overdue-mark" aria-hidden="true">*</span>') == 1
    assert "can be higher (marked *)" in page
    assert "(includes open deals past their close date)" in page


def test_accuracy_page_explains_its_terms_and_charts_calibration(
    client, frozen, manager, rep, pipeline, lost_reason
):
    frozen.move_to(dt.datetime(2026, 2, 10, 12, tzinfo=dt.UTC))
    won, lost = (OpportunityFactory(owner=rep, pipeline=pipeline) for _ in range(2))
    deals.close_won(opportunity=won, version=current_version(won), by=rep)
    deals.close_lost(
        opportunity=lost, version=current_version(lost), by=rep, lost_reason=lost_reason
    )
    frozen.move_to(NOW)
    page = get(client, manager, "accuracy")
    found = charts_of(page)
    assert {"accuracy-chart", "calibration-chart"} <= set(found)
    for config in found.values():
        assert_readable(page, config)
    calibration = found["calibration-chart"]
    assert calibration["percent"] is True
    assert calibration["axes"]["category"] == "Probability the deal carried"
    assert calibration["labels"] and all(re.fullmatch(r"\d+%", x) for x in calibration["labels"])
    assert "+20% means the forecast was 20% too high" in page
    for term in ("<dt>Average miss</dt>", "<dt>Bias</dt>", "<dt>Brier score</dt>",
                 "<dt>Error</dt>", "<dt>Calibration</dt>"):  # fmt: skip
        assert term in page


def test_what_changed_waterfall_has_its_title_and_caption(client, book, manager):
    page = get(client, manager, "changes", period="2026-03")
    config = charts_of(page)["waterfall-chart"]
    assert_readable(page, config)
    assert config["title"].startswith("Open pipeline of March 2026: $")
    assert config["options"]["plugins"]["legend"]["display"] is False
