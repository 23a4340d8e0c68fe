"""Forms for logging activities and creating tasks."""

import datetime as dt

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from pipeline.models import Activity
from pipeline.validators import BusinessDateField


class ActivityForm(forms.Form):
    """Log a call, email, meeting or note, or create a task with a due date."""

    kind = forms.ChoiceField(label="Type", choices=Activity.Kind.choices, initial="call")
    subject = forms.CharField(max_length=200)
    body = forms.CharField(label="Notes", required=False, widget=forms.Textarea(attrs={"rows": 3}))
    due_on = BusinessDateField(
        label="Due date",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Tasks only.",
    )
    occurred_at = forms.DateTimeField(
        label="When",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="Leave empty for now.",
    )

    def clean_subject(self):
        subject = self.cleaned_data["subject"].strip()
        if not subject:
            raise ValidationError("Give the activity a subject.")
        return subject

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        if kind == Activity.Kind.TASK:
            if not data.get("due_on") and "due_on" not in self.errors:
                self.add_error("due_on", "A task needs a due date.")
            data["occurred_at"] = None
        elif kind:
            if data.get("due_on"):
                self.add_error(
                    "due_on", "Only tasks have a due date; choose Task or clear the date."
                )
            when = data.get("occurred_at")
            if when and when > timezone.now() + dt.timedelta(minutes=5):
                self.add_error(
                    "occurred_at", "A logged activity has already happened; pick a past time."
                )
        return data
