"""Line items: the products a deal sells, with quantity, unit price and discount. When a deal
has line items its amount is their sum, kept by ``pipeline.services.line_items``."""

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from pipeline.models.opportunities import Opportunity
from pipeline.models.products import Product
from pipeline.models.stages import MONEY

QUANTITY = {"max_digits": 12, "decimal_places": 2}
DISCOUNT = {"max_digits": 5, "decimal_places": 2}


class LineItem(models.Model):
    """One product on a deal. ``total`` is quantity × unit price less the discount, rounded
    half-up to the currency's decimals; it is stored so that sums and reports read it as is,
    and is written only by the line-item services."""

    opportunity = models.ForeignKey(
        Opportunity, on_delete=models.CASCADE, related_name="line_items"
    )
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="line_items")
    quantity = models.DecimalField(
        **QUANTITY, validators=[MinValueValidator(Decimal("0.01"))], default=Decimal("1")
    )
    unit_price = models.DecimalField(
        **MONEY,
        validators=[MinValueValidator(Decimal("0"))],
        help_text="Defaults to the product's list price in the deal's currency.",
    )
    discount_percent = models.DecimalField(
        **DISCOUNT,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
    )
    total = models.DecimalField(**MONEY)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["opportunity", "id"]
        indexes = [models.Index(fields=["product", "opportunity"])]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="line_item_quantity_gt_0"),
            models.CheckConstraint(
                condition=Q(unit_price__gte=0), name="line_item_unit_price_gte_0"
            ),
            models.CheckConstraint(
                condition=Q(discount_percent__gte=0, discount_percent__lte=100),
                name="line_item_discount_0_100",
            ),
            models.CheckConstraint(condition=Q(total__gte=0), name="line_item_total_gte_0"),
        ]

    def __str__(self):
        return f"{self.quantity} × {self.product.name}"
