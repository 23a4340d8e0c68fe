"""Dated exchange rates: what one unit of a currency is worth in the reporting currency
(``OPPORTUNE_CURRENCY``) on a day. The conversion rule that reads them is
``pipeline.conversion``."""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q

from pipeline.currency import reporting_currency, validate_currency

RATE = {"max_digits": 18, "decimal_places": 8}


class ExchangeRate(models.Model):
    """One rate per currency per day: ``rate`` units of the reporting currency buy one unit of
    ``currency`` on ``on_date``. A rate holds from its day until the next rate of the same
    currency (``pipeline.conversion``)."""

    currency = models.CharField(
        max_length=3,
        validators=[validate_currency],
        help_text="ISO 4217 code of the deal currency, e.g. EUR or GBP.",
    )
    on_date = models.DateField(
        "date", help_text="The day the rate is for; it holds until the next dated rate."
    )
    rate = models.DecimalField(
        **RATE,
        validators=[MinValueValidator(Decimal("0.00000001"))],
        help_text="Units of the reporting currency for one unit of this currency, e.g. 1.08.",
    )

    class Meta:
        ordering = ["currency", "-on_date"]
        constraints = [
            models.UniqueConstraint(
                fields=["currency", "on_date"], name="exchange_rate_one_per_currency_day"
            ),
            models.CheckConstraint(condition=Q(rate__gt=0), name="exchange_rate_rate_gt_0"),
        ]

    def __str__(self):
        return f"{self.currency} {self.on_date:%Y-%m-%d} {self.rate}"

    @classmethod
    def from_db(cls, db, field_names, values):
        # The currency and day as stored, so an edit that moves them refreshes the deals
        # the old ones converted (pipeline.services.closed_rates).
        instance = super().from_db(db, field_names, values)
        instance._stored_key = (instance.__dict__.get("currency"), instance.__dict__.get("on_date"))
        return instance

    def clean(self):
        if self.currency == reporting_currency():
            raise ValidationError(
                {
                    "currency": f"{self.currency} is the reporting currency: its amounts are "
                    "never converted, so it takes no rate."
                }
            )
