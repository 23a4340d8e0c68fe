import re

from django import forms


class TokenForm(forms.Form):
    """A 6-digit code from an authenticator app."""

    token = forms.CharField(
        label="6-digit code",
        max_length=12,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "size": 8,
                "class": "code",
            }
        ),
        help_text="From your authenticator app; a new one appears every 30 seconds.",
    )

    def __init__(self, *args, autofocus: bool = True, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        if autofocus:
            self.fields["token"].widget.attrs["autofocus"] = True

    def clean_token(self):
        token = re.sub(r"[\s-]", "", self.cleaned_data["token"])
        if not re.fullmatch(r"[0-9]{6}", token):
            raise forms.ValidationError(
                "Enter the 6 digits your authenticator app shows, numbers only."
            )
        return token
