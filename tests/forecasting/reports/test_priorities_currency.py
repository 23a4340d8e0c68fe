"""Rep priorities rank and show deals in the reporting currency: a deal in euros is weighed at
today's rate, so a larger euro deal outranks a smaller dollar one, and its amount is shown
converted."""

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from forecasting.reports.priorities import priorities
from forecasting.reports.scope import ReportScope
from pipeline.models import ExchangeRate
from tests.factories import OpportunityFactory


def test_a_euro_deal_is_weighed_and_shown_at_todays_rate(rep, pipeline, settings):
    settings.OPPORTUNE_CURRENCY = "USD"
    today = timezone.localdate()
    ExchangeRate.objects.create(currency="EUR", on_date=today, rate=Decimal("2.00"))
    close = today + dt.timedelta(days=30)
    OpportunityFactory(
        owner=rep, pipeline=pipeline, name="Dollars", amount=Decimal("15000"),
        expected_close_date=close,
    )  # fmt: skip
    OpportunityFactory(
        owner=rep, pipeline=pipeline, name="Euros", amount=Decimal("10000"), currency="EUR",
        expected_close_date=close,
    )  # fmt: skip
    scope = ReportScope(user=rep, start=today - dt.timedelta(days=90), end=today)
    items = priorities(scope, owner=rep)
    assert [i["title"] for i in items] == ["Euros", "Dollars"]  # €10,000 = $20,000
    euros = items[0]
    assert euros["amount"] == Decimal("20000.00")
    assert euros["weighted"] == Decimal("2000.00")  # 10 % in Qualification
    assert "large weighted amount" in euros["reasons"]


def test_a_deal_without_a_rate_is_shown_without_an_amount(rep, pipeline, settings):
    settings.OPPORTUNE_CURRENCY = "USD"
    today = timezone.localdate()
    OpportunityFactory(owner=rep, pipeline=pipeline, name="Pounds", currency="GBP")
    scope = ReportScope(user=rep, start=today - dt.timedelta(days=90), end=today)
    (item,) = priorities(scope, owner=rep)
    assert item["amount"] is None and item["weighted"] == Decimal("0")
