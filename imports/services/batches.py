"""Upload: read a file into a batch, and the wizard's choices stored on it."""

from __future__ import annotations

from collections import Counter

from django.core.exceptions import PermissionDenied, ValidationError

from imports import parsing
from imports.mapping import FIELDS
from imports.models import ImportBatch, ImportedRecord, Kind

R = ImportedRecord.Model


# --- upload ----------------------------------------------------------------------------------


def create_batch(*, by, kind: str, file_name: str, data: bytes) -> ImportBatch:
    """Read the file (refusing what cannot be imported, see :mod:`imports.parsing`) and keep
    it in a new batch with its columns auto-mapped."""
    from imports.mapping import auto_map

    if kind not in Kind.values:
        raise ValidationError(
            {"kind": "Choose what the rows are: companies, contacts, leads or deals."}
        )
    if not (by is not None and by.is_authenticated and by.is_active):
        raise PermissionDenied("Sign in to import.")
    name = (file_name or "upload").rsplit("/", 1)[-1][:255]
    if not name.lower().endswith((".csv", ".txt", ".tsv", ".xlsx")):
        raise ValidationError({"file": "Upload a .csv or .xlsx file."})
    try:
        table = parsing.read_table(data, name)
    except parsing.FileRefused as e:
        raise ValidationError({"file": str(e)}) from None
    if name.lower().endswith(".xlsx") != (table.encoding == "XLSX"):
        raise ValidationError(
            {
                "file": "The file's content does not match its name (.csv or .xlsx); save it "
                "again in the format its name says."
            }
        )
    return ImportBatch.objects.create(
        kind=kind,
        owner=by,
        file_name=name,
        file_size=len(data),
        data=data,
        encoding=table.encoding,
        delimiter=table.delimiter,
        headers=table.headers,
        row_count=len(table.rows),
        options={"columns": auto_map(kind, table.headers)},
    )


def load_table(batch: ImportBatch) -> parsing.Table:
    if batch.data is None:
        raise ValidationError("This import has run; its file is no longer kept.")
    return parsing.read_table(bytes(batch.data), batch.file_name)


def column_values(table: parsing.Table, header: str | None, limit: int = 200) -> list[str]:
    """The distinct values of a column (for the value-mapping step), most frequent first."""
    if not header or header not in table.headers:
        return []
    i = table.headers.index(header)
    counts = Counter(parsing.text(row[i]) for row in table.rows)
    counts.pop("", None)
    return [v for v, _ in counts.most_common(limit)]


def detected_date_order(table: parsing.Table, columns: dict[str, str], kind: str) -> str:
    values = []
    for f in FIELDS[kind]:
        if f.type == "date" and columns.get(f.key) in table.headers:
            i = table.headers.index(columns[f.key])
            values.extend(row[i] for row in table.rows if isinstance(row[i], str))
    return parsing.detect_date_order(values)


def save_options(*, batch: ImportBatch, by, options: dict) -> ImportBatch:
    """Store the wizard's choices; any earlier preview no longer holds."""
    require_batch_owner(by, batch)
    if batch.status not in (ImportBatch.Status.UPLOADED, ImportBatch.Status.PREVIEWED):
        raise ValidationError("This import has already been confirmed.")
    batch.options = {**batch.options, **options}
    batch.status = ImportBatch.Status.UPLOADED
    batch.preview_token = ""
    batch.save(update_fields=["options", "status", "preview_token"])
    return batch


def require_batch_owner(by, batch: ImportBatch) -> None:
    if batch.owner_id != by.pk:
        raise PermissionDenied("Only the user who uploaded this file may import it.")
