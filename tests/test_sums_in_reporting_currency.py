"""Every figure that adds deals up is in the reporting currency (DESIGN's conversion rule):
open deals at today's rate, closed deals at the rate of their closed date. A deal in euros
must not be added to dollars as if it were dollars on the company and contact pages, the
company list, the manager's home and the manager's digest."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from forecasting.reports.scope import ReportScope
from forecasting.reports.summary import home_summary
from forecasting.reports.team_home import quarter_attainment
from notifications.selectors import DigestContext, team_sections
from pipeline import services
from pipeline.models import Company, ExchangeRate
from pipeline.selectors.companies import deal_totals, with_open_deal_figures
from tests.factories import CompanyFactory, OpportunityFactory, current_version


@pytest.fixture(autouse=True)
def _mid_november():
    with time_machine.travel(dt.datetime(2026, 11, 16, 12, tzinfo=dt.UTC), tick=False):
        yield


@pytest.fixture
def mixed(rep, pipeline, settings):
    """One company with an open $10,000 deal, an open €10,000 deal (€1 = $2 today) and a
    €1,000 deal won yesterday (€1 = $3 then)."""
    settings.OPPORTUNE_CURRENCY = "USD"
    today = timezone.localdate()
    yesterday = today - dt.timedelta(days=1)
    ExchangeRate.objects.create(currency="EUR", on_date=yesterday, rate=Decimal("3.00"))
    ExchangeRate.objects.create(currency="EUR", on_date=today, rate=Decimal("2.00"))
    company = CompanyFactory(owner=rep, name="Mixed Ltd")
    close = today + dt.timedelta(days=5)
    common = {"owner": rep, "pipeline": pipeline, "company": company, "expected_close_date": close}
    OpportunityFactory(name="Dollars", amount=Decimal("10000"), **common)
    OpportunityFactory(name="Euros", amount=Decimal("10000"), currency="EUR", **common)
    won = OpportunityFactory(name="Won euros", amount=Decimal("1000"), currency="EUR", **common)
    services.close_won(opportunity=won, by=rep, version=current_version(won), closed_on=yesterday)
    return company


def test_company_and_contact_totals_convert_each_deal(rep, mixed):
    totals = deal_totals(rep, company=mixed)
    assert totals["open_amount"] == Decimal("30000.00")  # $10,000 + €10,000 × 2
    assert totals["weighted_amount"] == Decimal("3000.00")  # 10 % in Qualification
    assert totals["won_amount"] == Decimal("3000.00")  # €1,000 × 3, its closed date's rate


@pytest.mark.parametrize("grouped", [False, True])
def test_the_company_list_open_amount_is_converted(rep, mixed, grouped):
    (row,) = with_open_deal_figures(
        Company.objects.visible_to(rep).filter(pk=mixed.pk), user=rep, grouped=grouped
    )
    assert (row.open_count, row.open_amount) == (2, Decimal("30000.00"))


def test_the_company_page_shows_converted_totals(client, rep, mixed):
    client.force_login(rep)
    response = client.get(reverse("pipeline:company_detail", args=[mixed.pk]))
    assert response.context["deal_totals"]["open_amount"] == Decimal("30000.00")


def test_the_managers_home_figures_are_converted(manager, mixed):
    today = timezone.localdate()
    scope = ReportScope(user=manager, start=today - dt.timedelta(days=90), end=today)
    summary = home_summary(scope)
    assert summary["open_amount"] == Decimal("30000.00")
    assert summary["weighted"] == Decimal("3000.00")
    assert summary["won_month"] == Decimal("3000.00")
    attainment = quarter_attainment(scope)
    assert attainment["weighted"] == Decimal("3000.00")
    assert attainment["expected"] == Decimal("6000.00")  # won $3,000 + weighted $3,000


def test_the_digests_at_risk_total_is_converted(manager, rep, mixed):
    now = timezone.now() + dt.timedelta(days=400)  # every open deal is overdue by then
    sections = team_sections(manager, day=timezone.localdate(), ctx=DigestContext(now))
    text = " ".join(line.detail for s in sections for line in s.lines)
    assert "2 deals at risk · $30,000" in text, text
