"""Formatting shared by every page: one helper for money, one for percentages, so the same
figure looks the same everywhere."""

import functools
from contextlib import suppress
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from babel.numbers import UnknownCurrencyError, format_currency, get_currency_symbol
from django import template
from django.conf import settings
from django.utils.translation import to_locale

from pipeline.currency import round_money

register = template.Library()


@functools.cache
def currency_symbol(code: str) -> str:
    """The symbol of ``code`` in the site's locale from babel's CLDR data (``$``, ``€``,
    ``£``); a symbol that is letters (``CHF``) is followed by a space."""
    try:
        symbol = get_currency_symbol(code, locale=to_locale(settings.LANGUAGE_CODE))
    except (UnknownCurrencyError, ValueError):
        symbol = code
    return symbol + " " if symbol[-1:].isalpha() else symbol


def _symbol() -> str:
    return currency_symbol(settings.OPPORTUNE_CURRENCY)


def _dec(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        return None
    return d if d.is_finite() else None


@register.filter
def money(value, places: int = 0) -> str:
    """``48000`` → ``$48,000``; ``money:2`` keeps cents. Empty for None."""
    d = _dec(value)
    if d is None:
        return "—"
    q = Decimal(1).scaleb(-int(places))
    # More digits than the decimal context holds cannot be quantized: format rounds them.
    with suppress(InvalidOperation):
        d = d.quantize(q, rounding=ROUND_HALF_UP)
    sign = "-" if d < 0 else ""
    return f"{sign}{_symbol()}{abs(d):,.{int(places)}f}"


def whole_money_formatter(currency: str | None = None):
    """``money`` (whole units) for many amounts in one go, e.g. the board's cards: the
    currency symbol is looked up once and Decimal amounts skip the parsing. Same output as
    ``money(value)``; with ``currency``, in that currency's symbol."""
    symbol = currency_symbol(currency) if currency else _symbol()
    one = Decimal(1)

    def fmt(value) -> str:
        if not isinstance(value, Decimal) or not value.is_finite():
            return money(value)
        try:
            q = value.quantize(one, rounding=ROUND_HALF_UP)
        except InvalidOperation:
            return money(value)
        return f"{'-' if q < 0 else ''}{symbol}{abs(q):,}"

    return fmt


@register.filter
def money_in(value, currency: str) -> str:
    """An amount in ``currency`` with that currency's symbol and decimals (babel's CLDR data):
    ``1234.5|money_in:"EUR"`` → ``€1,234.50``, in JPY ``¥1,235``. Empty for None."""
    d = _dec(value)
    if d is None:
        return "—"
    try:
        # Half-up first: babel itself would round half to even.
        d = round_money(d, currency)
        return format_currency(d, currency, locale=to_locale(settings.LANGUAGE_CODE))
    except (UnknownCurrencyError, ValueError, InvalidOperation):
        return f"{d:,.2f} {currency}"


@register.filter
def money_short(value) -> str:
    """Compact money for headers and tiles: ``$1.20M``, ``$980k``, ``$640``."""
    d = _dec(value)
    if d is None:
        return "—"
    sign = "-" if d < 0 else ""
    d = abs(d)
    if d >= 1_000_000_000:
        text = f"{d / Decimal(1_000_000_000):.2f}B"
    elif d >= 1_000_000:
        text = f"{d / Decimal(1_000_000):.2f}M"
    elif d >= 1_000:
        text = f"{(d / Decimal(1_000)).quantize(Decimal(1), rounding=ROUND_HALF_UP)}k"
    else:
        text = f"{d.quantize(Decimal(1), rounding=ROUND_HALF_UP)}"
    return f"{sign}{_symbol()}{text}"


@register.filter
def pct(value, places: int = 0) -> str:
    """A percentage shown as US English writes it, like the app's ``$`` amounts: ``52%``,
    ``60.4%`` with ``places``, ``-3%`` (never ``-0%``); ``None`` shows as a dash.

    Pass percentages (0–100), not ratios.
    """
    d = _dec(value)
    if d is None:
        return "—"
    text = f"{d:.{int(places)}f}"
    if text.lstrip("-").strip("0.") == "":  # -0.2 rounds to 0: never show "-0%"
        text = text.lstrip("-")
    return f"{text}%"


@register.filter
def signed_pct(value, places: int = 0) -> str:
    """A change or an error as a percentage with its sign: ``+12%``, ``-3.5%``; a figure
    that rounds to zero has none (``0%``, never ``+0%`` or ``-0%``)."""
    text = pct(value, places)
    if value is None or text.startswith(("-", "—")) or text.strip("0.%") == "":
        return text
    return f"+{text}"


@register.filter
def points(value) -> str:
    """Percentage points with their sign: ``+9 points``, ``−3 points`` (``None``: a dash)."""
    if value is None:
        return "—"
    n = round(float(value))
    if n == 0:
        return "±0 points"
    return f"{'+' if n > 0 else '−'}{abs(n)} point{'s' if abs(n) != 1 else ''}"


@register.filter
def deal_money(deal, field: str = "amount") -> str:
    """A deal's amount in whole units of its own currency (its symbol), followed by the figure
    in the reporting currency where the currencies differ (``amount_reporting``, annotated by
    the selectors per ``pipeline.conversion``): ``€12,000 ≈ $13,020``, as on the board's cards.
    ``deal_money:"weighted"`` shows the weighted amount the same way. A deal in the reporting
    currency shows as ``money`` does. (Cents belong to line items and prices: ``money_in``.)"""
    code = getattr(deal, "currency", None) or settings.OPPORTUNE_CURRENCY
    value = getattr(deal, field if field != "weighted" else "weighted_amount", None)
    if field == "weighted" and hasattr(deal, "weighted"):
        value = deal.weighted
    if code == settings.OPPORTUNE_CURRENCY:
        return money(value)
    text = whole_money_formatter(code)(_dec(value))
    converted = getattr(deal, "amount_reporting", None)
    if converted is None:
        return f"{text} (no {code} rate)"
    if field == "weighted" and deal.amount:
        converted = Decimal(converted) * Decimal(value or 0) / deal.amount
    return f"{text} ≈ {money(converted)}"
