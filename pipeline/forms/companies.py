"""The company form. It validates input; ``pipeline.services`` writes
(``create_company`` / ``update_company``)."""

from __future__ import annotations

from django import forms

from pipeline.forms import owner_field
from pipeline.models import Company
from pipeline.services import COMPANY_FIELDS


class CompanyForm(forms.ModelForm):
    class Meta:
        model = Company
        fields = [*COMPANY_FIELDS]
        widgets = {"website": forms.TextInput(attrs={"placeholder": "example.com"})}
        labels = {"employees": "Employees"}

    def __init__(self, *args, user, assign: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["name"].error_messages["required"] = "Enter the company's name."
        if assign:
            self.fields["owner"] = owner_field(user)
            self.fields["owner"].initial = self.instance.owner_id if self.instance.pk else user.pk

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
