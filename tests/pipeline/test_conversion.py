"""Deals in several currencies: the one conversion rule (pipeline.conversion) in Python and in
SQL, for open and closed deals across rate changes; snapshot sums in the reporting currency
against an independent computation; a missing rate (a warning, never a zero or a crash); the
board with mixed currencies and its query budget; the deal form and pages."""

import datetime as dt
import logging
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse

from forecasting import services as forecasting
from forecasting.dealstate import deals_at
from forecasting.models import ForecastSnapshot
from pipeline import conversion, services
from pipeline.models import ExchangeRate, Opportunity, Product, ProductPrice
from pipeline.selectors.board import board_for
from tests.factories import OpportunityFactory, current_version, stage

D = dt.date
NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)
TODAY = D(2026, 3, 10)
BOARD = reverse("pipeline:board")

# EUR rises through February; GBP has a single rate from Feb 1.
RATES = [
    ("EUR", D(2026, 1, 1), "1.10000000"),
    ("EUR", D(2026, 2, 1), "1.20000000"),
    ("EUR", D(2026, 3, 1), "1.25000000"),
    ("GBP", D(2026, 2, 1), "1.33333333"),
]


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def rates(db):
    ExchangeRate.objects.bulk_create(
        ExchangeRate(currency=c, on_date=d, rate=Decimal(r)) for c, d, r in RATES
    )


def _deal(owner, pipeline, amount, currency="USD", **kw):
    return OpportunityFactory(
        owner=owner, pipeline=pipeline, amount=Decimal(amount), currency=currency, **kw
    )


def _won(deal, by, on):
    return services.close_won(opportunity=deal, by=by, version=current_version(deal), closed_on=on)


# --- the rule in Python -------------------------------------------------------------------


def test_conversion_rate_is_the_latest_on_or_before_the_day(rates):
    assert conversion.rate_on("EUR", D(2025, 12, 31)) is None
    assert conversion.rate_on("EUR", D(2026, 1, 1)) == Decimal("1.1")
    assert conversion.rate_on("EUR", D(2026, 1, 31)) == Decimal("1.1")
    assert conversion.rate_on("EUR", D(2026, 2, 1)) == Decimal("1.2")
    assert conversion.rate_on("EUR", D(2027, 1, 1)) == Decimal("1.25")
    assert conversion.rate_on("USD", D(2000, 1, 1)) == Decimal(1)
    assert conversion.rates_on(D(2026, 2, 15)) == {
        "EUR": Decimal("1.2"),
        "GBP": Decimal("1.33333333"),
    }
    assert conversion.rates_on(D(2026, 1, 15)) == {"EUR": Decimal("1.1")}


@pytest.mark.parametrize(
    ("amount", "rate", "expected"),
    [
        ("100.00", "1.33333333", "133.33"),
        ("0.01", "1.5", "0.02"),  # 0.015 rounds half up, not to even
        ("0.03", "1.5", "0.05"),  # 0.045 → 0.05
        ("1000.00", "1.10000000", "1100.00"),
    ],
)
def test_conversion_rounds_half_up_to_the_reporting_decimals(amount, rate, expected):
    assert conversion.convert(Decimal(amount), Decimal(rate)) == Decimal(expected)
    assert conversion.convert(Decimal(amount), None) is None


# --- open and closed deals across rate changes --------------------------------------------


@pytest.fixture
def world(frozen, rates, rep, pipeline):
    """Open: A 1,000 EUR, B 300 GBP, C 500 USD. Won: W 1,000 EUR closed Jan 15 (rate 1.10),
    V 200 EUR closed Feb 10 (1.20)."""
    made = {
        "A": _deal(rep, pipeline, "1000", "EUR"),
        "B": _deal(rep, pipeline, "300", "GBP"),
        "C": _deal(rep, pipeline, "500"),
        "W": _deal(rep, pipeline, "1000", "EUR"),
        "V": _deal(rep, pipeline, "200", "EUR"),
    }
    made["W"] = _won(made["W"], rep, D(2026, 1, 15))
    made["V"] = _won(made["V"], rep, D(2026, 2, 10))
    return made


def _state(on, **filters):
    return {
        o.name: o.s_amount for o in deals_at(on=on).filter(**filters).only("name").order_by("pk")
    }


def test_conversion_open_deals_at_the_as_of_date_closed_at_their_closed_date(world):
    live = _state(TODAY)
    assert live[world["A"].name] == Decimal("1250.00")  # today's EUR rate 1.25
    assert live[world["B"].name] == Decimal("400.00")  # 300 × 1.33333333 = 399.999999
    assert live[world["C"].name] == Decimal("500.00")
    assert live[world["W"].name] == Decimal("1100.00")  # closed Jan 15 at 1.10
    assert live[world["V"].name] == Decimal("240.00")  # closed Feb 10 at 1.20


def test_conversion_python_and_sql_agree(world):
    for deal in Opportunity.objects.select_related("stage"):
        assert conversion.deal_in_reporting(deal, on=TODAY) == _state(TODAY)[deal.name]


def test_conversion_a_later_rate_moves_open_deals_not_closed_ones(world):
    ExchangeRate.objects.create(currency="EUR", on_date=TODAY, rate=Decimal("2"))
    live = _state(TODAY)
    assert live[world["A"].name] == Decimal("2000.00")
    assert live[world["W"].name] == Decimal("1100.00")
    assert live[world["V"].name] == Decimal("240.00")


def test_conversion_past_state_uses_the_rate_of_that_day(world, frozen, rep, pipeline):
    # Deals created in January, seen as of Feb 15 (open deals at 1.20).
    frozen.move_to(dt.datetime(2026, 1, 5, 12, tzinfo=dt.UTC))
    early = _deal(rep, pipeline, "100", "EUR")
    frozen.move_to(dt.datetime(2026, 1, 20, 12, tzinfo=dt.UTC))
    closed = _won(_deal(rep, pipeline, "100", "EUR"), rep, D(2026, 1, 20))
    frozen.move_to(NOW)
    past = _state(D(2026, 2, 15))
    assert past[early.name] == Decimal("120.00")
    assert past[closed.name] == Decimal("110.00")
    assert _state(TODAY)[early.name] == Decimal("125.00")


# --- snapshot sums equal an independent computation ---------------------------------------


def test_conversion_snapshot_sums_equal_an_independent_computation(world, rep, pipeline):
    # More deals, several close dates and probabilities, in three currencies.
    extra = [
        _deal(rep, pipeline, "333.33", "EUR", probability=35),
        _deal(rep, pipeline, "123.45", "GBP", stage=stage(pipeline, "Proposal")),
        _deal(rep, pipeline, "999.99", "USD", probability=10),
    ]
    assert extra
    forecasting.take_snapshot(taken_on=TODAY, ranges=False)
    deals = list(Opportunity.objects.select_related("stage"))
    open_total = won_total = weighted = Decimal(0)
    for d in deals:
        amount = conversion.deal_in_reporting(d, on=TODAY)
        if d.is_open:
            open_total += amount
            weighted += amount * d.effective_probability / 100
        elif d.stage.is_won:
            won_total += amount
    rows = ForecastSnapshot.objects.filter(taken_on=TODAY, owner=rep)
    assert sum(r.open_amount for r in rows) == open_total
    assert sum(r.won_amount for r in rows) == won_total
    assert sum(r.weighted_amount for r in rows) == weighted.quantize(Decimal("0.01"))
    # hand check: open 1,250 + 400 + 500 + 416.66 (333.33 × 1.25) + 164.60 + 999.99
    assert open_total == Decimal("3731.25")
    assert won_total == Decimal("1340.00")


# --- a missing rate -----------------------------------------------------------------------


@pytest.fixture
def chf_deal(frozen, rates, rep, pipeline):
    return _deal(rep, pipeline, "700", "CHF")


def test_conversion_missing_rate_is_named_never_zero(chf_deal, rep, pipeline):
    _deal(rep, pipeline, "100")
    assert _state(TODAY)[chf_deal.name] is None
    missing = conversion.missing_rates(Opportunity.objects.all(), on=TODAY)
    assert [(m.currency, m.deals, m.since) for m in missing] == [("CHF", 1, TODAY)]
    assert "no CHF exchange rate" in missing[0].message


def test_conversion_missing_rate_of_a_closed_deal_before_the_first_rate(
    frozen, rates, rep, pipeline
):
    old = _won(_deal(rep, pipeline, "100", "EUR"), rep, D(2025, 12, 20))
    missing = conversion.missing_rates(Opportunity.objects.all(), on=TODAY)
    assert [(m.currency, m.deals, m.since) for m in missing] == [("EUR", 1, D(2025, 12, 20))]
    assert _state(TODAY)[old.name] is None


def test_conversion_missing_rate_warns_on_the_board_and_dashboard(client, chf_deal, manager):
    client.force_login(manager)
    page = client.get(BOARD).content.decode()
    assert "1 deal in CHF left out of the totals in USD" in page
    assert "(no CHF rate)" in page
    dash = client.get(reverse("forecasting:dashboard")).content.decode()
    assert "1 deal in CHF left out of the totals in USD" in dash


def test_conversion_missing_rate_is_logged_by_the_snapshot(chf_deal, caplog):
    with caplog.at_level(logging.WARNING, logger="forecasting.services"):
        forecasting.take_snapshot(taken_on=TODAY)
    assert any("no CHF exchange rate" in r.getMessage() for r in caplog.records)
    row = ForecastSnapshot.objects.get(taken_on=TODAY)
    assert row.open_count == 1 and row.open_amount == Decimal("0.00")


# --- the board ------------------------------------------------------------------------------


def test_conversion_board_totals_in_the_reporting_currency(client, world, manager, pipeline):
    client.force_login(manager)
    page = client.get(BOARD).content.decode()
    first = pipeline.first_open_stage()
    totals = page.split(f'id="totals-{first.pk}"')[1].split("</p>")[0]
    assert "$2k" in totals and "$215" in totals
    # 1,250 + 400 + 500 open in the first stage, 10 % weighted
    board = board_for(user=manager, params={})
    column = next(c for c in board.columns if c.stage == first)
    assert (column.count, column.total, column.weighted) == (3, Decimal("2150"), Decimal("215"))
    assert board.missing_rates == []
    assert "€1,000 ≈ $1,250" in page
    assert "£300 ≈ $400" in page
    assert "in USD" in page


# One UNION ALL of the cards on PostgreSQL; one query per open stage (four) elsewhere.
BOARD_BUDGET = 15 if connection.vendor == "postgresql" else 18


def test_conversion_board_query_budget_with_mixed_currencies(
    client, frozen, rates, rep, rep2, manager, pipeline, django_assert_max_num_queries
):
    codes = ["USD", "EUR", "GBP", "CHF"]
    for i in range(12):
        _deal([rep, rep2][i % 2], pipeline, 1000 + i, codes[i % 4])
    client.force_login(manager)
    with django_assert_max_num_queries(BOARD_BUDGET):
        assert client.get(BOARD).status_code == 200
    for i in range(60):
        _deal([rep, rep2][i % 2], pipeline, 2000 + i, codes[i % 4])
    with django_assert_max_num_queries(BOARD_BUDGET):
        assert client.get(BOARD).status_code == 200


# --- the deal form, pages and line items --------------------------------------------------


def test_conversion_deal_form_offers_currencies_and_creates_in_euros(client, rates, rep, pipeline):
    client.force_login(rep)
    page = client.get(reverse("pipeline:opportunity_create")).content.decode()
    for code in ("USD", "EUR", "GBP"):
        assert f'<option value="{code}"' in page
    response = client.post(
        reverse("pipeline:opportunity_create"),
        {
            "name": "Euro deal",
            "owner": rep.pk,
            "pipeline": pipeline.pk,
            "amount": "1000",
            "currency": "EUR",
            "expected_close_date": "2026-06-30",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    deal = Opportunity.objects.get(name="Euro deal")
    assert deal.currency == "EUR"
    detail = client.get(deal.get_absolute_url()).content.decode()
    # Whole units, as on the board's cards and for deals in the reporting currency.
    assert "€1,000 ≈ $1,250" in detail
    listing = client.get(reverse("pipeline:opportunity_list")).content.decode()
    assert "€1,000 ≈ $1,250" in listing


def test_conversion_line_items_take_the_price_list_of_the_deal_currency(rep, pipeline):
    product = Product.objects.create(name="CRM Pro", code="CRM-PRO")
    ProductPrice.objects.create(product=product, currency="USD", unit_price=Decimal("1200"))
    ProductPrice.objects.create(product=product, currency="EUR", unit_price=Decimal("1100"))
    deal = _deal(rep, pipeline, "0", "EUR")
    line = services.add_line_item(
        opportunity=deal, by=rep, version=current_version(deal), product=product, quantity="2"
    )
    assert line.unit_price == Decimal("1100") and line.total == Decimal("2200.00")
    assert Opportunity.objects.get(pk=deal.pk).amount == Decimal("2200.00")
    with pytest.raises(ValidationError) as e:
        services.update_opportunity(
            opportunity=deal, by=rep, version=current_version(deal), currency="USD"
        )
    assert "remove them before changing its currency" in str(e.value)
    assert Opportunity.objects.get(pk=deal.pk).currency == "EUR"


def test_conversion_unknown_currency_is_refused(rep, pipeline):
    with pytest.raises(ValidationError) as e:
        _deal(rep, pipeline, "10", "XYZ")
    assert "ISO 4217" in str(e.value)
    assert not Opportunity.objects.exists()


def test_conversion_currency_change_is_in_the_field_history(rep, pipeline):
    deal = _deal(rep, pipeline, "10")
    services.update_opportunity(
        opportunity=deal, by=rep, version=current_version(deal), currency="eur"
    )
    assert list(
        Opportunity.history.filter(id=deal.pk)
        .order_by("history_date")
        .values_list("currency", flat=True)
    ) == ["USD", "EUR"]


def test_conversion_missing_rates_by_first_rate_dates(frozen, rates, rep, pipeline):
    """A deal lacks a rate when its currency has none on or before its date: an open deal
    when the as-of date is before the currency's first rate, a closed deal when its closed
    date is; a currency with no rate at all always. Counted as a lookup per deal would."""
    early_gbp = _won(_deal(rep, pipeline, "100", "GBP"), rep, D(2026, 1, 20))
    _won(_deal(rep, pipeline, "200", "GBP"), rep, D(2026, 2, 5))
    _deal(rep, pipeline, "300", "GBP")
    _deal(rep, pipeline, "400", "EUR")
    _deal(rep, pipeline, "500", "CHF")
    _won(_deal(rep, pipeline, "600", "CHF"), rep, D(2026, 2, 1))
    _deal(rep, pipeline, "700")
    # Currencies without rates before, between and after the rated ones and the reporting one.
    _deal(rep, pipeline, "800", "AUD")
    _won(_deal(rep, pipeline, "900", "JPY"), rep, D(2026, 2, 1))
    _deal(rep, pipeline, "1000", "ZAR")

    def brute(on):
        out = {}
        for deal in Opportunity.objects.select_related("stage").exclude(currency="USD"):
            day = on if deal.stage.kind == "open" else (deal.closed_on or deal.expected_close_date)
            if not ExchangeRate.objects.filter(currency=deal.currency, on_date__lte=day).exists():
                n, since = out.get(deal.currency, (0, day))
                out[deal.currency] = (n + 1, min(since, day))
        return sorted((c, n, since) for c, (n, since) in out.items())

    for on in (TODAY, D(2026, 1, 25), D(2025, 12, 1)):
        got = [(m.currency, m.deals, m.since) for m in conversion.missing_rates(
            Opportunity.objects.all(), on=on)]  # fmt: skip
        assert got == brute(on), on
    assert [(m.currency, m.deals) for m in conversion.missing_rates(
        Opportunity.objects.all(), on=TODAY)] == [  # fmt: skip
        ("AUD", 1), ("CHF", 2), ("GBP", 1), ("JPY", 1), ("ZAR", 1)]  # fmt: skip
    assert [(m.currency, m.deals, m.since) for m in conversion.missing_rates(
        Opportunity.objects.all(), on=D(2026, 1, 25))] == [  # fmt: skip
        ("AUD", 1, D(2026, 1, 25)), ("CHF", 2, D(2026, 1, 25)), ("GBP", 2, D(2026, 1, 20)),
        ("JPY", 1, D(2026, 2, 1)), ("ZAR", 1, D(2026, 1, 25))]  # fmt: skip
    assert early_gbp.closed_on == D(2026, 1, 20)
