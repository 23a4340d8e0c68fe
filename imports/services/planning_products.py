"""Planning a deal row's product: the line item it sells, by the pipeline's line-item rules.

A row may name one product (by code, else by name, case aside) with a quantity, a unit price
and a discount. The deal's amount is then the line's total (``pipeline.services.line_items``:
quantity × unit price less the discount, rounded half-up to the currency's decimals). The
unit price is, in this order: the file's unit price; the file's amount divided by the
quantity (a negotiated price: the deal keeps its value); the product's list price in the
deal's currency. An unknown or no longer offered product refuses the row, as does an amount
that is not the line's total.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import ValidationError

from imports import parsing
from imports.services.rows import Row
from pipeline.currency import reporting_currency
from pipeline.models import Product, ProductPrice
from pipeline.services.line_items import (
    line_total,
    parse_discount,
    parse_quantity,
)
from pipeline.services.validation import parse_money

CENT = Decimal("0.01")
LINE_KEYS = ("quantity", "unit_price", "discount_percent")


class ProductPlanning:
    """The product columns of :class:`imports.services.planning.Planner` (a mixin)."""

    def _prepare_products(self) -> None:
        self.sells_products = "product" in self.columns
        self.product_by_code: dict[str, Product] = {}
        self.product_by_name: dict[str, Product] = {}
        self.list_prices: dict[int, Decimal] = {}
        if not self.sells_products:
            return
        # A file has no currency column: imported deals are in the installation's reporting
        # currency (the deal model's default), so their list prices are that currency's.
        self.currency = reporting_currency()
        for product in Product.objects.all():
            self.product_by_code.setdefault(product.code.strip().casefold(), product)
            self.product_by_name.setdefault(product.name.strip().casefold(), product)
        prices = ProductPrice.objects.filter(currency=self.currency)
        self.list_prices = dict(prices.values_list("product_id", "unit_price"))

    def _product(self, row: Row) -> Product | None:
        value = parsing.text(row.raw("product"))
        if not value:
            return None
        key = value.casefold()
        product = self.product_by_code.get(key) or self.product_by_name.get(key)
        if product is None:
            row.error(
                "product",
                f"Unknown product “{value}”; use a product code or name from the catalogue "
                "(the Products page).",
            )
        elif not product.is_active:
            row.error("product", f"{product.name} is no longer offered; choose an active product.")
            return None
        return product

    def _line(self, row: Row, amount: Decimal | None) -> dict | None:
        """The row's line item (``product``, ``quantity``, ``unit_price``,
        ``discount_percent``, ``total``), or None without a product; errors go on the row."""
        if not self.sells_products:
            return None
        product = self._product(row)
        if product is None:
            for key in LINE_KEYS:
                if row.has(key) and parsing.text(row.raw(key)) and not row.errors:
                    row.error("product", "A quantity, unit price or discount needs a product.")
                    break
            return None
        quantity = self._line_value(row, "quantity", parse_quantity, Decimal("1"))
        discount = self._line_value(
            row, "discount_percent", lambda v: parse_discount(v.rstrip("%").strip()), Decimal("0")
        )
        unit_price = None
        if row.has("unit_price"):
            unit_price = row.get("unit_price", parsing.parse_money)
        if quantity is None or discount is None or row.errors:
            return None
        if unit_price is None and amount is not None:
            if discount == 100:
                row.error("discount_percent", "A line at 100% discount has no amount to keep.")
                return None
            gross = amount * 100 / (100 - discount)
            unit_price = (gross / quantity).quantize(CENT, rounding=ROUND_HALF_UP)
        if unit_price is None:
            unit_price = self.list_prices.get(product.pk)
            if unit_price is None:
                row.error(
                    "product",
                    f"{product.name} has no list price in {self.currency}; give a unit price "
                    "column or the amount.",
                )
                return None
        try:
            total = parse_money(line_total(quantity, unit_price, discount, self.currency))
        except ValidationError as e:
            row.error("unit_price", " ".join(e.messages))
            return None
        if amount is not None and total != amount:
            row.error(
                "amount",
                f"The amount is not the product line's total ({quantity} × {unit_price}"
                + (f" less {discount}%" if discount else "")
                + f" = {total}); a deal with a product is worth its line. Leave the amount "
                "empty or correct it.",
            )
            return None
        return {
            "product": product,
            "quantity": quantity,
            "unit_price": unit_price,
            "discount_percent": discount,
            "total": total,
        }

    def _line_value(self, row: Row, key: str, parse, default):
        raw = parsing.text(row.raw(key)) if row.has(key) else ""
        if not raw:
            return default
        try:
            return parse(raw)
        except ValidationError as e:
            row.error(key, " ".join(e.messages))
            return None

    def _same_line(self, deal, line: dict, row: Row) -> bool:
        """Whether an existing deal already sells exactly the row's line; a deal with other
        products refuses the row (an import adds products to the deals it creates only)."""
        lines = list(deal.line_items.all())
        if (
            len(lines) == 1
            and all(
                getattr(lines[0], key) == line[key] for key in ("quantity", "unit_price", "total")
            )
            and lines[0].product_id == line["product"].pk
            and (lines[0].discount_percent == line["discount_percent"])
        ):
            return True
        row.error(
            "product",
            f"“{deal.name}” sells other products than this row; change its products on the "
            "deal's page.",
        )
        return False
