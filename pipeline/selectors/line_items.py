"""What the deal page shows of a deal's line items and the products it can add."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from accounts import visibility
from pipeline.currency import input_amount
from pipeline.models import LineItem, Opportunity, Product, ProductPrice
from pipeline.services.line_items import deal_currency


def addable_products(currency: str) -> QuerySet[Product]:
    """Active products, each with its list price in ``currency`` prefetched."""
    return (
        Product.objects.filter(is_active=True)
        .only("name", "code")
        .order_by("name", "id")
        .prefetch_related(
            Prefetch("prices", queryset=ProductPrice.objects.filter(currency=currency))
        )
    )


def lines_context(*, user, opportunity: Opportunity, form=None, error_line=None) -> dict:
    """The line rows (posted values kept on the row that failed), the add form and whether
    the user may edit them."""
    currency = deal_currency(opportunity)
    lines = list(
        LineItem.objects.filter(opportunity=opportunity).select_related("product").order_by("id")
    )
    rows = []
    for line in lines:
        row = {
            "line": line,
            "quantity": line.quantity.normalize() if line.quantity else line.quantity,
            "unit_price": input_amount(line.unit_price),
            "discount_percent": line.discount_percent.normalize(),
            "errors": [],
        }
        if form is not None and error_line == line.pk:
            row.update(
                {k: form.data.get(k, "") for k in ("quantity", "unit_price", "discount_percent")}
            )
            row["errors"] = [m for msgs in form.errors.values() for m in msgs]
        rows.append(row)
    adding = form is not None and error_line == "new"
    return {
        "currency": currency,
        "line_rows": rows,
        "can_edit_lines": opportunity.is_open and visibility.can_edit(user, opportunity),
        "line_add": {
            "form": form if adding else None,
            "errors": [m for msgs in form.errors.values() for m in msgs] if adding else [],
            "product": form.data.get("product", "") if adding else "",
            "quantity": form.data.get("quantity", "1") if adding else "1",
            "unit_price": form.data.get("unit_price", "") if adding else "",
            "discount_percent": form.data.get("discount_percent", "") if adding else "",
        },
        "addable_products": addable_products(currency),
    }
