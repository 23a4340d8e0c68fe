"""Line items: add, change and remove the products a deal sells.

When a deal has line items its amount is their sum: each action here writes the line and the
deal's new amount in one transaction, with the amount's change in the field history and the
deal's version raised, so that two people editing the same deal's lines cannot both win. A
deal without line items keeps its typed amount; removing the last line leaves the amount as
it was, typed from then on.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import transaction

from pipeline import board_cache, events
from pipeline.currency import reporting_currency, round_money
from pipeline.models import LineItem, Opportunity, Product, ProductPrice
from pipeline.services.opportunities import _locked, _save_opportunity
from pipeline.services.validation import check_version, parse_money, require_edit

HUNDRED = Decimal(100)
MAX_QUANTITY = Decimal("1e10")


def deal_currency(opportunity: Opportunity) -> str:
    """The currency a deal's amount and line items are in."""
    return opportunity.currency or reporting_currency()


def line_total(
    quantity: Decimal, unit_price: Decimal, discount_percent: Decimal, currency
) -> Decimal:
    """quantity × unit price less the discount, rounded half-up to the currency's decimals
    (once, on the exact product)."""
    return round_money(quantity * unit_price * (HUNDRED - discount_percent) / HUNDRED, currency)


def parse_quantity(value) -> Decimal:
    if isinstance(value, float):
        raise ValidationError({"quantity": "Quantities are exact decimals."})
    try:
        q = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, TypeError, ValueError):
        raise ValidationError({"quantity": "Enter a quantity such as 1 or 2.5."}) from None
    if not q.is_finite() or q <= 0:
        raise ValidationError({"quantity": "The quantity must be more than zero."})
    if q.as_tuple().exponent < -2:
        raise ValidationError({"quantity": "Use at most two decimal places for the quantity."})
    if q >= MAX_QUANTITY:
        raise ValidationError({"quantity": "The quantity is too large."})
    return q.quantize(Decimal("0.01"))


def parse_discount(value) -> Decimal:
    if value is None or value == "":
        return Decimal("0.00")
    if isinstance(value, float):
        raise ValidationError({"discount_percent": "Discounts are exact decimals."})
    try:
        d = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, TypeError, ValueError):
        raise ValidationError(
            {"discount_percent": "Enter a discount from 0 to 100 (percent)."}
        ) from None
    if not d.is_finite() or not 0 <= d <= 100:
        raise ValidationError({"discount_percent": "Enter a discount from 0 to 100 (percent)."})
    if d.as_tuple().exponent < -2:
        raise ValidationError(
            {"discount_percent": "Use at most two decimal places for the discount."}
        )
    return d.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def list_price(product: Product, currency: str) -> Decimal | None:
    price = ProductPrice.objects.filter(product=product, currency=currency).first()
    return price.unit_price if price else None


def _editable_deal(opportunity_id: int, *, by, version) -> Opportunity:
    current = _locked(Opportunity(pk=opportunity_id))
    require_edit(by, current, "deal")
    check_version(current, version)
    if current.is_closed:
        raise ValidationError(
            "This deal is closed; its manager or an admin must reopen it before its products "
            "change."
        )
    return current


def _clean_line(current, *, quantity, unit_price, discount_percent) -> dict:
    errors = {}
    out = {}
    for field, parse, value in (
        ("quantity", parse_quantity, quantity),
        ("unit_price", lambda v: parse_money(v, "unit_price"), unit_price),
        ("discount_percent", parse_discount, discount_percent),
    ):
        try:
            out[field] = parse(value)
        except ValidationError as e:
            errors.update(e.message_dict)
    if errors:
        raise ValidationError(errors)
    out["total"] = line_total(
        out["quantity"], out["unit_price"], out["discount_percent"], deal_currency(current)
    )
    return out


def _resum(current: Opportunity, *, by) -> Opportunity:
    """Make the deal's amount the sum of its lines, raise its version and announce it."""
    # Summed here, not by the database: SQLite sums decimals as floats (7960.000000000001).
    totals = list(current.line_items.values_list("total", flat=True))
    total = sum(totals, Decimal("0")) if totals else None
    changed = total is not None and total != current.amount
    if changed:
        try:
            current.amount = parse_money(total)
        except ValidationError:
            raise ValidationError(
                "With this line the deal would exceed the largest amount (999,999,999,999.99); "
                "split it into several deals."
            ) from None
    current.version += 1
    _save_opportunity(current, by=by, tracked_changed=changed)
    events.deal_changed.send(
        sender=None, opportunity=current, by=by, fields=["amount"] if changed else []
    )
    board_cache.changed()
    return current


@transaction.atomic
def add_line_item(
    *,
    opportunity: Opportunity,
    by,
    version,
    product: Product | None,
    quantity=Decimal("1"),
    unit_price=None,
    discount_percent=None,
) -> LineItem:
    """Add a product to a deal. An empty unit price takes the product's list price in the
    deal's currency."""
    current = _editable_deal(opportunity.pk, by=by, version=version)
    if product is None:
        raise ValidationError({"product": "Choose a product."})
    if not product.is_active:
        raise ValidationError(
            {"product": f"{product.name} is no longer offered; choose an active product."}
        )
    if unit_price is None or unit_price == "":
        currency = deal_currency(current)
        unit_price = list_price(product, currency)
        if unit_price is None:
            raise ValidationError(
                {
                    "unit_price": f"{product.name} has no list price in {currency}; enter a unit "
                    "price."
                }
            )
    values = _clean_line(
        current, quantity=quantity, unit_price=unit_price, discount_percent=discount_percent
    )
    line = LineItem.objects.create(opportunity=current, product=product, **values)
    _resum(current, by=by)
    return line


@transaction.atomic
def update_line_item(
    *, line_item: LineItem, by, version, quantity, unit_price, discount_percent
) -> LineItem:
    """Change a line's quantity, unit price or discount (its product stays, even when it is no
    longer offered)."""
    current = _editable_deal(line_item.opportunity_id, by=by, version=version)
    line = LineItem.objects.select_for_update().filter(pk=line_item.pk, opportunity=current).first()
    if line is None:
        raise ValidationError("This line was removed by someone else; reload the deal.")
    values = _clean_line(
        current, quantity=quantity, unit_price=unit_price, discount_percent=discount_percent
    )
    if all(getattr(line, k) == v for k, v in values.items()):
        return line
    for key, value in values.items():
        setattr(line, key, value)
    line.save()
    _resum(current, by=by)
    return line


@transaction.atomic
def remove_line_item(*, line_item: LineItem, by, version) -> Opportunity:
    """Take a line off a deal. The amount becomes the sum of the lines left; with none left
    the deal keeps its amount as a typed one."""
    current = _editable_deal(line_item.opportunity_id, by=by, version=version)
    deleted, _ = LineItem.objects.filter(pk=line_item.pk, opportunity=current).delete()
    if not deleted:
        raise ValidationError("This line was removed by someone else; reload the deal.")
    return _resum(current, by=by)
