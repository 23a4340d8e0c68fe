"""Any period, any year: a team whose deals all lie long before today (a history imported
from 2024) sees them on the dashboard, the reports and the accuracy page without typing dates;
every period from the first deal to a year ahead is offered, and the page says which range
it shows. Every figure below is computed by hand from the three deals of ``history``."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from forecasting import services as forecasting_services
from pipeline import services
from tests.factories import OpportunityFactory, current_version

NOW = dt.datetime(2026, 11, 16, 12, 0, tzinfo=dt.UTC)


def _at(year, month, day):
    return time_machine.travel(dt.datetime(year, month, day, 12, tzinfo=dt.UTC), tick=False)


@pytest.fixture
def history(rep, rep2, manager, pipeline, lost_reason):
    """W: rep, 1,000, created 1 Feb 2024 (close 15 Mar), won 10 Mar 2024.
    O: rep, 2,000, created 5 Feb 2024, expected to close 20 Aug 2024, still in Qualification.
    X: rep2, 500, created 10 Feb 2024 (close 30 Apr), lost 2 Apr 2024."""
    with _at(2024, 2, 1):
        w = OpportunityFactory(owner=rep, pipeline=pipeline, name="W", amount=Decimal("1000"),
                               expected_close_date=dt.date(2024, 3, 15))  # fmt: skip
    with _at(2024, 2, 5):
        o = OpportunityFactory(owner=rep, pipeline=pipeline, name="O", amount=Decimal("2000"),
                               expected_close_date=dt.date(2024, 8, 20))  # fmt: skip
    with _at(2024, 2, 10):
        x = OpportunityFactory(owner=rep2, pipeline=pipeline, name="X", amount=Decimal("500"),
                               expected_close_date=dt.date(2024, 4, 30))  # fmt: skip
    with _at(2024, 3, 10):
        w = services.close_won(opportunity=w, version=current_version(w), by=rep)
    with _at(2024, 4, 2):
        x = services.close_lost(
            opportunity=x, version=current_version(x), by=rep2, lost_reason=lost_reason
        )
    return {"W": w, "O": o, "X": x}


@pytest.fixture
def now():
    with time_machine.travel(NOW, tick=False):
        yield


def _get(client, user, name, **params):
    client.force_login(user)
    return client.get(reverse(name), params)


# --- the forecast dashboard ------------------------------------------------------------------


def test_dashboard_starts_from_the_latest_quarter_with_deals(client, history, now, manager):
    response = _get(client, manager, "forecasting:dashboard")
    assert response.status_code == 200
    scope = response.context["scope"]
    # Q4 2026 is empty; the latest period date before it is O's expected close, 20 Aug 2024.
    assert scope.period.param == "2024-Q3"
    assert response.context["board"].total.open == Decimal("2000")
    body = response.content.decode()
    assert "Showing Q3 2024: Jul 1, 2024 – Sep 30, 2024." in body
    assert "Q4 2026 has no deals in view" in body


def test_dashboard_offers_every_period_from_the_first_deal_to_a_year_ahead(
    client, history, now, manager
):
    form = _get(client, manager, "forecasting:dashboard").context["form"]
    quarters, months = (dict(options) for _, options in form.period_options)
    assert list(quarters)[0] == "2027-Q4" and list(quarters)[-1] == "2024-Q1"
    assert len(quarters) == 16  # Q1 2024 … Q4 2027
    assert list(months)[0] == "2027-11" and list(months)[-1] == "2024-02"  # W: 1 Feb 2024
    assert quarters["2024-Q1"] == "Q1 2024"


def test_dashboard_named_period_is_kept_even_when_empty(client, history, now, manager):
    response = _get(client, manager, "forecasting:dashboard", period="2024-Q1")
    assert response.context["scope"].period.param == "2024-Q1"
    assert response.context["board"].total.won == Decimal("1000")  # W
    empty = _get(client, manager, "forecasting:dashboard", period="2026-Q4")
    assert empty.context["scope"].period.param == "2026-Q4"
    assert empty.context["asked_period"] is None


def test_dashboard_with_a_current_quarter_keeps_it(client, history, now, manager, rep):
    OpportunityFactory(owner=rep, expected_close_date=dt.date(2026, 12, 1))
    response = _get(client, manager, "forecasting:dashboard")
    assert response.context["scope"].period.param == "2026-Q4"
    assert "has no deals in view" not in response.content.decode()


def test_dashboard_query_budget_when_it_moves_to_an_earlier_quarter(
    client, history, now, manager, django_assert_max_num_queries
):
    client.force_login(manager)
    client.get(reverse("forecasting:dashboard"))  # warm the session
    # The quarter check, the earlier quarter found, and the first day for the menu: three
    # queries beyond the dashboard's own (which reads today's exchange rates and checks for
    # missing ones: each currency's first rate date, then the deals dated before it).
    with django_assert_max_num_queries(23):
        client.get(reverse("forecasting:dashboard"))


# --- the reports ----------------------------------------------------------------------------


def test_reports_default_to_the_twelve_months_up_to_the_latest_deal(client, history, now, manager):
    response = _get(client, manager, "forecasting:report_scorecards")
    form = response.context["form"]
    # The latest day a deal was created or closed: X lost on 2 Apr 2024.
    assert (form.cleaned_data["start"], form.cleaned_data["end"]) == (
        dt.date(2023, 5, 1),
        dt.date(2024, 4, 2),
    )
    rows = {r["rep"]: r for r in response.context["report"].table.rows}
    won = {name: (r["won"], r["lost"]) for name, r in rows.items()}
    assert sorted(won.values()) == [(0, 1), (1, 0)]
    body = response.content.decode()
    assert "No deal in view was created or closed in the last 12 months" in body
    assert "May 1, 2023 – Apr 2, 2024" in body
    assert 'value="2023-05-01"' in body


def test_reports_take_a_year_quarter_or_month_from_the_period_menu(
    client, history, now, manager, rep
):
    year = _get(client, manager, "forecasting:report_scorecards", period="2024")
    scope_form = year.context["form"]
    assert (scope_form.cleaned_data["start"], scope_form.cleaned_data["end"]) == (
        dt.date(2024, 1, 1),
        dt.date(2024, 12, 31),
    )
    assert scope_form.period_value == "2024"
    body = year.content.decode()
    assert '<option value="2024" selected>' in body
    # The date fields show the period's dates, so the next Apply keeps it.
    assert 'name="start" value="2024-01-01"' in body and 'name="end" value="2024-12-31"' in body
    groups = dict(scope_form.periods)
    assert [v for v, _ in groups["Years"]] == ["2027", "2026", "2025", "2024"]
    assert groups["Quarters"][-1] == ("2024-Q1", "Q1 2024")
    assert groups["Months"][-1] == ("2024-02", "February 2024")
    # Q2 2024: only X's loss; W was won in March.
    q2 = _get(client, manager, "forecasting:report_scorecards", period="2024-Q2")
    total = q2.context["report"].table.total
    assert (total["won"], total["lost"]) == (0, 1)
    march = _get(client, manager, "forecasting:report_win_rate", period="2024-03")
    assert march.context["form"].cleaned_data["end"] == dt.date(2024, 3, 31)
    # A period replaces the dates of the URL.
    both = _get(
        client, manager, "forecasting:report_scorecards", period="2024-Q1", start="2020-01-01"
    )
    assert both.context["form"].cleaned_data["start"] == dt.date(2024, 1, 1)
    # The CSV of a period holds the same table.
    export = _get(client, manager, "forecasting:report_scorecards", period="2024-Q2", export="csv")
    assert export.status_code == 200 and "Total of reps shown,0.0,0,1" in export.content.decode()


@pytest.mark.parametrize("value", ["2024-13", "2024-Q5", "1999", "24", "2024-Q1x", "x\x00"])
def test_reports_bad_period_is_a_field_error(client, history, now, manager, value):
    response = _get(client, manager, "forecasting:report_win_rate", period=value)
    assert response.status_code == 200
    assert "period" in response.context["form"].errors
    assert response.context["report"] is None


def test_reports_with_recent_deals_keep_the_last_twelve_months(client, history, now, rep):
    OpportunityFactory(owner=rep, name="Recent")
    response = _get(client, rep, "forecasting:report_win_rate")
    form = response.context["form"]
    assert form.cleaned_data["start"] == dt.date(2025, 12, 1)
    assert "Showing the last 12 months: Dec 1, 2025 – Nov 16, 2026." in response.content.decode()


def test_reports_period_menu_follows_the_visibility_rule(client, history, now, rep2):
    # rep2 sees only X (10 Feb 2024); the menu starts there.
    form = _get(client, rep2, "forecasting:report_win_rate").context["form"]
    assert dict(form.periods)["Months"][-1] == ("2024-02", "February 2024")


# --- forecast accuracy ----------------------------------------------------------------------


@pytest.fixture
def march_snapshot(history, now):
    forecasting_services.take_snapshot(taken_on=dt.date(2024, 3, 1))


def test_accuracy_defaults_to_the_latest_year_with_a_snapshot(client, march_snapshot, now, manager):
    response = _get(client, manager, "forecasting:accuracy")
    months = response.context["months"]
    assert months[0] == dt.date(2024, 1, 1) and months[-1] == dt.date(2024, 12, 1)
    cells = {c.month: c for c in response.context["result"]["total"].cells}
    # On 1 Mar 2024, W (1,000, Qualification 10 %) was expected in March: forecast 100.
    march = cells[dt.date(2024, 3, 1)]
    assert (march.forecast, march.actual) == (Decimal("100"), Decimal("1000"))
    assert march.error == Decimal("-90")
    assert cells[dt.date(2024, 1, 1)].forecast is None  # no snapshot on 1 Jan 2024
    body = response.content.decode()
    assert ">-90%</td>" in body and ">-90.0%</td>" in body  # the cell; the year's bias
    assert (
        "Showing 2024: Jan 2024 – Dec 2024. No forecast snapshot in the last 12 months, so this "
        "is the latest year with one."
    ) in body


def test_accuracy_takes_any_year_with_data(client, march_snapshot, now, manager):
    response = _get(client, manager, "forecasting:accuracy", year="2024")
    assert response.context["months"][2] == dt.date(2024, 3, 1)
    form = response.context["form"]
    assert [y for y, _ in form.fields["year"].choices] == ["", 2026, 2025, 2024]
    this_year = _get(client, manager, "forecasting:accuracy", year="2026")
    # 2026's finished months: January to October (today is 16 Nov 2026).
    assert this_year.context["months"][-1] == dt.date(2026, 10, 1)
    assert len(this_year.context["months"]) == 10
    # The last months, asked for, are shown even without snapshots.
    last = _get(client, manager, "forecasting:accuracy", months="6")
    assert last.context["months"][0] == dt.date(2026, 5, 1)
    bad = _get(client, manager, "forecasting:accuracy", year="2031")
    assert bad.status_code == 200 and "year" in bad.context["form"].errors
