"""Forms of the lead pages. They parse and validate input; the services in
``pipeline.services`` do the writing (forms are never saved directly)."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.db.models import Q

from pipeline.filters import SEARCH_MAX_LENGTH, search_words
from pipeline.forms import (
    PlainLabelsMixin,
    RecordVersionMixin,
    ServiceModelForm,
    autocomplete,
    limit_choices,
    owner_field,
)
from pipeline.forms.money import MoneyField, MoneyInput
from pipeline.models import Company, Contact, Lead, Pipeline
from pipeline.services import LEAD_FIELDS
from pipeline.validators import BusinessDateField

MONEY_KW = {"max_digits": 14, "decimal_places": 2, "min_value": Decimal("0")}


class LeadForm(ServiceModelForm):
    """Create or edit a lead. The owner choices are the users the editor may assign to."""

    service_fields = LEAD_FIELDS

    class Meta:
        model = Lead
        fields = [*LEAD_FIELDS]
        widgets = {
            "need": forms.Textarea(attrs={"rows": 3}),
            "budget": MoneyInput(),
        }

    def __init__(self, *args, user, assign: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["budget"] = MoneyField(
            **MONEY_KW, required=False, help_text="What the lead can spend, if known."
        )
        self.fields["owner"] = owner_field(user)
        if not self.instance.pk:
            self.fields["owner"].initial = user.pk
        else:
            self.fields["owner"].initial = self.instance.owner_id
        if not assign:
            # A rep owns what they create; only managers and admins assign records.
            del self.fields["owner"]


class DisqualifyForm(PlainLabelsMixin, forms.Form):
    reason = forms.CharField(
        max_length=255,
        label="Why is this lead disqualified?",
        help_text="For example: no budget, not the decision maker, competitor, student.",
        widget=forms.TextInput(attrs={"autofocus": True}),
    )

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("Say why the lead is disqualified.")
        return reason


class ContactChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.full_name} — {obj.company.name}" if obj.company_id else obj.full_name


class ConvertLeadForm(PlainLabelsMixin, RecordVersionMixin, forms.Form):
    """Qualification facts (need, budget, timeline) and the deal to create from a prospect,
    with an existing company and contact or new ones made from the lead's details."""

    need = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), help_text="The problem the customer wants solved."
    )
    budget = MoneyField(**MONEY_KW, help_text="What the customer can spend.")
    authority = forms.CharField(
        max_length=200, required=False, help_text="Who decides and signs on the buyer's side."
    )
    timeline = forms.CharField(
        max_length=200, help_text="When the customer intends to decide or start."
    )
    name = forms.CharField(
        label="Deal name",
        max_length=200,
        required=False,
        help_text="Leave empty for “Company — need”.",
    )
    amount = MoneyField(**MONEY_KW, label="Deal amount")
    expected_close_date = BusinessDateField(widget=forms.DateInput(attrs={"type": "date"}))
    pipeline = forms.ModelChoiceField(queryset=Pipeline.objects.none(), empty_label=None)
    company = forms.ModelChoiceField(
        queryset=Company.objects.none(),
        required=False,
        label="Existing company",
        empty_label="— Create a new company —",
    )
    company_name = forms.CharField(
        label="Or a new company named",
        max_length=200,
        required=False,
        help_text="Only when no existing company is chosen above.",
    )
    contact = ContactChoiceField(
        queryset=Contact.objects.none(),
        required=False,
        label="Existing contact",
        empty_label="— Create a contact from the lead —",
    )
    contact_is_decision_maker = forms.BooleanField(
        required=False,
        label="The new contact is a decision maker",
        help_text="Later stages may require a decision-maker contact.",
    )

    def __init__(
        self,
        *args,
        user,
        lead: Lead,
        assign: bool = True,
        company_q: str = "",
        contact_q: str = "",
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.add_version_field(lead.version)
        self.fields["pipeline"].queryset = Pipeline.objects.filter(is_active=True).order_by(
            "position", "id"
        )
        companies = Company.objects.visible_to(user)
        contacts = Contact.objects.visible_to(user).select_related("company")
        # Validation accepts any company or contact the user may see; the dropdowns list only
        # the likely ones (or a search's matches), so the page stays small with 100k records.
        self.fields["company"].queryset = companies
        self.fields["contact"].queryset = contacts
        autocomplete(self.fields["company"], "pipeline:autocomplete_companies")
        autocomplete(self.fields["contact"], "pipeline:autocomplete_contacts")
        self.company_q = company_q.strip()[:SEARCH_MAX_LENGTH]
        self.contact_q = contact_q.strip()[:SEARCH_MAX_LENGTH]
        if self.company_q:
            shown = search_words(companies, self.company_q, ("name", "website", "city"))
        elif lead.company_name.strip():
            shown = companies.filter(name__icontains=lead.company_name.split()[0])
        else:
            shown = companies.filter(owner=lead.owner_id)
        self.company_more = limit_choices(self, "company", shown.order_by("name", "id"))
        if self.contact_q:
            shown = search_words(
                contacts, self.contact_q, ("first_name", "last_name", "email", "company__name")
            )
        else:
            likely = Q(first_name__iexact=lead.first_name, last_name__iexact=lead.last_name)
            if lead.email:
                likely |= Q(email__iexact=lead.email)
            if lead.company_name.strip():
                likely |= Q(company__name__iexact=lead.company_name.strip())
            shown = contacts.filter(likely)
        self.contact_more = limit_choices(
            self, "contact", shown.order_by("last_name", "first_name", "id")
        )
        if assign:
            self.fields["owner"] = owner_field(user, help_text="Who works the deal.")
            self.fields["owner"].initial = lead.owner_id

    def clean(self):
        data = super().clean()
        named = data.get("company") or (data.get("company_name") or "").strip()
        # A chosen contact brings their own company (the service links it).
        from_contact = data.get("contact") is not None and data["contact"].company_id
        if not named and not from_contact and "company" not in self.errors:
            self.add_error(
                "company_name", "Choose an existing company or enter a new company's name."
            )
        return data
