"""Forms of the import wizard: upload, column mapping, value mapping."""

from __future__ import annotations

from django import forms

from accounts import visibility
from imports.mapping import FIELDS, PRESET_NAMES
from imports.models import ImportMapping, Kind
from imports.parsing import DATE_ORDERS, MAX_BYTES
from pipeline.models import LostReason, Pipeline, Stage


class UploadForm(forms.Form):
    kind = forms.ChoiceField(label="Each row is", choices=Kind.choices, initial=Kind.DEALS)
    file = forms.FileField(
        label="CSV or XLSX file",
        help_text="Up to 200,000 rows and 50 MB. UTF-8, UTF-16 or Windows-1252; comma, "
        "semicolon or tab separated.",
    )

    def clean_file(self):
        f = self.cleaned_data["file"]
        if f.size > MAX_BYTES:
            raise forms.ValidationError("The file is larger than 50 MB; split it.")
        return f


class ColumnsForm(forms.Form):
    """One select per field of the kind: which header holds it."""

    date_order = forms.ChoiceField(
        label="Dates are written as",
        choices=[("", "Detect from the file"), *DATE_ORDERS],
        required=False,
        help_text="Needed when every slashed date could be day/month or month/day.",
    )
    save_as = forms.CharField(
        label="Save this mapping as",
        max_length=100,
        required=False,
        help_text="A name to choose this mapping for the next file.",
    )

    def __init__(self, *args, batch, **kwargs):
        super().__init__(*args, **kwargs)
        self.batch = batch
        choices = [("", "— not imported —")] + [(h, h) for h in batch.headers]
        current = batch.options.get("columns") or {}
        self.field_keys = []
        for f in FIELDS[batch.kind]:
            name = f"col_{f.key}"
            self.fields[name] = forms.ChoiceField(
                label=f.label + (" *" if f.required else ""),
                choices=choices,
                required=False,
                initial=current.get(f.key, ""),
            )
            self.field_keys.append((f.key, name))
        self.fields["date_order"].initial = batch.options.get("date_order", "")

    def clean(self):
        data = super().clean()
        used = {}
        for _key, name in self.field_keys:
            header = data.get(name)
            if header and header in used:
                self.add_error(name, f"“{header}” is already mapped to {used[header]}.")
            elif header:
                used[header] = self.fields[name].label
        for f in FIELDS[self.batch.kind]:
            if f.required and not data.get(f"col_{f.key}"):
                self.add_error(f"col_{f.key}", "Every row needs this; choose its column.")
        return data

    def columns(self) -> dict[str, str]:
        return {
            key: self.cleaned_data[name]
            for key, name in self.field_keys
            if self.cleaned_data.get(name)
        }

    def column_fields(self):
        return [self[name] for _, name in self.field_keys]


def preset_choices(user, kind: str):
    out = [("", "—")]
    if kind == Kind.DEALS:
        out += [(f"preset:{k}", f"{v} deal export") for k, v in PRESET_NAMES.items()]
    out += [
        (f"saved:{m.pk}", f"Saved: {m.name}")
        for m in ImportMapping.objects.filter(owner=user, kind=kind)
    ]
    return out


class ValuesForm(forms.Form):
    """What the file's values mean: pipeline and stages, owners, lost reasons."""

    valid_only = forms.BooleanField(
        label="Import the valid rows only",
        required=False,
        help_text="Otherwise one refused row stops the whole import (nothing is written).",
    )

    def __init__(self, *args, batch, user, values: dict, **kwargs):
        super().__init__(*args, **kwargs)
        self.batch = batch
        opts = batch.options
        self.stage_fields, self.owner_fields, self.reason_fields = [], [], []
        self.fields["valid_only"].initial = opts.get("valid_only", False)
        self.can_assign = visibility.can_assign_owner(user)
        users = list(visibility.visible_users(user).order_by("first_name", "last_name", "id"))
        user_choices = [("", "— match by email, username or name —")] + [
            (str(u.pk), u.get_full_name() or u.username) for u in users
        ]
        if self.can_assign and values.get("owner"):
            for i, value in enumerate(values["owner"][:100]):
                name = f"owner_{i}"
                self.fields[name] = forms.ChoiceField(
                    label=value,
                    choices=user_choices,
                    required=False,
                    initial=str((opts.get("owner_map") or {}).get(value, "")),
                )
                self.owner_fields.append((value, name))
        if self.can_assign:
            self.fields["default_owner"] = forms.ChoiceField(
                label="Rows with an unknown owner go to",
                choices=[("", "— refuse those rows —")] + user_choices[1:],
                required=False,
                initial=str(opts.get("default_owner") or ""),
            )
        if batch.kind == Kind.DEALS:
            pipelines = Pipeline.objects.filter(is_active=True)
            self.fields["pipeline"] = forms.ModelChoiceField(
                queryset=pipelines,
                empty_label=None,
                initial=opts.get("pipeline") or (pipelines.first().pk if pipelines else None),
            )
            pipeline = pipelines.filter(pk=opts.get("pipeline")).first() or pipelines.first()
            stages = list(pipeline.stages.order_by("position", "id")) if pipeline else []
            stage_choices = [("", "— refuse these rows —")] + [
                (str(s.pk), f"{s.name} ({s.get_kind_display().lower()})") for s in stages
            ]
            by_name = {s.name.lower(): s.pk for s in stages}
            for i, value in enumerate(values.get("stage", [])[:100]):
                name = f"stage_{i}"
                initial = (opts.get("stage_map") or {}).get(value) or by_name.get(value.lower())
                self.fields[name] = forms.ChoiceField(
                    label=value, choices=stage_choices, required=False, initial=str(initial or "")
                )
                self.stage_fields.append((value, name))
            opens = [s for s in stages if s.kind == Stage.Kind.OPEN]
            self.fields["engaged_stage"] = forms.ChoiceField(
                label="“Engaged on” means the deal entered",
                choices=[(str(s.pk), s.name) for s in opens],
                required=False,
                initial=str(opts.get("engaged_stage") or (opens[1].pk if len(opens) > 1 else "")),
            )
            reasons = list(LostReason.objects.filter(is_active=True))
            reason_choices = [("", "— match by name —")] + [(str(r.pk), r.name) for r in reasons]
            for i, value in enumerate(values.get("lost_reason", [])[:100]):
                name = f"reason_{i}"
                self.fields[name] = forms.ChoiceField(
                    label=value,
                    choices=reason_choices,
                    required=False,
                    initial=str((opts.get("lost_reason_map") or {}).get(value, "")),
                )
                self.reason_fields.append((value, name))
            self.fields["default_lost_reason"] = forms.ChoiceField(
                label="Lost deals without a known reason get",
                choices=[("", "— refuse those rows —")] + reason_choices[1:],
                required=False,
                initial=str(opts.get("default_lost_reason") or ""),
            )
            self.fields["no_company"] = forms.CharField(
                label="Deals without a company go under",
                max_length=200,
                required=False,
                initial=opts.get("no_company", ""),
                help_text="Leave empty to import them without a company.",
            )
            self.fields["default_close_days"] = forms.IntegerField(
                label="Open deals without a close date are expected to close in (days)",
                min_value=0,
                max_value=3650,
                initial=opts.get("default_close_days", 30),
            )

    def options(self) -> dict:
        d = self.cleaned_data
        out = {"valid_only": bool(d.get("valid_only"))}
        if self.can_assign:
            out["owner_map"] = {v: d[n] for v, n in self.owner_fields if d.get(n)}
            out["default_owner"] = d.get("default_owner") or None
        if self.batch.kind == Kind.DEALS:
            out.update(
                pipeline=d["pipeline"].pk,
                stage_map={v: d[n] for v, n in self.stage_fields if d.get(n)},
                engaged_stage=d.get("engaged_stage") or None,
                lost_reason_map={v: d[n] for v, n in self.reason_fields if d.get(n)},
                default_lost_reason=d.get("default_lost_reason") or None,
                no_company=(d.get("no_company") or "").strip(),
                default_close_days=d.get("default_close_days") or 30,
            )
        return out
