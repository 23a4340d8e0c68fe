"""Forms of the company and contact pages. They validate input; ``pipeline.services`` writes
(``create_company`` / ``update_company`` / ``create_contact`` / ``update_contact``)."""

from __future__ import annotations

from django import forms
from django.db.models import Q

from pipeline.filters.leads import SEARCH_MAX_LENGTH, search_words
from pipeline.forms.leads import RecordVersionMixin, _owner_field, limit_choices
from pipeline.models import Company, Contact
from pipeline.services import COMPANY_FIELDS, CONTACT_FIELDS


class CompanyForm(RecordVersionMixin, forms.ModelForm):
    class Meta:
        model = Company
        fields = [*COMPANY_FIELDS]
        widgets = {"website": forms.TextInput(attrs={"placeholder": "example.com"})}
        labels = {"employees": "Employees"}

    def __init__(self, *args, user, assign: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["name"].error_messages["required"] = "Enter the company's name."
        if assign:
            self.fields["owner"] = _owner_field(user)
            self.fields["owner"].initial = self.instance.owner_id if self.instance.pk else user.pk
        self.add_version_field(self.instance.version if self.instance.pk else None)

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Enter the company's name.")
        return name

    def service_data(self) -> dict:
        return {name: self.cleaned_data[name] for name in COMPANY_FIELDS}

    def _post_clean(self):
        # Field validation only; the services validate and write the model.
        pass


class ContactForm(RecordVersionMixin, forms.ModelForm):
    """Create or edit a contact; ``company_q`` narrows the company dropdown."""

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
            self.fields["owner"] = _owner_field(user)
            self.fields["owner"].initial = self.instance.owner_id if self.instance.pk else user.pk
        self.order_fields(["first_name", "last_name", "title", "company", "email", "phone"])
        self.add_version_field(self.instance.version if self.instance.pk else None)

    def clean_first_name(self):
        value = self.cleaned_data["first_name"].strip()
        if not value:
            raise forms.ValidationError("Enter the contact's first name.")
        return value

    def service_data(self) -> dict:
        return {name: self.cleaned_data[name] for name in CONTACT_FIELDS}

    def _post_clean(self):
        pass
