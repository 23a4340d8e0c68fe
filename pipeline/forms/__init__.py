"""Forms of the rep's workspace, one module per area; shared helpers live here."""

import contextlib

from django import forms
from django.core.exceptions import BadRequest, ValidationError
from django.urls import reverse

from accounts.visibility import visible_users

CHOICE_LIMIT = 50


def autocomplete(field: forms.Field, route: str, **data: str) -> forms.Field:
    """Mark ``field``'s select for the autocomplete script (``static/js/autocomplete.js``):
    it asks ``route`` for matches as the user types. ``data`` adds ``data-autocomplete-*``
    attributes (``with="id_company"`` sends that select's value too). Without JavaScript the
    select is used as it is."""
    field.widget.attrs["data-autocomplete"] = reverse(route)
    for key, value in data.items():
        field.widget.attrs[f"data-autocomplete-{key}"] = value
    return field


def owner_field(user, *, label="Owner", help_text=""):
    """The owner dropdown of a create or edit form: the users ``user`` may assign to."""
    field = forms.ModelChoiceField(
        queryset=visible_users(user).order_by("first_name", "last_name", "username"),
        label=label,
        empty_label=None,
        help_text=help_text,
    )
    return autocomplete(field, "pipeline:autocomplete_owners", placeholder="Type a name")


RECORD_VERSION_MISSING = "The record's version is missing; reload the page."


class PlainLabelsMixin:
    """Labels without Django's trailing colon, as on every page of the app."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class RecordVersionMixin:
    """An edit form carries the version of the record it was opened on (a hidden field),
    which the service compares with the stored one: a stale edit is refused, never applied
    over someone else's change. New records have no version yet."""

    def add_version_field(self, version: int | None) -> None:
        if version is None:
            return
        self.fields["version"] = forms.IntegerField(
            widget=forms.HiddenInput,
            min_value=1,
            initial=version,
            error_messages=dict.fromkeys(
                ("required", "invalid", "min_value"), RECORD_VERSION_MISSING
            ),
        )

    def clean(self):
        data = super().clean()
        if "version" in self._errors:
            del self._errors["version"]
            self.add_error(None, RECORD_VERSION_MISSING)
        return data


class ServiceModelForm(PlainLabelsMixin, RecordVersionMixin, forms.ModelForm):
    """A ModelForm that only parses and validates fields: a service writes the record, with
    the ``service_fields`` values of :meth:`service_data` (the form is never saved). Editing
    a record, it carries the record's ``version``."""

    service_fields: tuple[str, ...] = ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.add_version_field(self.instance.version if self.instance.pk else None)

    def service_data(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.service_fields}

    def _post_clean(self):
        # Field validation only; the services validate the record and own its state.
        pass


def add_owner_field(form: forms.Form, user, **kwargs) -> None:
    """Give ``form`` the owner dropdown, preset to its record's owner (or ``user`` for a new
    record)."""
    form.fields["owner"] = owner_field(user, **kwargs)
    form.fields["owner"].initial = form.instance.owner_id if form.instance.pk else user.pk


def limit_choices(form: forms.Form, name: str, shown, limit: int = CHOICE_LIMIT) -> bool:
    """Render at most ``limit`` options of ``shown`` (plus the field's current value) in the
    dropdown of ``form[name]`` while validation still accepts the field's whole queryset.
    Returns whether more records matched than are listed."""
    field = form.fields[name]
    options = list(shown[: limit + 1])
    more = len(options) > limit
    options = options[:limit]
    current = form[name].value()
    if current not in (None, "") and str(current) not in {str(o.pk) for o in options}:
        missing = (ValueError, TypeError, OverflowError, field.queryset.model.DoesNotExist)
        with contextlib.suppress(*missing):
            options.insert(0, field.queryset.get(pk=int(current)))
    field.widget.choices = [("", field.empty_label)] + [
        (o.pk, field.label_from_instance(o)) for o in options
    ]
    return more


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


class QueryForm(forms.Form):
    """The query-string parameters a page reads besides its filter bar (page number, tab,
    sort, drill-down keys …), parsed and bounded like any form input.

    :meth:`parse` returns the cleaned values; a value out of range or malformed is a 400 (the
    link was not made by the application), never a server error further down.
    """

    @classmethod
    def parse(cls, data, **kwargs) -> dict:
        form = cls(data, **kwargs)
        if not form.is_valid():
            problems = "; ".join(
                f"{name}: {' '.join(errors)}" for name, errors in form.errors.items()
            )
            raise BadRequest(f"The link has a value the page cannot use ({problems}).")
        return form.cleaned_data

    @classmethod
    def parse_or_ignore(cls, data, **kwargs) -> dict:
        """The cleaned values, a malformed or out-of-range one read as absent (for optional
        hints such as a preselection, where the page is still useful without it)."""
        form = cls(data, **kwargs)
        form.is_valid()
        values = dict.fromkeys(form.fields)
        for name, field in form.fields.items():
            values[name] = form.cleaned_data.get(name, field.to_python(None))
        return values


MAX_ID = 2**63 - 1


class ChoiceQuery(QueryForm):
    """What a create or edit page takes from its link: the searches that narrow its company
    and contact dropdowns (``?company_q=``, ``?contact_q=``) and the records to preselect
    (``?pipeline=``, ``?company=``, ``?contact=``, ``?kind=``)."""

    company_q = forms.CharField(max_length=100, required=False)
    contact_q = forms.CharField(max_length=100, required=False)
    pipeline = forms.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    company = forms.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    contact = forms.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    kind = forms.SlugField(max_length=20, required=False)


def choice_query(request) -> dict:
    """:class:`ChoiceQuery` of ``request.GET``; a malformed or out-of-range value (a NUL
    byte, an id past bigint) is ignored, never passed on to a query."""
    values = ChoiceQuery.parse_or_ignore(request.GET)
    for name in ("pipeline", "company", "contact"):
        # Preselections as the form data would hold them.
        values[name] = "" if values[name] is None else str(values[name])
    return values
