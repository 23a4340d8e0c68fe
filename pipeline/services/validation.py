"""What every pipeline service checks before it writes: permission to edit, an owner in the
caller's scope, the version a change was made against, and the parsers of money,
probabilities and dates that turn form or API input into exact values or a clear
:class:`~django.core.exceptions.ValidationError` naming the field.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError

from accounts import visibility
from pipeline.currency import validate_currency
from pipeline.validators import validate_business_date


def require_edit(user, obj, what: str = "record") -> None:
    if not visibility.can_edit(user, obj):
        raise PermissionDenied(f"You may not change this {what}.")


def require_owner_in_scope(user, owner) -> None:
    if owner is None:
        raise ValidationError({"owner": "Choose an owner."})
    if not visibility.can_see_owner(user, owner):
        raise ValidationError({"owner": "You may only assign records to yourself or your team."})
    if not owner.is_active:
        raise ValidationError({"owner": "This user is deactivated; choose an active owner."})


def parse_money(value, field: str = "amount") -> Decimal:
    """An amount of money (at most two decimals, 0 … 999,999,999,999.99) from a Decimal,
    an int or a string; floats are refused. Errors name ``field``."""
    if isinstance(value, float):
        raise ValidationError({field: "Amounts are exact decimals, not floating-point numbers."})
    try:
        amount = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except (InvalidOperation, TypeError, ValueError):
        raise ValidationError({field: "Enter an amount such as 12500.00."}) from None
    if not amount.is_finite():
        raise ValidationError({field: "Enter an amount such as 12500.00."})
    if amount < 0:
        raise ValidationError({field: "The amount cannot be negative."})
    if amount.as_tuple().exponent < -2:
        raise ValidationError({field: "Use at most two decimal places."})
    if amount >= Decimal("1e12"):
        raise ValidationError({field: "The amount is too large (at most 999,999,999,999.99)."})
    return amount.quantize(Decimal("0.01"))


def parse_currency(value, field: str = "currency") -> str:
    """An ISO 4217 currency code (``eur`` → ``EUR``); empty or unknown codes are refused."""
    code = str(value or "").strip().upper()
    if not code:
        raise ValidationError({field: "Choose the deal's currency, e.g. EUR, GBP or USD."})
    try:
        validate_currency(code)
    except ValidationError as e:
        raise ValidationError({field: e.messages[0]}) from None
    return code


def parse_probability(value) -> int | None:
    if value is None or value == "":
        return None
    try:
        p = int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an infinite float/Decimal
        raise ValidationError({"probability": "Enter a whole percentage from 0 to 100."}) from None
    if p != value and not isinstance(value, str | int):
        raise ValidationError({"probability": "Enter a whole percentage from 0 to 100."})
    if not 0 <= p <= 100:
        raise ValidationError({"probability": "Probability must be between 0 and 100."})
    return p


def parse_date(value, field: str) -> dt.date:
    """A business date (1900-01-01 … 2200-12-31) from a date or an ISO string."""
    if isinstance(value, dt.datetime):
        day = value.date()
    elif isinstance(value, dt.date):
        day = value
    else:
        try:
            day = dt.date.fromisoformat(str(value))
        except (TypeError, ValueError):
            raise ValidationError({field: "Enter a date as YYYY-MM-DD."}) from None
    try:
        validate_business_date(day)
    except ValidationError as e:
        raise ValidationError({field: e.messages}) from None
    return day


def check_version(current, version, what: str = "deal") -> None:
    """Refuse a change made against another version of the record (a deal, company, contact,
    lead or activity) than the stored one. Every change a user makes names the version it
    was made against: a missing one is refused, as it could overwrite someone else's change
    unseen. ``current`` is the row as locked by the caller."""
    missing = f"The {what}'s version is missing; reload the page."
    if version is None or version == "" or isinstance(version, bool):
        raise ValidationError(missing, code="version_missing")
    try:
        version = int(version)
    except (TypeError, ValueError):
        raise ValidationError(missing, code="version_missing") from None
    if current.version != version:
        raise ValidationError(
            f"Someone else changed “{current}” since you opened it (your copy is version "
            f"{version}, the {what} is now at version {current.version}). Reload it and make "
            "your change again.",
            code="stale",
        )


def apply_fields(obj, data: dict[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = set(data) - set(allowed)
    if unknown:
        raise ValidationError(f"Unknown fields: {', '.join(sorted(unknown))}.")
    for key, value in data.items():
        if value == "" and obj._meta.get_field(key).null:
            # An empty form value of a nullable field (a budget, a head count) means unknown.
            value = None
        setattr(obj, key, value)
