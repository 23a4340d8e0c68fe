"""Amounts in forms as the pages write them: thousands grouped and cents only when there are
some ("64,700", "64,700.50"), so an input shows a deal's amount the way its page does. What
a user types is read back the same way: separators, spaces and a leading currency sign are
ignored ("$64,700" is 64700)."""

from __future__ import annotations

from django import forms

from pipeline.currency import input_amount, read_amount


class MoneyInput(forms.TextInput):
    """A text input (a number input cannot show grouping) with a decimal keypad on phones."""

    def __init__(self, attrs=None):
        super().__init__({"inputmode": "decimal", "autocomplete": "off", **(attrs or {})})

    def format_value(self, value):
        # A stored amount (Decimal) is written as the pages write it; what a user typed (a
        # bound form shown again with an error) is shown exactly as typed.
        if isinstance(value, str):
            return value or None
        return input_amount(value) or None


class MoneyField(forms.DecimalField):
    """A ``DecimalField`` that reads what :class:`MoneyInput` shows."""

    widget = MoneyInput

    def to_python(self, value):
        if isinstance(value, str):
            value = read_amount(value)
        return super().to_python(value)

    def widget_attrs(self, widget):
        # DecimalField adds step/min/max for number inputs; a text input takes none of them.
        return {
            k: v for k, v in super().widget_attrs(widget).items() if k not in ("step", "min", "max")
        }
