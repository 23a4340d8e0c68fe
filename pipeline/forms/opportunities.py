"""Forms of the deal pages. Each form only parses and offers choices (from the visibility
rule); the services validate the business rules and write. A service's ValidationError is
put next to the field it concerns with :func:`add_service_errors`."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError

from accounts.visibility import visible_users
from pipeline.conversion import deal_currencies
from pipeline.forms import autocomplete
from pipeline.forms.money import MoneyField
from pipeline.models import ForecastCategory, Opportunity, Stage
from pipeline.selectors.opportunities import (
    company_choices,
    contact_choices,
    lost_reason_choices,
    pipeline_choices,
)
from pipeline.services import CLOSED_EDITABLE
from pipeline.templatetags.opportune import money
from pipeline.validators import BusinessDateField

FORECAST_CHOICES = [
    ("", "Stage default"),
    (ForecastCategory.PIPELINE, ForecastCategory.PIPELINE.label),
    (ForecastCategory.BEST_CASE, ForecastCategory.BEST_CASE.label),
    (ForecastCategory.COMMIT, ForecastCategory.COMMIT.label),
]
DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


CHOICE_LIMIT = 200

VERSION_MISSING = "The deal's version is missing; reload the page."


def version_field() -> forms.IntegerField:
    """The version of the deal a state change was made against: required on every form that
    changes a deal, so a post that leaves it out (or mangles it) is refused, never applied
    over someone else's change."""
    return forms.IntegerField(
        widget=forms.HiddenInput,
        min_value=1,
        error_messages={
            "required": VERSION_MISSING,
            "invalid": VERSION_MISSING,
            "min_value": VERSION_MISSING,
        },
    )


class VersionedForm(forms.Form):
    """A hidden ``version`` field's error is shown at the top of the form (a hidden field has
    no place of its own on the page)."""

    version = version_field()

    def clean(self):
        data = super().clean()
        if "version" in self._errors:
            del self._errors["version"]
            self.add_error(None, VERSION_MISSING)
        return data


def _set_choices(field: forms.ModelChoiceField, objects) -> None:
    rows = [(obj.pk, field.label_from_instance(obj)) for obj in objects]
    field.choices = [("", field.empty_label), *rows] if field.empty_label is not None else rows


class ContactChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        company = obj.company.name if obj.company_id else "no company"
        return f"{obj.full_name} ({company})"


class UserChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        full = obj.get_full_name()
        return f"{full} (@{obj.username})" if full else obj.username


class OpportunityForm(forms.Form):
    """The "+ New deal" form; :class:`OpportunityEditForm` edits an existing deal."""

    name = forms.CharField(max_length=200, error_messages={"required": "Give the deal a name."})
    company = forms.ModelChoiceField(
        queryset=None,
        required=False,
        empty_label="No company",
        help_text="A deal may have no company yet (its account is unknown).",
    )
    contact = ContactChoiceField(
        queryset=None, required=False, empty_label="No contact", label="Primary contact"
    )
    owner = UserChoiceField(queryset=None, empty_label=None)
    pipeline = forms.ModelChoiceField(queryset=None, empty_label=None)
    amount = MoneyField(
        min_value=Decimal("0"),
        max_digits=14,
        decimal_places=2,
        help_text="In full, e.g. 48,000.",
    )
    currency = forms.ChoiceField(
        choices=(),
        help_text="The currency of the amount and of the line items' prices.",
    )
    expected_close_date = BusinessDateField(
        widget=DATE, error_messages={"required": "Enter the expected close date."}
    )
    probability = forms.IntegerField(
        min_value=0,
        max_value=100,
        required=False,
        label="Probability override (%)",
        help_text="Leave empty to use the stage's probability.",
    )
    forecast_category = forms.ChoiceField(choices=FORECAST_CHOICES, required=False)
    next_step = forms.CharField(max_length=255, required=False)
    next_step_due = BusinessDateField(required=False, widget=DATE, label="Next step due")

    def __init__(self, *args, user, company_q: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["company"].queryset = company_choices(user=user)
        self.fields["contact"].queryset = contact_choices(user=user)
        self.fields["owner"].queryset = visible_users(user).order_by("username")
        autocomplete(self.fields["company"], "pipeline:autocomplete_companies")
        # The contact field offers the chosen company's contacts.
        contact_options = {"with": "id_company"}
        autocomplete(self.fields["contact"], "pipeline:autocomplete_contacts", **contact_options)
        autocomplete(self.fields["owner"], "pipeline:autocomplete_owners")
        if "pipeline" in self.fields:
            self.fields["pipeline"].queryset = pipeline_choices()
        codes = deal_currencies()
        current = self.initial.get("currency")
        if current and current not in codes:
            codes.append(current)
        self.fields["currency"].choices = [(c, c) for c in codes]
        self.fields["currency"].initial = codes[0]
        key = self.add_prefix("currency")
        if self.is_bound and not self.data.get(key):
            # A form posted without a currency (an older page, a script) keeps the deal's; a
            # new deal takes the reporting currency.
            self.data = self.data.copy()
            self.data[key] = current or codes[0]
        if not self.is_bound and "owner" not in self.initial:
            self.initial["owner"] = user.pk
        self.company_q = (company_q or "").strip()[:100]
        self._bound_choices()

    def _selected(self, name: str):
        raw = self.data.get(self.add_prefix(name)) if self.is_bound else self.initial.get(name)
        raw = getattr(raw, "pk", raw)
        try:
            value = int(raw)
        except (TypeError, ValueError):
            return None
        return value if 0 < value < 2**63 else None

    def _bound_choices(self) -> None:
        """Dropdowns list at most CHOICE_LIMIT records (an admin may see tens of thousands);
        the selected one is always listed and any record the user may see is accepted."""
        company_id, contact_id = self._selected("company"), self._selected("contact")
        companies = self.fields["company"].queryset
        shown = companies
        if self.company_q:
            shown = shown.filter(name__icontains=self.company_q)
        shown = list(shown[:CHOICE_LIMIT])
        if company_id and all(c.pk != company_id for c in shown):
            shown += list(companies.filter(pk=company_id))
        self.company_more = len(shown) >= CHOICE_LIMIT
        _set_choices(self.fields["company"], shown)

        contacts = self.fields["contact"].queryset
        listed = contacts.filter(company_id=company_id) if company_id else contacts
        listed = list(listed[:CHOICE_LIMIT])
        if contact_id and all(c.pk != contact_id for c in listed):
            listed += list(contacts.filter(pk=contact_id))
        _set_choices(self.fields["contact"], listed)

    def clean_currency(self):
        """A form posted without a currency keeps the deal's (a new deal: the reporting
        currency)."""
        return (
            self.cleaned_data.get("currency")
            or self.initial.get("currency")
            or (self.fields["currency"].initial)
        )

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise ValidationError("Give the deal a name.")
        return name

    def clean(self):
        data = super().clean()
        company, contact = data.get("company"), data.get("contact")
        if company and contact and contact.company_id and contact.company_id != company.pk:
            self.add_error(
                "contact",
                f"{contact.full_name} works at {contact.company.name}; choose a contact of "
                f"{company.name} or leave it empty.",
            )
        return data

    def service_kwargs(self) -> dict:
        data = dict(self.cleaned_data)
        data["probability"] = data.get("probability")
        data["forecast_category"] = data.get("forecast_category") or ""
        data["next_step"] = data.get("next_step") or ""
        return data


EDITABLE = (
    "name",
    "company",
    "contact",
    "owner",
    "amount",
    "currency",
    "expected_close_date",
    "probability",
    "forecast_category",
    "next_step",
    "next_step_due",
)


def _display(field: str, value) -> str:
    if value in (None, ""):
        return "empty"
    if field == "amount":
        return money(value, 2)
    if field in ("expected_close_date", "next_step_due"):
        return value.strftime("%b %-d, %Y")
    if field == "probability":
        return f"{value}%"
    if field == "forecast_category":
        return ForecastCategory(value).label
    return str(value)


class OpportunityEditForm(VersionedForm, OpportunityForm):
    """Edit a deal's fields (never its stage).

    Each field also carries the value the user saw (``initial-<name>``, Django's
    ``show_hidden_initial``) and the form carries the deal's ``version``: when someone else
    saved in between, :meth:`conflicts` lists what changed and :meth:`rebase` keeps what the
    user typed while moving the form to the current version.
    """

    def __init__(self, *args, user, opportunity: Opportunity, **kwargs):
        kwargs.setdefault("initial", self.initial_from(opportunity))
        super().__init__(*args, user=user, **kwargs)
        del self.fields["pipeline"]
        self.opportunity = opportunity
        for name in EDITABLE:
            self.fields[name].show_hidden_initial = True
        if opportunity.line_items.exists():
            self.fields["currency"].disabled = True
            self.fields[
                "currency"
            ].help_text = "The line items are priced in this currency; remove them to change it."
            self.fields["amount"].disabled = True
            self.fields[
                "amount"
            ].help_text = (
                "The sum of the deal's line items; change its products on the deal's page."
            )
        if opportunity.is_closed:
            for name in EDITABLE:
                if name not in CLOSED_EDITABLE:
                    self.fields[name].disabled = True
                    self.fields[name].help_text = "Closed deals keep this; reopen to change it."

    @staticmethod
    def initial_from(opportunity: Opportunity) -> dict:
        initial = {name: getattr(opportunity, name) for name in EDITABLE}
        for fk in ("company", "contact", "owner"):
            initial[fk] = getattr(opportunity, fk + "_id")
        initial["version"] = opportunity.version
        return initial

    def changes(self) -> dict:
        """The fields the user changed (the service ignores unchanged ones anyway)."""
        data = self.service_kwargs()
        return {name: data[name] for name in EDITABLE if name in data}

    def conflicts(self, current: Opportunity) -> list[dict]:
        """Fields whose current value differs from what the user saw when opening the form."""
        out = []
        for name in EDITABLE:
            field = self.fields[name]
            raw = self.data.get(self.add_initial_prefix(name))
            try:
                seen = field.clean(raw) if raw is not None else None
            except ValidationError:
                seen = None
            now = getattr(current, name)
            seen_key = getattr(seen, "pk", seen)
            now_key = getattr(now, "pk", now)
            if name == "forecast_category":
                seen_key, now_key = seen_key or "", now_key or ""
            if raw is None or seen_key != now_key:
                if raw is None and (not now_key or name == "currency"):
                    continue  # a form without the field (an older page) saw nothing of it
                out.append(
                    {
                        "field": name,
                        "label": field.label or name.replace("_", " ").capitalize(),
                        "seen": _display(name, seen) if raw is not None else "—",
                        "now": _display(name, now),
                    }
                )
        return out

    def rebase(self, current: Opportunity) -> OpportunityEditForm:
        """A bound copy keeping the user's input, at ``current``'s version and values."""
        data = self.data.copy()
        data["version"] = str(current.version)
        fresh = self.initial_from(current)
        for name in EDITABLE:
            value = fresh[name]
            data[self.add_initial_prefix(name)] = "" if value is None else str(value)
        form = type(self)(data, user=self.user, opportunity=current, company_q=self.company_q)
        form.is_valid()
        return form


class NextStepForm(VersionedForm):
    next_step = forms.CharField(max_length=255, required=False, label="Next step")
    next_step_due = BusinessDateField(required=False, widget=DATE, label="Due")


class StageChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Stage) -> str:
        if obj.kind == Stage.Kind.OPEN:
            return f"{obj.name} ({obj.probability}%)"
        return f"{obj.name} (closes the deal)"


class MoveForm(VersionedForm):
    """Move a deal to another stage of its pipeline: the board's drag and drop (JSON), the
    stage bar of the deal page, and the move page and the card's inline move form."""

    stage = StageChoiceField(queryset=Stage.objects.none(), empty_label=None, label="Move to")
    lost_reason = forms.ModelChoiceField(
        queryset=None,
        required=False,
        label="Why was it lost?",
        empty_label="Choose a reason",
        help_text="Needed when the deal moves to a lost stage.",
        # Shown only for the lost stages, where it is needed: marked required (the page's "*"
        # and, for a screen reader, aria-required), though the form takes none for the others.
        widget=forms.Select(attrs={"aria-required": "true"}),
    )
    lost_note = forms.CharField(max_length=255, required=False, label="Lost note")

    def __init__(self, *args, opportunity: Opportunity, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["stage"].queryset = opportunity.pipeline.stages.order_by("position", "id")
        self.fields["stage"].error_messages["invalid_choice"] = (
            "Choose a stage of this deal's pipeline."
        )
        self.fields["stage"].error_messages["required"] = "Choose the stage to move the deal to."
        self.fields["lost_reason"].queryset = lost_reason_choices()
        self.fields["lost_reason"].error_messages["invalid_choice"] = (
            "Choose one of the listed reasons."
        )

    @property
    def lost_stage_ids(self) -> list[int]:
        """The stages that close the deal as lost (the page asks why only for these)."""
        return list(
            self.fields["stage"].queryset.filter(kind=Stage.Kind.LOST).values_list("pk", flat=True)
        )


class CloseWonForm(VersionedForm):
    closed_on = BusinessDateField(
        required=False, widget=DATE, label="Closed on", help_text="Empty means today."
    )


class CloseLostForm(VersionedForm):
    lost_reason = forms.ModelChoiceField(
        queryset=None, empty_label="Choose a reason", label="Why was it lost?"
    )
    lost_note = forms.CharField(max_length=255, required=False, label="Note")
    closed_on = BusinessDateField(
        required=False, widget=DATE, label="Closed on", help_text="Empty means today."
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["lost_reason"].queryset = lost_reason_choices()
        self.fields["lost_reason"].error_messages["required"] = "Choose why the deal was lost."
