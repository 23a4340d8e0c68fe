"""The products report (won revenue, pipeline and win rate by product and category, in the
reporting currency), the product filter on the reports, the deal list and the board, and the
scorecards' deal size by product: every figure hand-computed."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from forecasting.reports import products as report
from forecasting.reports.scope import NO_PRODUCT, ReportScope
from pipeline import services
from pipeline.models import ExchangeRate, Product, ProductPrice
from pipeline.selectors.board import board_for
from tests.factories import OpportunityFactory, current_version

NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)
D = dt.date
URL = reverse("forecasting:report_products")


@pytest.fixture
def world(rep, manager, pipeline, lost_reason):
    """Products: A (Subscriptions, 100 in USD and EUR), B (Services, 50 USD, 10 GBP).
    EUR 1.20 from Feb 1; GBP 1.33333333 from Feb 1.

    D1 USD won Mar 2: 2 × A + 1 × B          = 250 (A 200, B 50)
    D2 EUR won Feb 10: 1 × A = €100          → $120
    D3 USD lost Mar 3: 1 × A                 = 100
    D4 GBP open: 3 × B = £30                 → $40
    D5 USD open, no products                 = 500
    D6 USD won Mar 4, no products            = 300
    """
    with time_machine.travel(NOW, tick=False):
        ExchangeRate.objects.create(currency="EUR", on_date=D(2026, 2, 1), rate=Decimal("1.2"))
        ExchangeRate.objects.create(
            currency="GBP", on_date=D(2026, 2, 1), rate=Decimal("1.33333333")
        )
        a = Product.objects.create(name="Alpha", code="A", category="Subscriptions")
        b = Product.objects.create(name="Beta", code="B", category="Services")
        for product, code, price in ((a, "USD", 100), (a, "EUR", 100), (b, "USD", 50)):
            ProductPrice.objects.create(product=product, currency=code, unit_price=price)
        ProductPrice.objects.create(product=b, currency="GBP", unit_price=10)

        def deal(currency, lines=(), amount="0"):
            d = OpportunityFactory(
                owner=rep, pipeline=pipeline, amount=Decimal(amount), currency=currency
            )
            for product, qty in lines:
                services.add_line_item(
                    opportunity=d,
                    by=rep,
                    version=current_version(d),
                    product=product,
                    quantity=qty,
                )
            return d

        def won(d, on):
            return services.close_won(
                opportunity=d, by=rep, version=current_version(d), closed_on=on
            )

        made = {
            "D1": won(deal("USD", [(a, 2), (b, 1)]), D(2026, 3, 2)),
            "D2": won(deal("EUR", [(a, 1)]), D(2026, 2, 10)),
            "D3": deal("USD", [(a, 1)]),
            "D4": deal("GBP", [(b, 3)]),
            "D5": deal("USD", amount="500"),
            "D6": won(deal("USD", amount="300"), D(2026, 3, 4)),
        }
        made["D3"] = services.close_lost(
            opportunity=made["D3"],
            by=rep,
            version=current_version(made["D3"]),
            lost_reason=lost_reason,
            closed_on=D(2026, 3, 3),
        )
        yield {"a": a, "b": b, **made}


def _scope(user, **kw):
    return ReportScope(user=user, start=D(2025, 4, 1), end=D(2026, 3, 10), now=NOW, **kw)


def _figures(rows):
    keys = ("won_amount", "won", "lost", "win_rate", "avg_won", "open_amount", "open")
    return {r["group"]: tuple(r[k] for k in keys) for r in rows}


def test_products_report_by_product_hand_computed(world, manager):
    with time_machine.travel(NOW, tick=False):
        rows = report.products(_scope(manager)).table.rows
    assert _figures(rows) == {
        "Alpha": (Decimal("320.00"), 2, 1, Decimal(200) / 3, Decimal("160"), Decimal(0), 0),
        "Beta": (Decimal("50.00"), 1, 0, Decimal(100), Decimal("50"), Decimal("40.00"), 1),
        "No products": (Decimal("300.00"), 1, 0, Decimal(100), Decimal(300), Decimal(500), 1),
    }
    assert [r["group"] for r in rows] == ["Alpha", "Beta", "No products"]
    assert rows[0]["category"] == "Subscriptions" and rows[0]["code"] == "A"


def test_products_report_by_category_hand_computed(world, manager):
    with time_machine.travel(NOW, tick=False):
        rows = report.products(_scope(manager), group="category").table.rows
    assert _figures(rows)["Subscriptions"][:3] == (Decimal("320.00"), 2, 1)
    assert _figures(rows)["Services"][5:] == (Decimal("40.00"), 1)


def test_products_report_product_filter(world, manager):
    with time_machine.travel(NOW, tick=False):
        only_b = report.products(_scope(manager, product=world["b"])).table.rows
        none = report.products(_scope(manager, product=NO_PRODUCT)).table.rows
    # Deals selling Beta are D1 and D4: what they sell, Alpha included (D1's 2 × A).
    assert _figures(only_b)["Beta"][:3] == (Decimal("50.00"), 1, 0)
    assert _figures(only_b)["Alpha"][:3] == (Decimal("200.00"), 1, 0)
    assert "No products" not in _figures(only_b)
    assert list(_figures(none)) == ["No products"]


def test_products_report_empty_range(world, manager):
    with time_machine.travel(NOW, tick=False):
        scope = ReportScope(user=manager, start=D(2024, 1, 1), end=D(2024, 2, 1), now=NOW)
        rows = report.products(scope).table.rows
    # Nothing closed in the range; the open pipeline is now, whatever the range.
    assert _figures(rows)["Beta"] == (Decimal(0), 0, 0, None, None, Decimal("40.00"), 1)


def test_products_report_rep_sees_only_their_deals(world, rep2):
    with time_machine.travel(NOW, tick=False):
        assert report.products(_scope(rep2)).table.rows == []


def test_products_report_page_links_and_csv(client, world, manager):
    client.force_login(manager)
    with time_machine.travel(NOW, tick=False):
        page = client.get(URL, {"start": "2025-04-01", "end": "2026-03-10"})
        assert page.status_code == 200
        html = page.content.decode()
        assert "Alpha" in html and "$320" in html and "No products" in html
        csv = client.get(
            URL, {"start": "2025-04-01", "end": "2026-03-10", "export": "csv"}
        ).content.decode()
        assert "Alpha,A,Subscriptions,320.00,2,1,66.7,160.00,0.00,0" in csv
        # The drill-down behind Alpha's won revenue lists D1 and D2, converted.
        link = reverse("forecasting:report_deals")
        drill = client.get(
            link,
            {"start": "2025-04-01", "end": "2026-03-10", "kind": "won", "product": world["a"].pk},
        ).content.decode()
        assert world["D1"].name in drill and world["D2"].name in drill
        assert world["D6"].name not in drill
        bad = client.get(URL, {"product": "999999"})
        assert bad.status_code == 200 and "Select a valid choice" in bad.content.decode()


def test_products_scorecards_deal_size_by_product(client, world, manager):
    client.force_login(manager)
    with time_machine.travel(NOW, tick=False):
        table = report.deal_size_table(_scope(manager))
        html = client.get(
            reverse("forecasting:report_scorecards"), {"start": "2025-04-01", "end": "2026-03-10"}
        ).content.decode()
    assert [(r["group"], r["won"], r["won_amount"], r["avg_won"]) for r in table.rows] == [
        ("Alpha", 2, Decimal("320.00"), Decimal("160")),
        ("Beta", 1, Decimal("50.00"), Decimal("50")),
    ]
    assert "Deal size by product" in html


def test_products_filter_on_the_deal_list_and_the_board(client, world, manager):
    client.force_login(manager)
    with time_machine.travel(NOW, tick=False):
        listing = client.get(
            reverse("pipeline:opportunity_list"), {"product": world["a"].pk, "status": "closed"}
        ).content.decode()
        board = board_for(user=manager, params={"product": str(world["b"].pk)})
        page = client.get(reverse("pipeline:board"), {"product": world["b"].pk})
    for name in ("D1", "D2", "D3"):
        assert world[name].name in listing
    for name in ("D4", "D5", "D6"):
        assert world[name].name not in listing
    assert board.count == 1 and board.total == Decimal("40.00")
    assert world["D4"].name in page.content.decode()
    assert world["D5"].name not in page.content.decode()


def test_products_report_names_the_best_win_rate_in_the_one_percent_style(world, rep, pipeline):
    with time_machine.travel(NOW, tick=False):
        for day in (5, 6):  # Beta: 3 won of 3 closed, against Alpha's 2 of 3
            d = OpportunityFactory(owner=rep, pipeline=pipeline, currency="USD")
            services.add_line_item(
                opportunity=d, by=rep, version=current_version(d), product=world["b"], quantity=1
            )
            services.close_won(
                opportunity=d, by=rep, version=current_version(d), closed_on=D(2026, 3, day)
            )
        findings = report.products(_scope(rep)).findings
    assert "Beta has the highest win rate: 100.0%." in findings
