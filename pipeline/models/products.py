"""What is sold: the product catalogue and its price list (a unit price per currency)."""

from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q

from pipeline.currency import validate_currency
from pipeline.models.stages import MONEY


class Product(models.Model):
    """A product or service in the catalogue. An inactive product is no longer offered on new
    line items; deals that already sell it keep it."""

    name = models.CharField(max_length=200, help_text="The name reps and customers know it by.")
    code = models.CharField(
        max_length=50,
        unique=True,
        help_text="A short unique code (SKU), e.g. CRM-PRO-Y; used in imports and reports.",
    )
    category = models.CharField(
        max_length=100,
        blank=True,
        help_text="A group for reports, e.g. Subscriptions, Services, Hardware.",
    )
    description = models.TextField(blank=True)
    is_active = models.BooleanField(
        "active",
        default=True,
        help_text="Untick to stop offering it on new line items; existing deals keep it.",
    )

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["category", "name"])]

    def __str__(self):
        return f"{self.name} ({self.code})"


class ProductPrice(models.Model):
    """The list price of a product in one currency: the default unit price of a new line item
    on a deal in that currency."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="prices")
    currency = models.CharField(
        max_length=3,
        validators=[validate_currency],
        help_text="ISO 4217 code, e.g. EUR, GBP, USD.",
    )
    unit_price = models.DecimalField(
        **MONEY,
        validators=[MinValueValidator(Decimal("0"))],
        help_text="List price of one unit in this currency, before discount.",
    )

    class Meta:
        ordering = ["product", "currency"]
        constraints = [
            models.UniqueConstraint(
                fields=["product", "currency"], name="product_price_one_per_currency"
            ),
            models.CheckConstraint(
                condition=Q(unit_price__gte=0), name="product_price_unit_price_gte_0"
            ),
        ]

    def __str__(self):
        return f"{self.product.code} {self.currency} {self.unit_price}"
