"""Forms of the rep's workspace, one module per area; shared helpers live here."""

from django import forms
from django.core.exceptions import ValidationError


def add_service_errors(form: forms.Form, error: ValidationError, field_map=None) -> None:
    """Attach a service's ValidationError to ``form``: keyed messages go next to the matching
    field (``field_map`` renames service keys to form fields), everything else on top."""
    field_map = field_map or {}
    if hasattr(error, "error_dict"):
        for key, messages in error.message_dict.items():
            name = field_map.get(key, key)
            if name in form.fields:
                form.add_error(name, messages)
            else:
                form.add_error(None, messages)
    else:
        form.add_error(None, error.messages)
