"""The small forms of the deal page's inline edit: one key field at a time (amount, expected
close date, stage, next step), each carrying the deal's version. The services write; a stale
version is refused there."""

from __future__ import annotations

from decimal import Decimal

from django import forms

from pipeline.forms.money import MoneyField, MoneyInput
from pipeline.forms.opportunities import MoveForm, NextStepForm, VersionedForm
from pipeline.models import Opportunity, Stage
from pipeline.validators import BusinessDateField


class InlineAmountForm(VersionedForm):
    amount = MoneyField(
        min_value=Decimal("0"),
        max_digits=14,
        decimal_places=2,
        label="Amount",
        widget=MoneyInput(attrs={"autofocus": True}),
        error_messages={"required": "Enter the amount."},
    )


class InlineCloseForm(VersionedForm):
    expected_close_date = BusinessDateField(
        label="Expected close",
        widget=forms.DateInput(attrs={"type": "date", "autofocus": True}, format="%Y-%m-%d"),
        error_messages={"required": "Enter the expected close date."},
    )


class InlineStageForm(MoveForm):
    """A move to an open or won stage (a lost one asks why, on the close-lost page)."""

    def __init__(self, *args, opportunity: Opportunity, **kwargs):
        super().__init__(*args, opportunity=opportunity, **kwargs)
        self.fields["stage"].queryset = self.fields["stage"].queryset.exclude(kind=Stage.Kind.LOST)
        self.fields["stage"].error_messages["invalid_choice"] = (
            "Choose an open or won stage of this deal's pipeline (a lost one asks why: use "
            "Close lost)."
        )
        self.fields["stage"].widget.attrs["autofocus"] = True
        del self.fields["lost_reason"]
        del self.fields["lost_note"]


class InlineNextStepForm(NextStepForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["next_step"].widget.attrs["autofocus"] = True


# The editable key fields: their form, what the page calls them and the edit page's anchor.
FIELDS = {
    "amount": (InlineAmountForm, "Amount", "id_amount"),
    "close": (InlineCloseForm, "Expected close", "id_expected_close_date"),
    "stage": (InlineStageForm, "Stage", ""),
    "next_step": (InlineNextStepForm, "Next step", "id_next_step"),
}


def initial_for(field: str, opportunity: Opportunity) -> dict:
    values = {
        "amount": {"amount": opportunity.amount},
        "close": {"expected_close_date": opportunity.expected_close_date},
        "stage": {"stage": opportunity.stage_id},
        "next_step": {
            "next_step": opportunity.next_step,
            "next_step_due": opportunity.next_step_due,
        },
    }[field]
    return {**values, "version": opportunity.version}


def refusal(field: str, opportunity: Opportunity, *, has_lines: bool) -> str:
    """Why ``field`` cannot be edited inline on ``opportunity`` ("" when it can)."""
    if field == "next_step":
        return ""
    if opportunity.is_closed:
        return "Closed deals keep this; reopen the deal to change it."
    if field == "amount" and has_lines:
        return "The amount is the sum of the deal's products; change them on the deal's page."
    return ""
