"""The deal page's line-item rows: one form adds a product, one form per line saves or removes
it. Numbers are parsed by the services, so the messages are the same from every entry point."""

from __future__ import annotations

from django import forms

from pipeline.currency import read_amount
from pipeline.forms.opportunities import VersionedForm
from pipeline.models import Product


class LineForm(VersionedForm):
    """Add a line (``action=add``) or save / remove the line ``line``."""

    action = forms.ChoiceField(choices=[("add", "add"), ("save", "save"), ("remove", "remove")])
    line = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    product = forms.ModelChoiceField(
        queryset=Product.objects.all(),
        required=False,
        error_messages={"invalid_choice": "Choose a product from the catalogue."},
    )
    quantity = forms.CharField(required=False, max_length=30)
    unit_price = forms.CharField(required=False, max_length=30)
    discount_percent = forms.CharField(required=False, max_length=30)

    def clean_unit_price(self):
        # Shown as the pages write amounts ("1,200"): read without the grouping.
        return read_amount(self.cleaned_data.get("unit_price") or "")

    def clean(self):
        data = super().clean()
        if data.get("action") in ("save", "remove") and not data.get("line"):
            self.add_error(None, "Which line? Reload the deal and try again.")
        return data
