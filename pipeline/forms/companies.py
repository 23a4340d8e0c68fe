"""The company form. It validates input; ``pipeline.services`` writes
(``create_company`` / ``update_company``)."""

from __future__ import annotations

from django import forms

from pipeline.forms import ServiceModelForm, add_owner_field
from pipeline.models import Company
from pipeline.services import COMPANY_FIELDS


class CompanyForm(ServiceModelForm):
    service_fields = COMPANY_FIELDS

    class Meta:
        model = Company
        fields = [*COMPANY_FIELDS]
        widgets = {"website": forms.TextInput(attrs={"placeholder": "example.com"})}
        labels = {"employees": "Employees"}

    def __init__(self, *args, user, assign: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["name"].error_messages["required"] = "Enter the company's name."
        if assign:
            add_owner_field(self, user)

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Enter the company's name.")
        return name
