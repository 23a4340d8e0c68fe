"""The demo's product catalogue and currencies: a few subscriptions, services and support
plans priced in the installation's currency and in two other currencies, daily exchange
rates for those over the whole seeded history, and the line items the seeded deals sell, so
the demo shows products, price lists and conversion from the first run.

Everything here is deterministic for a seed; it draws from its own random generator so the
rest of the demo (stages, dates, activities) is the same with or without it.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from decimal import Decimal

from pipeline.currency import round_money
from pipeline.models import ExchangeRate, Product, ProductPrice
from pipeline.services.line_items import line_total

DEMO_CATALOGUE = [
    ("CRM Pro, yearly seat", "CRM-PRO-Y", "Subscriptions", "1100.00"),
    ("CRM Team, yearly seat", "CRM-TEAM-Y", "Subscriptions", "600.00"),
    ("Analytics add-on, yearly", "ANL-Y", "Subscriptions", "2400.00"),
    ("Onboarding package", "SVC-ONB", "Services", "2300.00"),
    ("Data migration", "SVC-MIG", "Services", "4500.00"),
    ("Training day", "SVC-TRN", "Services", "1200.00"),
    ("Gold support, yearly", "SUP-GOLD", "Support", "300.00"),
    ("Platinum support, yearly", "SUP-PLAT", "Support", "900.00"),
]
# Rough worth of one unit in US dollars: where the demo's rates start (demo data only; the
# application reads rates from ExchangeRate).
DEMO_WORTH = {"USD": 1.0, "EUR": 1.08, "GBP": 1.27}
# Daily rates over the whole seeded history (pipeline.demo.HISTORY_DAYS, 745) and a month more,
# so a snapshot or report of any seeded date finds every currency's rate.
RATE_DAYS = 780
FOREIGN_SHARE = 0.15  # of the deals created within the span of rates
LINE_SHARE = 0.75  # of all deals
DISCOUNTS = ("0", "0", "0", "5", "10", "15")


def demo_currencies(reporting: str) -> list[str]:
    """The two currencies besides the reporting one that the demo sells in."""
    return [c for c in DEMO_WORTH if c != reporting][:2]


def list_price(price_in_reporting: Decimal, reporting: str, currency: str) -> Decimal:
    """A demo list price in ``currency``: the reporting price at the demo's worth, rounded to
    a whole ten."""
    if currency == reporting:
        return price_in_reporting
    worth = DEMO_WORTH.get(reporting, 1.0) / DEMO_WORTH[currency]
    return Decimal(round(float(price_in_reporting) * worth, -1)).quantize(Decimal("0.01"))


def write_catalogue(currency: str, others: list[str] | tuple = ()) -> int:
    """Insert the catalogue's products (those whose code is not taken yet), each with its list
    price in ``currency`` and in each of ``others``; return how many were added."""
    taken = set(Product.objects.values_list("code", flat=True))
    rows = [row for row in DEMO_CATALOGUE if row[1] not in taken]
    products = Product.objects.bulk_create(
        Product(name=name, code=code, category=category) for name, code, category, _ in rows
    )
    ProductPrice.objects.bulk_create(
        ProductPrice(
            product=product, currency=code, unit_price=list_price(Decimal(price), currency, code)
        )
        for product, (*_, price) in zip(products, rows, strict=True)
        for code in (currency, *others)
    )
    return len(products)


def write_rates(*, reporting: str, currencies: list[str], today: dt.date, seed: int) -> int:
    """``RATE_DAYS`` of daily rates (ending ``today``) for each of ``currencies``: a gentle random
    walk around the demo's worth. Returns the number of rates written."""
    rng = random.Random(seed * 7919 + 13)
    rows = []
    first = today - dt.timedelta(days=RATE_DAYS - 1)
    for code in currencies:
        level = DEMO_WORTH[code] / DEMO_WORTH.get(reporting, 1.0)
        for d in range(RATE_DAYS):
            level *= math.exp(rng.gauss(0, 0.003))
            rate = Decimal(f"{level:.6f}")
            rows.append(
                ExchangeRate(currency=code, on_date=first + dt.timedelta(days=d), rate=rate)
            )
    # A rate already stored for a day (an earlier load) is kept.
    ExchangeRate.objects.bulk_create(rows, batch_size=2000, ignore_conflicts=True)
    return len(rows)


class DemoSales:
    """Chooses each seeded deal's currency and line items (from the catalogue's price list in
    that currency), with its own random generator."""

    def __init__(self, *, reporting: str, today: dt.date, seed: int):
        self.rng = random.Random(seed * 104729 + 7)
        self.reporting = reporting
        self.currencies = demo_currencies(reporting)
        self.first_rate = today - dt.timedelta(days=RATE_DAYS - 1)
        self.prices: dict[str, list[tuple[int, Decimal]]] = {}
        for product_id, code, price in ProductPrice.objects.filter(
            product__code__in=[row[1] for row in DEMO_CATALOGUE]
        ).values_list("product_id", "currency", "unit_price"):
            self.prices.setdefault(code, []).append((product_id, price))
        for rows in self.prices.values():
            rows.sort()

    def currency(self, created: dt.datetime) -> str:
        """A minority of the deals created within the span of rates are in another currency
        (so every past state of a deal has a rate)."""
        if (
            self.currencies
            and created.date() > self.first_rate
            and self.rng.random() < FOREIGN_SHARE
        ):
            return self.rng.choice(self.currencies)
        return self.reporting

    def lines(self, target: Decimal, currency: str) -> list[tuple] | None:
        """One to three line items near ``target`` (product id, quantity, unit price, discount,
        total), or None for a deal keeping its typed amount."""
        prices = self.prices.get(currency)
        if not prices or self.rng.random() >= LINE_SHARE:
            return None
        picks = self.rng.sample(prices, self.rng.choice([1, 2, 2, 3]))
        shares = [self.rng.uniform(0.5, 1.5) for _ in picks]
        out = []
        for (product_id, price), share in zip(picks, shares, strict=True):
            part = float(target) * share / sum(shares)
            qty = Decimal(max(1, round(part / float(price))))
            discount = Decimal(self.rng.choice(DISCOUNTS))
            total = line_total(qty, price, discount, currency)
            out.append((product_id, qty, price, discount, round_money(total, currency)))
        return out
