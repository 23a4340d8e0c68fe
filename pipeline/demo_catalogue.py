"""The demo's product catalogue: a few subscriptions, services and support plans priced in
the installation's currency, so a rep can build a deal from products from the first run.
The seeded deals keep their typed amounts."""

from __future__ import annotations

from decimal import Decimal

from pipeline.models import Product, ProductPrice

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


def write_catalogue(currency: str) -> int:
    """Insert the catalogue's products (those whose code is not taken yet), each with its list
    price in ``currency``; return how many were added."""
    taken = set(Product.objects.values_list("code", flat=True))
    rows = [row for row in DEMO_CATALOGUE if row[1] not in taken]
    products = Product.objects.bulk_create(
        Product(name=name, code=code, category=category) for name, code, category, _ in rows
    )
    ProductPrice.objects.bulk_create(
        ProductPrice(product=product, currency=currency, unit_price=Decimal(price))
        for product, (*_, price) in zip(products, rows, strict=True)
    )
    return len(products)
