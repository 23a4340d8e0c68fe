"""Amounts in forms read as on the pages: "64,700" (cents only when there are some), and what
a user types with separators or a currency sign is read back as the same amount."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from pipeline.currency import input_amount, read_amount
from pipeline.forms.money import MoneyField
from tests.factories import OpportunityFactory


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (Decimal("64700.00"), "64,700"),
        (Decimal("64700.5"), "64,700.50"),
        (Decimal("0"), "0"),
        (None, ""),
        ("12x", "12x"),  # a refused input is shown as it was typed
        ("NaN", "NaN"),
    ],
)
def test_an_amount_is_shown_grouped_with_cents_only_when_there_are_some(value, shown):
    assert input_amount(value) == shown


@pytest.mark.parametrize("typed", ["64700", "64,700", "$64,700", " 64 700 ", "64,700.00"])
def test_what_a_user_types_is_read_back(typed):
    assert MoneyField(max_digits=14, decimal_places=2).clean(typed) == Decimal("64700")
    assert read_amount("€1,250.50") == "1250.50"


def test_a_typed_value_is_shown_again_as_typed():
    from pipeline.forms.money import MoneyInput

    assert MoneyInput().format_value("12.345") == "12.345"  # not rounded behind the user's back
    assert MoneyInput().format_value(Decimal("12345.60")) == "12,345.60"


def test_a_word_is_refused_with_a_message():
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="Enter a number"):
        MoneyField(max_digits=14, decimal_places=2).clean("lots")


def test_the_deal_form_shows_and_saves_the_amount_as_the_page_writes_it(client, rep, pipeline):
    deal = OpportunityFactory(owner=rep, pipeline=pipeline, amount=Decimal("64700.00"))
    client.force_login(rep)
    body = client.get(reverse("pipeline:opportunity_edit", args=[deal.pk])).content.decode()
    (field,) = re.findall(r'<input [^>]*id="id_amount"[^>]*>', body)
    assert 'value="64,700"' in field and 'inputmode="decimal"' in field
    response = client.post(
        reverse("pipeline:opportunity_edit", args=[deal.pk]),
        {**_posted(body), "amount": "$72,500"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    deal.refresh_from_db()
    assert deal.amount == Decimal("72500")


def _posted(body: str) -> dict:
    """The edit form's fields as the browser would send them."""
    from html import unescape

    data = {}
    for tag in re.findall(r"<input [^>]*>", body):
        name = re.search(r'name="([^"]+)"', tag)
        if name and 'type="checkbox"' not in tag:
            value = re.search(r'value="([^"]*)"', tag)
            data[name.group(1)] = unescape(value.group(1)) if value else ""
    for name, inner in re.findall(r'<select [^>]*name="([^"]+)"[^>]*>(.*?)</select>', body, re.S):
        chosen = re.search(r'<option value="([^"]*)"[^>]*selected', inner)
        data[name] = chosen.group(1) if chosen else ""
    for name, text in re.findall(
        r'<textarea [^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', body, re.S
    ):
        data[name] = unescape(text.strip())
    return data


def test_a_line_items_unit_price_is_shown_grouped_and_read_back(client, rep, pipeline):
    from pipeline import services
    from pipeline.models import LineItem, Product, ProductPrice
    from tests.factories import current_version

    product = Product.objects.create(name="CRM Pro", code="CRM-PRO")
    ProductPrice.objects.create(product=product, currency="USD", unit_price=Decimal("1200.00"))
    deal = OpportunityFactory(owner=rep, pipeline=pipeline)
    line = services.add_line_item(
        opportunity=deal, by=rep, version=current_version(deal), product=product
    )
    client.force_login(rep)
    body = client.get(deal.get_absolute_url()).content.decode()
    (price,) = re.findall(rf'<input id="p-{line.pk}"[^>]*>', body)
    assert 'value="1,200"' in price
    response = client.post(
        reverse("pipeline:opportunity_lines", args=[deal.pk]),
        {
            "action": "save", "line": line.pk, "version": current_version(deal),
            "quantity": "1", "unit_price": "$1,350", "discount_percent": "0",
        },
    )  # fmt: skip
    assert response.status_code in (200, 302), response.content.decode()[:500]
    assert LineItem.objects.get(pk=line.pk).unit_price == Decimal("1350")
