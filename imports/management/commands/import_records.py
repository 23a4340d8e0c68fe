"""``manage.py import_records FILE --kind deals --mapping NAME|FILE [--as USER] [--dry-run]``

The wizard's code path for operators: the same parsing, plan and set-wise write, with a text
preview (counts and every refused row) instead of the preview page. ``--mapping`` names a
saved mapping of the importing user, a ready-made one (``pipedrive``, ``hubspot``,
``salesforce``) or a JSON file with the wizard's options (``{"columns": {...},
"stage_map": {...}, ...}``); without it the columns are detected from the headers.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from imports import services
from imports.mapping import PRESETS, apply_preset
from imports.models import ImportBatch, ImportMapping, Kind


class Command(BaseCommand):
    help = "Import companies, contacts, leads or deals from a CSV or XLSX file."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--kind", choices=Kind.values, required=True)
        parser.add_argument("--mapping", default="")
        parser.add_argument(
            "--as",
            dest="username",
            default="",
            help="Who imports (default: the first active admin).",
        )
        parser.add_argument(
            "--valid-only",
            action="store_true",
            help="Import the valid rows and skip the refused ones.",
        )
        parser.add_argument(
            "--matches",
            choices=["skip", "update"],
            default=None,
            help="Rows without an external id that are an existing deal (same name, same "
            "company): skip them (the default) or update the deal.",
        )
        parser.add_argument("--dry-run", action="store_true", help="Preview only.")

    def handle(self, *args, file, kind, mapping, username, valid_only, matches, dry_run, **options):
        user = self._user(username)
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"No such file: {file}")
        try:
            batch = services.create_batch(
                by=user, kind=kind, file_name=path.name, data=path.read_bytes()
            )
            opts = self._options(user, batch, mapping)
            opts["valid_only"] = valid_only
            if matches:
                opts["deal_matches"] = matches
            services.save_options(batch=batch, by=user, options=opts)
            plan = services.preview(batch=batch, by=user)
        except (ValidationError, PermissionDenied) as e:
            raise CommandError(" ".join(getattr(e, "messages", [str(e)]))) from None
        batch.refresh_from_db()
        self.stdout.write(
            f"{batch.file_name}: {batch.row_count} rows, {batch.encoding}"
            + (f", delimiter {batch.delimiter!r}" if batch.delimiter else "")
        )
        self.stdout.write(
            "Columns: "
            + ", ".join(f"{k} ← {v}" for k, v in batch.options.get("columns", {}).items())
        )
        c = plan.counts
        self.stdout.write(
            f"create {c['create']} · update {c['update']} · skip {c['skip']} · "
            f"refuse {c['refuse']} · new companies {c['companies']} · new contacts {c['contacts']}"
            + (f" · match an existing deal {c['match']}" if c.get("match") else "")
        )
        for e in plan.errors:
            self.stdout.write(f"  row {e.row} · {e.column} · {e.value!r}: {e.message}")
        if dry_run:
            batch.delete()
            self.stdout.write("Dry run: nothing was imported.")
            return
        try:
            batch, _ = services.confirm(batch=batch, by=user, token=batch.preview_token)
        except ValidationError as e:
            batch.delete()
            raise CommandError(" ".join(e.messages)) from None
        batch = services.run(batch_id=batch.pk)
        if batch.status != ImportBatch.Status.DONE:
            raise CommandError(batch.message)
        dates = services.backfill_after_import(batch_id=batch.pk)
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported as batch {batch.pk} ({len(dates)} snapshot dates back-filled)."
            )
        )

    def _user(self, username: str) -> User:
        qs = User.objects.filter(is_active=True)
        user = (
            qs.filter(username=username) if username else qs.filter(role="admin").order_by("id")
        ).first()
        if user is None:
            raise CommandError("No such active user; name one with --as USERNAME.")
        return user

    def _options(self, user, batch, mapping: str) -> dict:
        if not mapping:
            return {}
        if mapping in PRESETS:
            return {"columns": apply_preset(mapping, batch.headers)}
        saved = ImportMapping.objects.filter(owner=user, kind=batch.kind, name=mapping).first()
        if saved is not None:
            return {"columns": saved.columns}
        path = Path(mapping)
        if path.is_file():
            try:
                data = json.loads(path.read_text())
            except (ValueError, UnicodeDecodeError) as e:
                raise CommandError(f"The mapping file is not JSON: {e}") from None
            if not isinstance(data, dict):
                raise CommandError("The mapping file holds an object of options.")
            return data
        raise CommandError(f"No saved mapping, ready-made mapping or file named {mapping!r}.")
