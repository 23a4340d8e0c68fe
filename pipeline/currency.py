"""Currencies: which codes exist and how many decimals each one has, from babel's CLDR data
(never a hand-written table)."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache

from babel.numbers import get_currency_precision, list_currencies
from django.conf import settings
from django.core.exceptions import ValidationError


@cache
def known_currencies() -> frozenset[str]:
    return frozenset(list_currencies())


def reporting_currency() -> str:
    """The installation's reporting currency (``OPPORTUNE_CURRENCY``)."""
    return settings.OPPORTUNE_CURRENCY


def validate_currency(code: str) -> None:
    if code not in known_currencies():
        raise ValidationError(
            f"“{code}” is not an ISO 4217 currency code; use a code such as EUR, GBP or USD."
        )


@cache
def decimals(code: str) -> int:
    """How many decimals amounts in ``code`` carry (EUR 2, JPY 0), capped at the two the
    money columns store."""
    return min(get_currency_precision(code), 2)


def round_money(amount: Decimal, code: str) -> Decimal:
    """``amount`` rounded half-up to the decimals of ``code``."""
    return amount.quantize(Decimal(1).scaleb(-decimals(code)), rounding=ROUND_HALF_UP)


# --- amounts as typed into forms ----------------------------------------------------------
_NOISE = re.compile(r"[,\s\u00a0\u202f]")
_SIGNS = "$€£¥"


def input_amount(value) -> str:
    """``Decimal("64700.00")`` as ``"64,700"``, ``Decimal("64700.5")`` as ``"64,700.50"``;
    empty for no value, and anything that is not a number as it was typed."""
    if value is None or value == "":
        return ""
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    if not amount.is_finite():
        return str(value)
    return f"{amount:,.0f}" if amount == amount.to_integral_value() else f"{amount:,.2f}"


def read_amount(text: str) -> str:
    """What a user typed, without the grouping and sign the input shows."""
    return _NOISE.sub("", text).lstrip(_SIGNS)
