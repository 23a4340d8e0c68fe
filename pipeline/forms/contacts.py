"""The contact form. It validates input; ``pipeline.services`` writes
(``create_contact`` / ``update_contact``)."""

from __future__ import annotations

from django import forms
from django.db.models import Q

from pipeline.filters import SEARCH_MAX_LENGTH, search_words
from pipeline.forms import ServiceModelForm, add_owner_field, autocomplete, limit_choices
from pipeline.models import Company, Contact
from pipeline.services import CONTACT_FIELDS


class ContactForm(ServiceModelForm):
    """Create or edit a contact; ``company_q`` narrows the company dropdown."""

    service_fields = CONTACT_FIELDS

    company = forms.ModelChoiceField(
        queryset=Company.objects.none(), required=False, empty_label="— No company —"
    )

    class Meta:
        model = Contact
        fields = [*CONTACT_FIELDS, "company"]

    def __init__(self, *args, user, assign: bool = True, company_q: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        companies = Company.objects.visible_to(user)
        if self.instance.company_id:
            # Keep the contact's current company selectable even if the editor cannot open it.
            companies = Company.objects.filter(
                Q(pk__in=companies.values("pk")) | Q(pk=self.instance.company_id)
            )
        self.fields["company"].queryset = companies
        autocomplete(self.fields["company"], "pipeline:autocomplete_companies")
        # The dropdown lists the editor's own companies (or a search's matches, ?company_q=);
        # any company the editor may see is accepted.
        self.company_q = company_q.strip()[:SEARCH_MAX_LENGTH]
        if self.company_q:
            shown = search_words(companies, self.company_q, ("name", "website", "city"))
        else:
            shown = companies.filter(owner=user)
        self.company_more = limit_choices(self, "company", shown.order_by("name", "id"), 100)
        self.fields["first_name"].error_messages["required"] = "Enter the contact's first name."
        if assign:
            add_owner_field(self, user)
        self.order_fields(["first_name", "last_name", "title", "company", "email", "phone"])

    def clean_first_name(self):
        value = self.cleaned_data["first_name"].strip()
        if not value:
            raise forms.ValidationError("Enter the contact's first name.")
        return value
