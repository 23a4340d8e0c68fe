"""The one money and percentage formatting every page uses."""

import re
from decimal import Decimal

import pytest
from django.test import override_settings
from hypothesis import given
from hypothesis import strategies as st

from pipeline.templatetags.opportune import (
    money,
    money_short,
    pct,
    signed_pct,
    whole_money_formatter,
)


@pytest.mark.parametrize(
    ("value", "places", "expected"),
    [
        (Decimal("48000"), 0, "$48,000"),
        (Decimal("48000.50"), 0, "$48,001"),  # half up, not to even
        (Decimal("0.49"), 0, "$0"),
        (Decimal("-0.4"), 0, "$0"),
        (Decimal("-1234.5"), 0, "-$1,235"),
        (Decimal("1234.5"), 2, "$1,234.50"),
        (1500, 0, "$1,500"),
        ("2500.25", 2, "$2,500.25"),
        (None, 0, "—"),
        ("", 0, "—"),
        ("abc", 0, "—"),
        (Decimal("NaN"), 0, "—"),
        ("Infinity", 2, "—"),
        (Decimal("1E+30"), 0, "$1,000,000,000,000,000,000,000,000,000,000"),
    ],
)
def test_money(value, places, expected):
    assert money(value, places) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("1200000"), "$1.20M"),
        (Decimal("980400"), "$980k"),
        (Decimal("640"), "$640"),
        (Decimal("-2500"), "-$3k"),
        (Decimal("3000000000"), "$3.00B"),
        (None, "—"),
    ],
)
def test_money_short(value, expected):
    assert money_short(value) == expected


def test_money_uses_the_configured_currency():
    with override_settings(OPPORTUNE_CURRENCY="EUR"):
        assert money(Decimal("10")) == "€10"
        assert whole_money_formatter()(Decimal("10")) == "€10"
    with override_settings(OPPORTUNE_CURRENCY="CHF"):
        assert money(Decimal("10")) == "CHF 10"


@pytest.mark.parametrize(
    ("value", "places", "expected"),
    [
        (0, 0, "0%"),
        (Decimal("-0.2"), 0, "0%"),  # rounds to zero: no sign, never "-0%"
        (Decimal("-0.04"), 1, "0.0%"),
        (Decimal("52"), 0, "52%"),
        (Decimal("52.4"), 0, "52%"),
        (Decimal("60.44"), 1, "60.4%"),
        (12.345, 1, "12.3%"),
        (Decimal("-0.6"), 0, "-1%"),
        (Decimal("-10"), 0, "-10%"),
        (Decimal("100"), 0, "100%"),
        (None, 0, "—"),
        (None, 1, "—"),
        ("", 0, "—"),
        ("abc", 0, "—"),
    ],
)
def test_pct_writes_us_english_percentages(value, places, expected):
    assert pct(value, places) == expected


@given(st.decimals(min_value=-1000, max_value=1000, places=3), st.integers(0, 2))
def test_pct_is_the_figure_then_the_sign_and_never_minus_zero(value, places):
    text = pct(value, places)
    assert re.fullmatch(r"-?\d+(\.\d+)?%", text), text
    assert not re.fullmatch(r"-0(\.0*)?%", text), text


@pytest.mark.parametrize(
    ("value", "places", "expected"),
    [
        (Decimal("12.4"), 0, "+12%"),
        (Decimal("-3.46"), 1, "-3.5%"),
        (Decimal("0.2"), 0, "0%"),  # rounds to zero: no sign either way
        (Decimal("-0.2"), 0, "0%"),
        (Decimal("0.04"), 1, "0.0%"),
        (0, 0, "0%"),
        (None, 1, "—"),
    ],
)
def test_signed_pct_gives_the_sign_only_to_a_figure_that_is_not_zero(value, places, expected):
    assert signed_pct(value, places) == expected


def test_report_cells_use_the_one_date_style_and_whole_days():
    import datetime as dt

    from forecasting.reports.tables import csv_value, format_value

    assert format_value(dt.date(2026, 12, 20), "date") == "Dec 20, 2026"
    assert format_value(Decimal("37.5"), "whole_days") == "38"
    assert format_value(Decimal("1234.4"), "whole_days") == "1,234"
    assert csv_value(dt.date(2026, 12, 20), "date") == "2026-12-20"  # spreadsheets keep ISO
    assert csv_value(Decimal("37.5"), "whole_days") == "38"
    assert format_value(Decimal("125.66"), "days") == "126"  # an average: whole days too
    assert csv_value(Decimal("125.66"), "days") == "125.7"  # the spreadsheet keeps a tenth


@given(
    st.one_of(
        st.decimals(min_value=-(10**12), max_value=10**12, places=2),
        st.decimals(allow_nan=True, allow_infinity=True),
        st.integers(-(10**9), 10**9),
        st.none(),
    )
)
def test_whole_money_formatter_is_money(value):
    """The board's fast path prints exactly what ``money`` prints, for any amount."""
    assert whole_money_formatter()(value) == money(value)
