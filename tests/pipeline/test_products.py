"""The product catalogue: a price list of one unit price per currency, maintained by admins in
Django admin, read by everyone on the product list."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from pipeline.models import Product, ProductPrice
from pipeline.templatetags.opportune import money_in


@pytest.fixture
def catalogue(db):
    pro = Product.objects.create(name="CRM Pro", code="CRM-PRO", category="Subscriptions")
    ProductPrice.objects.create(product=pro, currency="EUR", unit_price=Decimal("1200.00"))
    ProductPrice.objects.create(product=pro, currency="USD", unit_price=Decimal("1300.00"))
    onboarding = Product.objects.create(name="Onboarding", code="SVC-ONB", category="Services")
    old = Product.objects.create(name="Legacy box", code="HW-OLD", is_active=False)
    return {"pro": pro, "onboarding": onboarding, "old": old}


def test_one_price_per_product_and_currency(catalogue):
    with pytest.raises(IntegrityError), transaction.atomic():
        ProductPrice.objects.create(
            product=catalogue["pro"], currency="EUR", unit_price=Decimal("1")
        )


def test_a_price_needs_a_real_currency_code(catalogue):
    price = ProductPrice(product=catalogue["onboarding"], currency="EUX", unit_price=Decimal("5"))
    with pytest.raises(Exception, match="not an ISO 4217 currency code"):
        price.full_clean()


def test_money_in_formats_each_currency_with_its_symbol_and_decimals():
    assert money_in(Decimal("1234.5"), "EUR") == "€1,234.50"
    assert money_in(Decimal("1234.5"), "GBP") == "£1,234.50"
    assert money_in(Decimal("1234.5"), "JPY") == "¥1,235"
    assert money_in(None, "EUR") == "—"


def test_everyone_reads_the_active_catalogue_with_its_prices(client, rep, catalogue):
    client.force_login(rep)
    response = client.get(reverse("pipeline:product_list"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "CRM Pro" in html and "€1,200.00" in html and "$1,300.00" in html
    assert "Onboarding" in html and "No list price" in html
    assert "Legacy box" not in html
    assert 'href="/products/"' in html or reverse("pipeline:product_list") in html
    assert "Manage the catalogue" not in html


def test_inactive_products_are_listed_on_request_and_search_finds_codes(client, rep, catalogue):
    client.force_login(rep)
    url = reverse("pipeline:product_list")
    html = client.get(url, {"inactive": "on"}).content.decode()
    assert "Legacy box" in html and "Inactive" in html
    html = client.get(url, {"q": "svc-"}).content.decode()
    assert "Onboarding" in html and "CRM Pro" not in html
    html = client.get(url, {"category": "Subscriptions"}).content.decode()
    assert "CRM Pro" in html and "Onboarding" not in html


def test_product_list_query_count_does_not_grow_with_products(
    client, rep, catalogue, django_assert_max_num_queries
):
    for i in range(30):
        p = Product.objects.create(name=f"P{i}", code=f"P-{i}")
        ProductPrice.objects.create(product=p, currency="EUR", unit_price=Decimal(i))
    client.force_login(rep)
    with django_assert_max_num_queries(8):
        assert client.get(reverse("pipeline:product_list")).status_code == 200


def test_admin_maintains_the_catalogue_with_a_price_list(client, admin_user, catalogue):
    client.force_login(admin_user)
    assert client.get(reverse("admin:pipeline_product_changelist")).status_code == 200
    page = client.get(reverse("admin:pipeline_product_add")).content.decode()
    assert "A short unique code (SKU)" in page and "ISO 4217 code" in page
    response = client.post(
        reverse("admin:pipeline_product_add"),
        {
            "name": "Support plan",
            "code": "SUP-1",
            "category": "Services",
            "description": "",
            "is_active": "on",
            "prices-TOTAL_FORMS": "2",
            "prices-INITIAL_FORMS": "0",
            "prices-MIN_NUM_FORMS": "0",
            "prices-MAX_NUM_FORMS": "1000",
            "prices-0-currency": "GBP",
            "prices-0-unit_price": "99.50",
            "prices-1-currency": "",
            "prices-1-unit_price": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    product = Product.objects.get(code="SUP-1")
    assert list(product.prices.values_list("currency", "unit_price")) == [("GBP", Decimal("99.50"))]


def test_admin_catalogue_is_refused_to_reps(client, rep, catalogue):
    client.force_login(rep)
    response = client.get(reverse("admin:pipeline_product_changelist"))
    assert response.status_code == 302
