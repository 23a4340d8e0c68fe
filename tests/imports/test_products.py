"""The product column: a deal row may sell one product (by code or name) with a quantity, a
unit price and a discount; the deal's amount is the line's total, by the line-item rules."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from imports import services
from imports.mapping import auto_map
from pipeline.list_exports import deal_rows
from pipeline.models import LineItem, Opportunity, Product, ProductPrice
from tests.factories import stage

NOW = dt.datetime(2024, 6, 14, 15, 0, tzinfo=dt.UTC)
HEAD = "Deal,Stage,Account,Product,Qty,Unit price,Discount,Value\r\n"


def options(pipeline, lost_reason):
    return {
        "pipeline": pipeline.pk,
        "stage_map": {"Engaging": stage(pipeline, "Discovery").pk},
        "default_lost_reason": lost_reason.pk,
    }


@pytest.fixture(autouse=True)
def _frozen_now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def catalogue(db):
    pro = Product.objects.create(name="CRM Pro", code="CRM-PRO")
    ProductPrice.objects.create(product=pro, currency="USD", unit_price=Decimal("1200.00"))
    old = Product.objects.create(name="Legacy", code="OLD", is_active=False)
    ProductPrice.objects.create(product=old, currency="USD", unit_price=Decimal("10.00"))
    bare = Product.objects.create(name="Custom work", code="CUSTOM")
    return {"pro": pro, "old": old, "bare": bare}


def test_product_columns_are_detected_from_their_headers():
    columns = auto_map("deals", HEAD.strip().split(","))
    assert columns["product"] == "Product" and columns["quantity"] == "Qty"
    assert columns["unit_price"] == "Unit price" and columns["discount_percent"] == "Discount"
    assert columns["amount"] == "Value"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("cells", "line", "amount"),
    [
        # by code, list price, quantity 3 and 10 % off
        ("crm-pro,3,,10%,", ("3.00", "1200.00", "10.00"), "3240.00"),
        # by name; the file's unit price
        ("CRM pro,2,999.50,,", ("2.00", "999.50", "0.00"), "1999.00"),
        # the file's amount is a negotiated price: the deal keeps its value
        ('CRM-PRO,4,,,"$4,000.00"', ("4.00", "1000.00", "0.00"), "4000.00"),
        # no list price, but an amount
        ("CUSTOM,,,,750", ("1.00", "750.00", "0.00"), "750.00"),
    ],
)
def test_a_row_with_a_product_creates_its_line_and_the_amount_is_its_total(
    run_import, rep, pipeline, lost_reason, catalogue, cells, line, amount
):
    csv = HEAD + f"Big deal,Engaging,Acme,{cells}\r\n"
    batch = run_import(rep, "deals", csv, **options(pipeline, lost_reason))
    assert batch.status == "done", batch.errors
    deal = Opportunity.objects.get()
    item = LineItem.objects.get(opportunity=deal)
    assert (str(item.quantity), str(item.unit_price), str(item.discount_percent)) == line
    assert deal.amount == item.total == Decimal(amount)
    assert deal.history.get().amount == Decimal(amount)  # the history starts at that amount
    services.undo(batch=batch, by=rep)
    assert not LineItem.objects.exists() and not Opportunity.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("cells", "column", "message"),
    [
        ("NOPE,1,,,", "Product", "Unknown product “NOPE”"),
        ("OLD,1,,,", "Product", "Legacy is no longer offered"),
        ("CUSTOM,1,,,", "Product", "Custom work has no list price in USD"),
        ("CRM-PRO,0,,,", "Qty", "The quantity must be more than zero"),
        ("CRM-PRO,1,,150,", "Discount", "Enter a discount from 0 to 100"),
        ("CRM-PRO,1,=A1,,", "Unit price", "A formula is not an amount"),
        ("CRM-PRO,2,100,,500", "Value", "is not the product line's total (2.00 × 100.00"),
        ("CRM-PRO,2,100,10,500", "Value", "(2.00 × 100.00 less 10.00% = 180.00)"),
        ("CRM-PRO,1,,100,500", "Discount", "A line at 100% discount has no amount to keep"),
        (",2,,,", "Product", "A quantity, unit price or discount needs a product"),
    ],
)
def test_a_bad_product_cell_refuses_the_row_with_a_clear_message(
    rep, pipeline, lost_reason, catalogue, cells, column, message
):
    csv = HEAD + f"Big deal,Engaging,Acme,{cells}\r\n"
    batch = services.create_batch(by=rep, kind="deals", file_name="d.csv", data=csv.encode())
    services.save_options(batch=batch, by=rep, options=options(pipeline, lost_reason))
    result = services.preview(batch=batch, by=rep)
    assert result.counts["refuse"] == 1
    error = result.errors[0]
    assert error.column == column and message in error.message, error.message


@pytest.mark.django_db
def test_export_then_reimport_of_a_deal_with_a_product_changes_nothing(
    run_import, rep, pipeline, lost_reason, catalogue, client
):
    csv = HEAD + "Big deal,Engaging,Acme,CRM-PRO,2,,,\r\n"
    run_import(rep, "deals", csv, **options(pipeline, lost_reason))
    rows = list(deal_rows(Opportunity.objects.all()))
    head, row = rows[0], dict(zip(rows[0], rows[1], strict=True))
    assert (row["Product"], row["Quantity"], row["Unit price"]) == (
        "CRM-PRO",
        Decimal("2.00"),
        Decimal("1200.00"),
    )
    exported = ",".join(head) + "\r\n" + ",".join(str(v) for v in rows[1]) + "\r\n"
    again = run_import(rep, "deals", exported, **options(pipeline, lost_reason))
    assert again.status == "done", again.errors
    assert again.counts["create"] == 0 and again.counts["skip"] == 1
    assert LineItem.objects.count() == 1
    changed = exported.replace("2400.00,CRM-PRO,2.00", ",CRM-PRO,5")
    batch = services.create_batch(by=rep, kind="deals", file_name="d.csv", data=changed.encode())
    services.save_options(batch=batch, by=rep, options=options(pipeline, lost_reason))
    result = services.preview(batch=batch, by=rep)
    assert "sells other products than this row" in result.errors[0].message
    client.force_login(rep)
    page = client.get(reverse("imports:template", args=["deals"]))
    assert b"Product,Quantity,Unit price,Discount %" in page.content
