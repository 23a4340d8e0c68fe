"""Every write of the imports app: upload, preview, import, undo, snapshot back-fill.

An import is planned, then written.

* :func:`plan` reads every row of the file with the batch's mapping, applies the same rules as
  the per-record services of ``pipeline.services`` (required fields, money and date limits,
  the owner the user may assign, stages of the chosen pipeline, exit criteria of every stage a
  deal entered, a lost reason for a lost deal, no close date in the future ...) and decides
  for each row: create, update, skip (an identical record exists) or refuse (with row,
  column, value and message). It writes nothing: the preview is this plan.
* :func:`execute` writes a plan in one transaction, set-wise: companies, contacts, leads,
  deals, their stage transitions and field history with the instants of the file, by
  ``bulk_create`` in chunks (never a loop over the per-deal services, and never a frozen
  clock). Rows that update an existing record go through the services, so their history is
  recorded like any edit. Every record written is listed in an :class:`ImportedRecord` for
  :func:`undo`.

Duplicates follow the one visibility rule: companies are matched by website domain, else by
case-insensitive name, contacts and leads by email, deals by external id (else by name and
company) — each among the records the importing user may see, so an import never reveals or
updates a record its user could not open.

A row's dates become instants at noon (``settings.TIME_ZONE``) of the day: the deal is
created in the pipeline's first open stage on its created date, enters the "engaged" stage on
its engaged date, and its final stage on its close date; without dates it enters today.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts import visibility
from accounts.models import User
from imports import parsing
from imports.mapping import FIELDS
from imports.models import ExternalKey, ImportBatch, ImportedRecord, Kind
from pipeline import board_cache
from pipeline import services as pipeline_services
from pipeline.models import (
    Activity,
    Company,
    Contact,
    ExitCriterion,
    Lead,
    LostReason,
    Opportunity,
    Pipeline,
    Stage,
    StageTransition,
)

INLINE_ROWS = 1000  # larger files run as a Celery task
PREVIEW_ROWS = 20
PREVIEW_TTL = dt.timedelta(minutes=30)
MAX_STORED_ERRORS = 5000
CHUNK = 2000
NAME_MAX = 200

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
    _require_batch_owner(by, batch)
    if batch.status not in (ImportBatch.Status.UPLOADED, ImportBatch.Status.PREVIEWED):
        raise ValidationError("This import has already been confirmed.")
    batch.options = {**batch.options, **options}
    batch.status = ImportBatch.Status.UPLOADED
    batch.preview_token = ""
    batch.save(update_fields=["options", "status", "preview_token"])
    return batch


def _require_batch_owner(by, batch: ImportBatch) -> None:
    if batch.owner_id != by.pk:
        raise PermissionDenied("Only the user who uploaded this file may import it.")


# --- planning --------------------------------------------------------------------------------


@dataclass
class RowError:
    row: int
    column: str
    value: str
    message: str

    def as_dict(self) -> dict:
        return {
            "row": self.row,
            "column": self.column,
            "value": self.value,
            "message": self.message,
        }


@dataclass
class Plan:
    kind: str
    total: int = 0
    create: list[dict] = field(default_factory=list)
    update: list[dict] = field(default_factory=list)
    skip: int = 0
    refused_rows: set[int] = field(default_factory=set)
    errors: list[RowError] = field(default_factory=list)
    new_companies: dict[str, dict] = field(default_factory=dict)  # key → values
    new_contacts: dict[str, dict] = field(default_factory=dict)
    first_date: dt.date | None = None
    # Counted apart from the lists: a preview keeps only its first rows (see Planner.keep).
    creates: int = 0
    updates: int = 0

    @property
    def counts(self) -> dict:
        return {
            "rows": self.total,
            "create": self.creates,
            "update": self.updates,
            "skip": self.skip,
            "refuse": len(self.refused_rows),
            "companies": len(self.new_companies),
            "contacts": len(self.new_contacts),
        }

    def preview_rows(self) -> list[dict]:
        return [dict(r, action="create") for r in self.create[:PREVIEW_ROWS]] + [
            dict(r, action="update")
            for r in self.update[: max(0, PREVIEW_ROWS - len(self.create[:PREVIEW_ROWS]))]
        ]


class DealRow:
    """A deal the plan creates. Slotted rather than a dict: a 200,000-row plan holds one per
    row, and a slotted object takes a fifth of a dict's memory. Read like a dict."""

    __slots__ = (
        "_action",
        "_row",
        "name",
        "amount",
        "expected_close_date",
        "probability",
        "next_step",
        "external_id",
        "owner",
        "stage",
        "closed_on",
        "lost_reason",
        "company_pk",
        "company_key",
        "contact_pk",
        "contact_key",
        "path",
        # what the preview shows
        "company",
        "contact",
        "created_on",
        "engaged_on",
    )

    def __init__(self, **values):
        for key, value in values.items():
            setattr(self, key, value)

    def __getitem__(self, key):
        return getattr(self, key)

    def get(self, key, default=None):
        return getattr(self, key, default)

    def keys(self):
        return self.__slots__

    def items(self):
        return [(k, getattr(self, k)) for k in self.__slots__]


class _RowRefused(Exception):
    pass


class _Row:
    """One file row being read: collects every cell error of the row."""

    def __init__(self, number: int, cells: list, headers: list[str], columns: dict[str, str]):
        self.number = number
        self.cells = cells
        self.index = {h: i for i, h in enumerate(headers)}
        self.columns = columns
        self.errors: list[RowError] = []

    def raw(self, key: str):
        header = self.columns.get(key)
        if not header or header not in self.index:
            return ""
        return self.cells[self.index[header]]

    def has(self, key: str) -> bool:
        return bool(self.columns.get(key)) and self.columns[key] in self.index

    def error(self, key: str, message: str, value=None) -> None:
        raw = self.raw(key) if value is None else value
        self.errors.append(
            RowError(self.number, self.columns.get(key, key), parsing.text(raw)[:200], message)
        )

    def get(self, key: str, parse=parsing.text, **kwargs):
        try:
            return parse(self.raw(key), **kwargs)
        except parsing.CellError as e:
            self.error(key, str(e))
            return None


class Planner:
    """Reads every row of a table with a batch's options for one user; see :func:`plan`."""

    def __init__(self, *, user, kind: str, options: dict, table: parsing.Table, keep=True):
        self.user = user
        # keep=False (a preview): count every row, keep only the first ones to show.
        self.keep = keep
        self.kind = kind
        self.options = options
        self.table = table
        self.columns = {k: v for k, v in (options.get("columns") or {}).items() if v}
        self.date_order = options.get("date_order") or detected_date_order(
            table, self.columns, kind
        )
        self.plan = Plan(kind=kind)
        self.today = timezone.localdate()
        self._users()

    # owners

    def _users(self) -> None:
        self.assignable = {u.pk: u for u in visibility.visible_users(self.user)}
        self.by_name: dict[str, User] = {}
        for u in self.assignable.values():
            for key in (u.email, u.username, u.get_full_name()):
                if key:
                    self.by_name.setdefault(key.strip().lower(), u)
        owner_map = self.options.get("owner_map") or {}
        for value, user_id in owner_map.items():
            if user_id and int(user_id) in self.assignable:
                self.by_name[value.strip().lower()] = self.assignable[int(user_id)]
        default = self.options.get("default_owner")
        self.default_owner = self.assignable.get(int(default)) if default else None

    def owner(self, row: _Row) -> User | None:
        is_rep = not visibility.can_assign_owner(self.user)
        if is_rep or not row.has("owner"):
            return self.user if is_rep else (self.default_owner or self.user)
        value = parsing.text(row.raw("owner"))
        if not value:
            return self.default_owner or self.user
        owner = self.by_name.get(value.lower())
        if owner is None:
            owner = self.default_owner
        if owner is None:
            row.error(
                "owner",
                f"No user you may assign matches “{value}”; map it to a user on the values "
                "step or choose who gets rows with an unknown owner.",
            )
        return owner

    # driver

    def run(self) -> Plan:
        handler = {
            Kind.COMPANIES: self.company_row,
            Kind.CONTACTS: self.contact_row,
            Kind.LEADS: self.lead_row,
            Kind.DEALS: self.deal_row,
        }[self.kind]
        self.prepare()
        missing = [f.label for f in FIELDS[self.kind] if f.required and f.key not in self.columns]
        if missing:
            raise ValidationError(f"Map a column to {', '.join(missing)}: every row needs it.")
        used_companies: set[str] = set()
        used_contacts: set[str] = set()
        for i, cells in enumerate(self.table.rows):
            number = i + 2
            self.plan.total += 1
            row = _Row(number, cells, self.table.headers, self.columns)
            if i in self.table.long_rows:
                row.error("", "The row has more cells than the header has columns.", "")
            try:
                outcome = handler(row)
            except _RowRefused:
                outcome = None
            if row.errors:
                self.plan.refused_rows.add(number)
                self.plan.errors.extend(row.errors)
                continue
            if outcome is None:
                self.plan.skip += 1
            elif outcome["_action"] == "update":
                self.plan.updates += 1
                if self.keep or len(self.plan.update) < PREVIEW_ROWS:
                    self.plan.update.append(outcome)
            else:
                self.plan.creates += 1
                if self.kind == Kind.DEALS:
                    if outcome["company_key"]:
                        used_companies.add(outcome["company_key"])
                    if outcome["contact_key"]:
                        used_contacts.add(outcome["contact_key"])
                if self.keep or len(self.plan.create) < PREVIEW_ROWS:
                    self.plan.create.append(outcome)
        if self.kind == Kind.DEALS:
            # Companies and contacts that only refused rows needed are not created.
            self.plan.new_companies = {
                k: v for k, v in self.plan.new_companies.items() if k in used_companies
            }
            self.plan.new_contacts = {
                k: v for k, v in self.plan.new_contacts.items() if k in used_contacts
            }
        self.table = None
        return self.plan

    def prepare(self) -> None:
        companies = Company.objects.visible_to(self.user).only("pk", "name", "website")
        self.company_by_domain: dict[str, Company] = {}
        self.company_by_name: dict[str, Company] = {}
        if self.kind in (Kind.COMPANIES, Kind.CONTACTS, Kind.DEALS):
            for c in companies.iterator(chunk_size=5000):
                d = parsing.domain_of(c.website)
                if d:
                    self.company_by_domain.setdefault(d, c)
                self.company_by_name.setdefault(c.name.strip().lower(), c)
        self.contact_by_email: dict[str, Contact] = {}
        self.contact_by_name: dict[tuple, Contact] = {}
        if self.kind in (Kind.CONTACTS, Kind.DEALS):
            for c in Contact.objects.visible_to(self.user).iterator(chunk_size=5000):
                if c.email:
                    self.contact_by_email.setdefault(c.email.strip().lower(), c)
                self.contact_by_name.setdefault((c.full_name.lower(), c.company_id), c)
        if self.kind == Kind.LEADS:
            self.lead_by_email = {
                lead.email.strip().lower(): lead
                for lead in Lead.objects.visible_to(self.user).exclude(email="")
            }
        if self.kind == Kind.DEALS:
            self._prepare_deals()

    # companies -------------------------------------------------------------------------------

    def _company_values(self, row: _Row, name_key: str, site_key: str) -> dict:
        values = {"name": row.get(name_key) or ""}
        if site_key:
            values["website"] = (row.get(site_key) or "")[:200]
        if len(values["name"]) > 200:
            row.error(name_key, "Keep the company name to 200 characters or fewer.")
        return values

    def find_company(self, name: str, website: str = "") -> Company | None:
        d = parsing.domain_of(website)
        if d and d in self.company_by_domain:
            return self.company_by_domain[d]
        return self.company_by_name.get(name.strip().lower())

    def company_row(self, row: _Row):
        values = self._company_values(row, "name", "website")
        if not values["name"]:
            row.error("name", "Give the company a name.")
        for key in ("industry", "phone", "city", "country"):
            if row.has(key):
                limit = Company._meta.get_field(key).max_length
                values[key] = (row.get(key) or "")[:limit]
        if row.has("employees"):
            values["employees"] = row.get("employees", parsing.parse_int, what="a head count")
        owner = self.owner(row)
        if row.errors:
            return None
        existing = self.find_company(values["name"], values.get("website", ""))
        key = parsing.domain_of(values.get("website", "")) or values["name"].lower()
        if existing is None:
            if key in self.plan.new_companies:
                return None  # the same company twice in the file
            self.plan.new_companies[key] = values
            return {"_action": "create", "_row": row.number, **values, "owner": owner}
        if existing.owner_id != owner.pk and not row.has("owner"):
            owner = None
        if values["name"].lower() == existing.name.lower():
            values.pop("name")  # matched by name: another capitalisation is no change
        changes = _changes(existing, values)
        if owner is not None and owner.pk != existing.owner_id:
            changes["owner"] = owner
        if not changes:
            return None
        return {"_action": "update", "_row": row.number, "_pk": existing.pk, **changes}

    # contacts --------------------------------------------------------------------------------

    def contact_row(self, row: _Row):
        values = self._person(row)
        if row.has("is_decision_maker"):
            values["is_decision_maker"] = row.get("is_decision_maker", parsing.parse_bool)
        company_name = row.get("company") or ""
        owner = self.owner(row)
        if row.errors:
            return None
        company = self.find_company(company_name) if company_name else None
        if company_name and company is None:
            key = company_name.lower()
            self.plan.new_companies.setdefault(key, {"name": company_name[:200]})
        existing = self._find_contact(values, company)
        if existing is None:
            return {
                "_action": "create",
                "_row": row.number,
                **values,
                "owner": owner,
                "company_pk": company.pk if company else None,
                "company_key": company_name.lower() if company_name and not company else "",
            }
        changes = _changes(existing, values)
        if not changes:
            return None
        return {"_action": "update", "_row": row.number, "_pk": existing.pk, **changes}

    def _person(self, row: _Row) -> dict:
        first = row.get("first_name") or ""
        last = row.get("last_name") or "" if row.has("last_name") else ""
        if first and not row.has("last_name") and " " in first:
            first, last = first.split(" ", 1)
        values = {"first_name": first[:100], "last_name": last[:100]}
        if not first:
            row.error("first_name", "Give the person a first name.")
        for key in ("email", "phone", "title"):
            if row.has(key):
                values[key] = row.get(key) or ""
        if values.get("email"):
            values["email"] = values["email"].lower()
            if not _valid_email(values["email"]):
                row.error("email", "Enter a valid email address.")
        for key in ("phone", "title"):
            if key in values:
                limit = Contact._meta.get_field(key).max_length
                values[key] = values[key][:limit]
        return values

    def _find_contact(self, values: dict, company: Company | None) -> Contact | None:
        email = values.get("email")
        if email:
            return self.contact_by_email.get(email)
        full = f"{values['first_name']} {values.get('last_name', '')}".strip().lower()
        return self.contact_by_name.get((full, company.pk if company else None))

    # leads -----------------------------------------------------------------------------------

    def lead_row(self, row: _Row):
        values = self._person(row)
        for key in ("company_name", "need", "authority", "timeline"):
            if row.has(key):
                values[key] = row.get(key) or ""
        for key in ("company_name", "authority", "timeline"):
            if key in values:
                values[key] = values[key][: Lead._meta.get_field(key).max_length]
        if row.has("source"):
            source = (row.get("source") or "").lower()
            valid = {v: v for v in Lead.Source.values} | {
                label.lower(): v for v, label in Lead.Source.choices
            }
            if source and source not in valid:
                values["source"] = Lead.Source.OTHER
            elif source:
                values["source"] = valid[source]
        if row.has("budget"):
            values["budget"] = row.get("budget", parsing.parse_money)
        created = row.get("created_on", parsing.parse_date, order=self.date_order)
        if created and created > self.today:
            row.error("created_on", "A lead cannot be created in the future.")
        owner = self.owner(row)
        if row.errors:
            return None
        existing = self.lead_by_email.get(values.get("email") or "")
        if existing is None:
            self._note_date(created)
            return {
                "_action": "create",
                "_row": row.number,
                **values,
                "owner": owner,
                "created_on": created,
            }
        changes = _changes(existing, values)
        if not changes:
            return None
        if not existing.is_open:
            row.error(
                "email",
                f"The lead with this email is {existing.get_status_display().lower()}"
                " and can no longer be edited.",
            )
            return None
        return {"_action": "update", "_row": row.number, "_pk": existing.pk, **changes}

    def _note_date(self, day: dt.date | None) -> None:
        if day and (self.plan.first_date is None or day < self.plan.first_date):
            self.plan.first_date = day

    # deals -----------------------------------------------------------------------------------

    def _prepare_deals(self) -> None:
        pipeline_id = self.options.get("pipeline")
        self.pipeline = (
            Pipeline.objects.filter(pk=pipeline_id, is_active=True).first()
            if pipeline_id
            else Pipeline.objects.filter(is_active=True).order_by("position", "id").first()
        )
        if self.pipeline is None:
            raise ValidationError("Choose an active pipeline for the deals.")
        self.stages = list(self.pipeline.stages.order_by("position", "id"))
        self.stage_by_id = {s.pk: s for s in Stage.objects.all()}
        self.stage_by_name = {s.name.lower(): s for s in self.stages}
        for value, stage_id in (self.options.get("stage_map") or {}).items():
            if stage_id:
                stage = self.stage_by_id.get(int(stage_id))
                self.stage_by_name[value.strip().lower()] = stage
        opens = [s for s in self.stages if s.is_open]
        if not opens:
            raise ValidationError(f"{self.pipeline.name} has no open stage.")
        self.first_open = opens[0]
        engaged = self.options.get("engaged_stage")
        self.engaged_stage = self.stage_by_id.get(int(engaged)) if engaged else None
        if self.engaged_stage is None or self.engaged_stage.pipeline_id != self.pipeline.pk:
            self.engaged_stage = opens[1] if len(opens) > 1 else opens[0]
        self.won_stage = next((s for s in self.stages if s.is_won), None)
        self.lost_stage = next((s for s in self.stages if s.is_lost), None)
        reasons = {r.name.lower(): r for r in LostReason.objects.filter(is_active=True)}
        by_id = {r.pk: r for r in reasons.values()}
        for value, reason_id in (self.options.get("lost_reason_map") or {}).items():
            if reason_id and int(reason_id) in by_id:
                reasons[value.strip().lower()] = by_id[int(reason_id)]
        self.lost_reasons = reasons
        default = self.options.get("default_lost_reason")
        self.default_lost_reason = by_id.get(int(default)) if default else None
        self.no_company = (self.options.get("no_company") or "").strip()[:200]
        self.close_days = int(self.options.get("default_close_days") or 30)
        visible = Opportunity.objects.visible_to(self.user)
        self.deal_by_key: dict[str, Opportunity] = {}
        if "external_id" in self.columns:
            keys = ExternalKey.objects.filter(model=R.DEAL).values_list("key", "object_id")
            ids: dict[int, str] = {oid: key for key, oid in keys}
            if ids:
                for deal in visible.filter(pk__in=list(ids)).select_related("stage"):
                    self.deal_by_key[ids[deal.pk]] = deal
        if "external_id" in self.columns:
            # ``opportune-<id>``: a deal exported from this database (imports.exports).
            i = self.table.headers.index(self.columns["external_id"])
            own = {}
            for row in self.table.rows:
                key = parsing.text(row[i])
                if (
                    key.startswith("opportune-")
                    and key[10:].isdigit()
                    and key not in (self.deal_by_key)
                ):
                    own[int(key[10:])] = key
            for deal in visible.filter(pk__in=list(own)[:200_000]).select_related("stage"):
                self.deal_by_key.setdefault(own[deal.pk], deal)
        self.seen_ids: dict[str, int] = {}

    def _stage(self, row: _Row) -> Stage | None:
        value = parsing.text(row.raw("stage"))
        outcome = parsing.text(row.raw("outcome")).lower() if row.has("outcome") else ""
        stage = self.stage_by_name.get(value.lower()) if value else None
        if value and stage is None:
            row.error(
                "stage",
                f"Unknown stage “{value}”; map it to a stage of {self.pipeline.name} on the "
                "values step.",
            )
            return None
        if stage is not None and stage.pipeline_id != self.pipeline.pk:
            row.error(
                "stage", f"{stage.name} is a stage of another pipeline than {self.pipeline.name}."
            )
            return None
        if outcome in ("won", "closed won", "closed-won"):
            if self.won_stage is None:
                row.error("outcome", f"{self.pipeline.name} has no won stage.")
                return None
            stage = stage if stage is not None and stage.is_won else self.won_stage
        elif outcome in ("lost", "closed lost", "closed-lost"):
            if self.lost_stage is None:
                row.error("outcome", f"{self.pipeline.name} has no lost stage.")
                return None
            stage = stage if stage is not None and stage.is_lost else self.lost_stage
        elif outcome not in ("", "open"):
            row.error("outcome", f"“{outcome}” is not won, lost or open.")
            return None
        if stage is None:
            row.error("stage", "Give the deal's stage.")
        return stage

    def deal_row(self, row: _Row):
        name = row.get("name") or ""
        if not name:
            row.error("name", "Give the deal a name.")
        elif len(name) > NAME_MAX:
            row.error("name", f"Keep the name to {NAME_MAX} characters or fewer.")
        amount = row.get("amount", parsing.parse_money) if row.has("amount") else None
        stage = self._stage(row)
        order = self.date_order
        created = row.get("created_on", parsing.parse_date, order=order)
        engaged = row.get("engaged_on", parsing.parse_date, order=order)
        closed = row.get("closed_on", parsing.parse_date, order=order)
        expected = row.get("expected_close_date", parsing.parse_date, order=order)
        probability = None
        if row.has("probability"):
            probability = row.get(
                "probability", parsing.parse_int, high=100, what="a percentage from 0 to 100"
            )
        next_step = (row.get("next_step") or "")[:255] if row.has("next_step") else ""
        owner = self.owner(row)
        external_id = (row.get("external_id") or "")[:200] if row.has("external_id") else ""
        if external_id:
            if external_id in self.seen_ids:
                row.error(
                    "external_id",
                    f"External id {external_id} appears twice in this "
                    f"file (first on row {self.seen_ids[external_id]}).",
                )
            else:
                self.seen_ids[external_id] = row.number
        lost_reason = None
        if stage is not None and not stage.is_open and closed is None and not row.has("closed_on"):
            # One "close date" column: for a closed deal it is when the deal closed.
            closed = expected
        if stage is not None and not stage.is_open:
            close_key = "closed_on" if row.has("closed_on") else "expected_close_date"
            if closed is None and stage.is_won:
                row.error(close_key, "A won deal needs the date it was closed.", "")
            if closed is not None and closed > self.today:
                row.error(
                    close_key, "A deal cannot close in the future; use today or an earlier date."
                )
            if stage.is_lost:
                value = parsing.text(row.raw("lost_reason"))
                lost_reason = self.lost_reasons.get(value.lower()) if value else None
                lost_reason = lost_reason or self.default_lost_reason
                if lost_reason is None:
                    row.error(
                        "lost_reason",
                        f"Unknown lost reason “{value}”; map it on the values step."
                        if value
                        else "A lost deal needs a lost reason; "
                        "map a column or choose a default lost reason.",
                    )
        else:
            closed = None
        for day, key in ((created, "created_on"), (engaged, "engaged_on")):
            if day and day > self.today:
                row.error(key, "This date is in the future; history is what happened.")
        dates = [
            (k, d)
            for k, d in (
                ("created_on", created),
                ("engaged_on", engaged),
                ("closed_on" if row.has("closed_on") else "expected_close_date", closed),
            )
            if d
        ]
        for (k1, d1), (k2, d2) in zip(dates, dates[1:], strict=False):
            if d2 < d1:
                row.error(
                    k2, f"This date is before the {k1.replace('_', ' ')} date ({d1.isoformat()})."
                )
        company_name = (row.get("company") or "")[:200] if row.has("company") else ""
        website = (row.get("company_website") or "")[:200] if row.has("company_website") else ""
        contact_values = self._deal_contact(row)
        if row.errors:
            return None
        if expected is None:
            expected = closed or self.today + dt.timedelta(days=self.close_days)
        amount = amount if amount is not None else Decimal("0.00")

        company, company_key = None, ""
        if not company_name and self.no_company:
            company_name = self.no_company
        if company_name:
            company = self.find_company(company_name, website)
            if company is None:
                company_key = parsing.domain_of(website) or company_name.lower()
                self.plan.new_companies.setdefault(
                    company_key, {"name": company_name, "website": website, "owner": owner}
                )
        contact, contact_key = None, ""
        decision_maker = False
        if contact_values:
            contact = self._find_contact(contact_values, company)
            decision_maker = contact_values.pop("is_decision_maker", False)
            if contact is None:
                contact_key = contact_values.get("email") or (
                    f"{contact_values['first_name']} {contact_values['last_name']}".lower()
                    + f"|{company_key or (company.pk if company else '')}"
                )
                self.plan.new_contacts.setdefault(
                    contact_key,
                    {
                        **contact_values,
                        "owner": owner,
                        "company_key": company_key,
                        "company_pk": company.pk if company else None,
                        "is_decision_maker": decision_maker,
                    },
                )
            else:
                decision_maker = contact.is_decision_maker

        path = self._path(stage, created, engaged, closed)
        facts = {
            "amount": amount,
            "contact": bool(contact or contact_key),
            "decision_maker": decision_maker,
            "next_step": next_step,
        }
        for entered, _ in path:
            missing = _missing_criteria(entered, facts)
            if missing:
                row.error(
                    "stage",
                    f"“{name}” cannot enter {entered.name}: it needs {', '.join(missing)}.",
                    stage.name,
                )
                return None
        values = {
            "name": name,
            "amount": amount,
            "expected_close_date": expected,
            "probability": probability if stage.is_open else None,
            "next_step": next_step,
        }
        existing = None
        if external_id:
            existing = self.deal_by_key.get(external_id)
        if existing is not None:
            changes = _changes(existing, values)
            if stage.pk != existing.stage_id:
                changes["stage"] = stage.pk
                changes["closed_on"] = closed
                changes["lost_reason"] = lost_reason.pk if lost_reason else None
            if not changes:
                return None
            return {"_action": "update", "_row": row.number, "_pk": existing.pk, **changes}
        for d in (created, engaged, closed):
            self._note_date(d)
        return DealRow(
            _action="create",
            _row=row.number,
            **values,
            external_id=external_id,
            owner=owner,
            stage=stage,
            closed_on=closed or (None if stage.is_open else self.today),
            lost_reason=lost_reason,
            company_pk=company.pk if company else None,
            company_key=company_key,
            contact_pk=contact.pk if contact else None,
            contact_key=contact_key,
            path=path,
            # what the preview shows
            company=company.name if company else company_name,
            contact=" ".join(
                filter(None, [contact_values.get("first_name"), contact_values.get("last_name")])
            )
            if contact_values
            else "",
            created_on=created,
            engaged_on=engaged,
        )

    def _deal_contact(self, row: _Row) -> dict | None:
        full = (row.get("contact") or "") if row.has("contact") else ""
        email = (row.get("contact_email") or "").lower() if row.has("contact_email") else ""
        if not full and not email:
            return None
        first, _, last = full.partition(" ")
        if not first:
            first = email.split("@")[0]
        if email and not _valid_email(email):
            row.error("contact_email", "Enter a valid email address.")
        values = {"first_name": first[:100], "last_name": last[:100], "email": email}
        if row.has("contact_phone"):
            values["phone"] = (row.get("contact_phone") or "")[:50]
        if row.has("contact_decision_maker"):
            values["is_decision_maker"] = bool(
                row.get("contact_decision_maker", parsing.parse_bool)
            )
        return values

    def _path(self, stage: Stage, created, engaged, closed) -> list[tuple[Stage, Any]]:
        """The stages the deal entered, with the day of each (None: today)."""
        start = created or engaged or closed
        path: list[tuple[Stage, Any]] = [(self.first_open, start)]
        if engaged:
            target = stage if stage.is_open else self.engaged_stage
            path.append((target, engaged))
        if not stage.is_open:
            path.append((stage, closed))
        elif path[-1][0] != stage:
            path.append((stage, path[-1][1]))
        out: list[tuple[Stage, Any]] = []
        for s, day in path:
            if out and out[-1][0] == s:
                continue
            out.append((s, day))
        return out


def _missing_criteria(stage: Stage, facts: dict) -> list[str]:
    missing = []
    for criterion in stage.exit_criteria or []:
        if criterion == ExitCriterion.AMOUNT and not facts["amount"] > 0:
            missing.append("an amount above zero")
        elif criterion == ExitCriterion.CONTACT and not facts["contact"]:
            missing.append("a primary contact")
        elif criterion == ExitCriterion.DECISION_MAKER and not facts["decision_maker"]:
            missing.append("a decision-maker as primary contact")
        elif criterion == ExitCriterion.NEXT_STEP and not facts["next_step"]:
            missing.append("a next step")
    return missing


def _valid_email(value: str) -> bool:
    from django.core.validators import validate_email

    try:
        validate_email(value)
    except ValidationError:
        return False
    return True


def _changes(obj, values: dict) -> dict:
    out = {}
    for key, value in values.items():
        current = getattr(obj, key)
        if isinstance(current, str) and value is None:
            value = ""
        if current != value:
            out[key] = value
    return out


def plan(*, batch: ImportBatch, by, keep: bool = True) -> Plan:
    _require_batch_owner(by, batch)
    table = load_table(batch)
    planner = Planner(user=by, kind=batch.kind, options=batch.options, table=table, keep=keep)
    del table
    return planner.run()


def preview(*, batch: ImportBatch, by) -> Plan:
    """Plan the import and store its counts and refused rows on the batch, with a token the
    confirm must bring back (a preview is valid for 30 minutes and only once)."""
    if batch.status not in (ImportBatch.Status.UPLOADED, ImportBatch.Status.PREVIEWED):
        raise ValidationError("This import has already been confirmed.")
    result = plan(batch=batch, by=by, keep=False)
    batch.counts = result.counts
    batch.errors = [e.as_dict() for e in result.errors[:MAX_STORED_ERRORS]]
    batch.error_count = len(result.errors)
    batch.status = ImportBatch.Status.PREVIEWED
    batch.preview_token = secrets.token_urlsafe(24)
    batch.preview_expires_at = timezone.now() + PREVIEW_TTL
    batch.save(
        update_fields=[
            "counts",
            "errors",
            "error_count",
            "status",
            "preview_token",
            "preview_expires_at",
        ]
    )
    return result


# --- confirm and execute ---------------------------------------------------------------------


def confirm(*, batch: ImportBatch, by, token: str) -> tuple[ImportBatch, bool]:
    """Accept the preview the user saw. Returns the batch and whether it must run as a task
    (more than :data:`INLINE_ROWS` rows). A second confirm of the same preview, a stale or
    expired one, is refused and changes nothing."""
    with transaction.atomic():
        locked = ImportBatch.objects.select_for_update().get(pk=batch.pk)
        _require_batch_owner(by, locked)
        if locked.status != ImportBatch.Status.PREVIEWED:
            raise ValidationError(
                "This import was already confirmed; see its progress below.", code="confirmed"
            )
        if not token or not secrets.compare_digest(token, locked.preview_token):
            raise ValidationError(
                "This preview is out of date; look at the new preview and confirm again.",
                code="stale",
            )
        if locked.preview_expires_at is None or locked.preview_expires_at < timezone.now():
            locked.status = ImportBatch.Status.UPLOADED
            locked.preview_token = ""
            locked.save(update_fields=["status", "preview_token"])
            raise ValidationError(
                "The preview expired (after 30 minutes); preview again and confirm.", code="expired"
            )
        if not locked.options.get("valid_only") and locked.counts.get("refuse"):
            raise ValidationError(
                f"{locked.counts['refuse']} rows are refused. Fix them in the file, or choose "
                "“Import the valid rows only”.",
                code="refused",
            )
        locked.status = ImportBatch.Status.QUEUED
        locked.preview_token = ""
        locked.save(update_fields=["status", "preview_token"])
    return locked, locked.row_count > INLINE_ROWS


def progress_key(batch_id: int, what: str = "import") -> str:
    return f"imports:{what}:{batch_id}"


def progress(batch_id: int, what: str = "import") -> dict:
    return cache.get(progress_key(batch_id, what)) or {}


def _set_progress(batch_id: int, done: int, total: int, phase: str, what="import") -> None:
    cache.set(
        progress_key(batch_id, what),
        {"done": done, "total": total, "phase": phase},
        timeout=24 * 3600,
    )


def run(*, batch_id: int) -> ImportBatch:
    """Plan and write a confirmed batch (the task's body, also run inline). A failure leaves
    nothing written and the batch failed with its reason."""
    batch = ImportBatch.objects.select_related("owner").get(pk=batch_id)
    if batch.status not in (ImportBatch.Status.QUEUED, ImportBatch.Status.RUNNING):
        return batch
    ImportBatch.objects.filter(pk=batch.pk).update(status=ImportBatch.Status.RUNNING)
    _set_progress(batch.pk, 0, batch.row_count, "reading")
    try:
        result = plan(batch=batch, by=batch.owner)
        if result.refused_rows and not batch.options.get("valid_only"):
            raise ValidationError(
                f"{len(result.refused_rows)} rows are refused; nothing was imported."
            )
        with transaction.atomic():
            execute(result, batch=batch, by=batch.owner)
    except (ValidationError, PermissionDenied) as e:
        message = " ".join(getattr(e, "messages", [str(e)]))
        ImportBatch.objects.filter(pk=batch.pk).update(
            status=ImportBatch.Status.FAILED, message=message, finished_at=timezone.now()
        )
        _set_progress(batch.pk, 0, batch.row_count, "failed")
        batch.refresh_from_db()
        return batch
    except Exception:
        ImportBatch.objects.filter(pk=batch.pk).update(
            status=ImportBatch.Status.FAILED,
            message="The import stopped on an unexpected error; nothing was imported. Try "
            "again, and if it happens again tell an admin (the error is in the server log).",
            finished_at=timezone.now(),
        )
        raise
    batch.counts = result.counts
    batch.errors = [e.as_dict() for e in result.errors[:MAX_STORED_ERRORS]]
    batch.error_count = len(result.errors)
    batch.first_date = result.first_date
    batch.status = ImportBatch.Status.DONE
    batch.finished_at = timezone.now()
    batch.data = None
    batch.save(
        update_fields=[
            "counts",
            "errors",
            "error_count",
            "first_date",
            "status",
            "finished_at",
            "data",
        ]
    )
    _set_progress(batch.pk, batch.row_count, batch.row_count, "done")
    board_cache.changed()
    return batch


def _instant(day: dt.date | None, now: dt.datetime) -> dt.datetime:
    if day is None:
        return now
    return timezone.make_aware(dt.datetime.combine(day, dt.time(12, 0)))


def _effective_probability(stage: Stage, override) -> int:
    if stage.kind == Stage.Kind.WON:
        return 100
    if stage.kind == Stage.Kind.LOST:
        return 0
    return override if override is not None else stage.probability


def execute(result: Plan, *, batch: ImportBatch, by) -> None:
    """Write a plan set-wise (inside the caller's transaction)."""
    now = timezone.now()
    total = result.total

    # companies
    company_objs = {}
    for key, values in result.new_companies.items():
        company_objs[key] = Company(
            owner=values.get("owner") or by,
            **{k: v for k, v in values.items() if k != "owner"},
        )
    if result.kind == Kind.COMPANIES:
        company_objs = {}
        for r in result.create:
            values = {k: v for k, v in r.items() if not k.startswith("_")}
            company_objs[r["_row"]] = Company(**values)
    Company.objects.bulk_create(list(company_objs.values()), batch_size=CHUNK)
    _record_created(batch, R.COMPANY, company_objs.values())
    by_key = dict(company_objs)

    # contacts
    contact_objs = {}
    if result.kind == Kind.DEALS:
        for key, values in result.new_contacts.items():
            company = by_key.get(values["company_key"]) if values["company_key"] else None
            contact_objs[key] = Contact(
                owner=values["owner"],
                company_id=company.pk if company else values["company_pk"],
                **{
                    k: v
                    for k, v in values.items()
                    if k not in ("owner", "company_key", "company_pk")
                },
            )
    elif result.kind == Kind.CONTACTS:
        for r in result.create:
            company = by_key.get(r["company_key"]) if r["company_key"] else None
            values = {
                k: v
                for k, v in r.items()
                if not k.startswith("_") and k not in ("company_key", "company_pk")
            }
            contact_objs[r["_row"]] = Contact(
                company_id=company.pk if company else r["company_pk"], **values
            )
    Contact.objects.bulk_create(list(contact_objs.values()), batch_size=CHUNK)
    _record_created(batch, R.CONTACT, contact_objs.values())

    # leads
    if result.kind == Kind.LEADS:
        leads = []
        for r in result.create:
            values = {k: v for k, v in r.items() if not k.startswith("_") and k != "created_on"}
            leads.append(
                Lead(status=Lead.Status.NEW, created_at=_instant(r["created_on"], now), **values)
            )
        Lead.objects.bulk_create(leads, batch_size=CHUNK)
        _record_created(batch, R.LEAD, leads)

    # deals, transitions, field history
    if result.kind == Kind.DEALS:
        for start in range(0, len(result.create), CHUNK):
            chunk = result.create[start : start + CHUNK]
            _write_deals(
                chunk, by=by, batch=batch, companies=by_key, contacts=contact_objs, now=now
            )
            _set_progress(batch.pk, start + len(chunk), total, "writing")

    _apply_updates(result, batch=batch, by=by)


def _record_created(batch: ImportBatch, model: str, objs) -> None:
    """List created records for undo, written as they come (a 200,000-row import never holds
    all its records' rows in memory at once)."""
    rows = []
    for obj in objs:
        stamp = str(obj.version) if model == R.DEAL else obj.updated_at.isoformat()
        rows.append(
            ImportedRecord(
                batch=batch, model=model, object_id=obj.pk, action="created", stamp=stamp
            )
        )
        if len(rows) >= 5000:
            ImportedRecord.objects.bulk_create(rows)
            rows = []
    ImportedRecord.objects.bulk_create(rows)


def _write_deals(chunk, *, by, batch, companies, contacts, now) -> None:
    deals = []
    for r in chunk:
        path = r["path"]
        company = companies.get(r["company_key"]) if r["company_key"] else None
        contact = contacts.get(r["contact_key"]) if r["contact_key"] else None
        deal = Opportunity(
            name=r["name"],
            company_id=company.pk if company else r["company_pk"],
            contact_id=contact.pk if contact else r["contact_pk"],
            owner=r["owner"],
            pipeline_id=r["stage"].pipeline_id,
            stage=r["stage"],
            amount=r["amount"],
            probability=r["probability"],
            expected_close_date=r["expected_close_date"],
            closed_on=r["closed_on"],
            lost_reason=r["lost_reason"],
            next_step=r["next_step"],
            created_at=_instant(path[0][1], now),
            stage_entered_at=_instant(path[-1][1], now),
        )
        deal._history_date = deal.created_at
        deal._history_user = by
        deals.append(deal)
    Opportunity.objects.bulk_create(deals, batch_size=CHUNK)
    transitions = []
    for deal, r in zip(deals, chunk, strict=True):
        path = r["path"]
        for i, (stage, day) in enumerate(path):
            nxt = path[i + 1] if i + 1 < len(path) else None
            transitions.append(
                StageTransition(
                    opportunity=deal,
                    from_stage=path[i - 1][0] if i else None,
                    to_stage=stage,
                    changed_by=by,
                    changed_at=_instant(day, now),
                    amount=deal.amount,
                    probability=_effective_probability(stage, deal.probability),
                    left_at=_instant(nxt[1], now) if nxt else None,
                    next_stage=nxt[0] if nxt else None,
                )
            )
    StageTransition.objects.bulk_create(transitions, batch_size=CHUNK * 3)
    Opportunity.history.bulk_history_create(deals, batch_size=CHUNK)
    ExternalKey.objects.bulk_create(
        [
            ExternalKey(model=R.DEAL, key=r["external_id"], object_id=d.pk)
            for d, r in zip(deals, chunk, strict=True)
            if r["external_id"]
        ],
        batch_size=CHUNK,
    )
    _record_created(batch, R.DEAL, deals)


SERVICE_FIELDS = {
    Kind.COMPANIES: pipeline_services.COMPANY_FIELDS,
    Kind.CONTACTS: pipeline_services.CONTACT_FIELDS,
    Kind.LEADS: pipeline_services.LEAD_FIELDS,
}


def _json(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if hasattr(value, "pk"):
        return value.pk
    return value


def _apply_updates(result: Plan, *, batch, by) -> None:
    """Rows that change an existing record go through the per-record services (history and
    rules as any edit); the record's values before are kept for undo."""
    model = {
        Kind.COMPANIES: Company,
        Kind.CONTACTS: Contact,
        Kind.LEADS: Lead,
        Kind.DEALS: Opportunity,
    }[result.kind]
    rec_model = {
        Kind.COMPANIES: R.COMPANY,
        Kind.CONTACTS: R.CONTACT,
        Kind.LEADS: R.LEAD,
        Kind.DEALS: R.DEAL,
    }[result.kind]
    records = []
    for r in result.update:
        obj = model.objects.get(pk=r["_pk"])
        changes = {k: v for k, v in r.items() if not k.startswith("_")}
        try:
            if result.kind == Kind.DEALS:
                before, obj = _update_deal(obj, changes, by=by)
            else:
                before = {k: _json(getattr(obj, k)) for k in changes}
                service = {
                    Kind.COMPANIES: lambda o, c: pipeline_services.update_company(
                        company=o, by=by, version=o.version, **c
                    ),
                    Kind.CONTACTS: lambda o, c: pipeline_services.update_contact(
                        contact=o, by=by, version=o.version, **c
                    ),
                    Kind.LEADS: lambda o, c: pipeline_services.update_lead(
                        lead=o, by=by, version=o.version, **c
                    ),
                }[result.kind]
                obj = service(obj, changes)
        except (ValidationError, PermissionDenied) as e:
            message = " ".join(getattr(e, "messages", [str(e)]))
            raise ValidationError(f"Row {r['_row']}: {message}") from None
        stamp = str(obj.version) if result.kind == Kind.DEALS else obj.updated_at.isoformat()
        records.append(
            ImportedRecord(
                batch=batch,
                model=rec_model,
                object_id=obj.pk,
                action="updated",
                before=before,
                stamp=stamp,
            )
        )
    ImportedRecord.objects.bulk_create(records)


DEAL_UPDATABLE = ("name", "amount", "expected_close_date", "probability", "next_step")


def _update_deal(deal: Opportunity, changes: dict, *, by):
    """Field changes while the deal is open, then the stage move; a reopened deal gets its
    field changes after the move. A closed deal staying closed takes only what the services
    let a closed deal change (they refuse the rest with their own message)."""
    before = {k: _json(getattr(deal, k)) for k in DEAL_UPDATABLE if k in changes}
    stage_id = changes.pop("stage", None)
    closed_on = changes.pop("closed_on", None)
    lost_reason_id = changes.pop("lost_reason", None)
    if stage_id is not None:
        before.update(
            stage=deal.stage_id, closed_on=_json(deal.closed_on), lost_reason=deal.lost_reason_id
        )
    fields = {k: v for k, v in changes.items() if k in DEAL_UPDATABLE}
    if fields and deal.is_open:
        deal = pipeline_services.update_opportunity(
            opportunity=deal, by=by, version=deal.version, **fields
        )
        fields = {}
    if stage_id is not None:
        deal = pipeline_services.move_opportunity(
            opportunity=deal,
            to_stage=Stage.objects.get(pk=stage_id),
            by=by,
            version=deal.version,
            lost_reason=LostReason.objects.filter(pk=lost_reason_id).first(),
            closed_on=closed_on,
        )
    if fields:
        deal = pipeline_services.update_opportunity(
            opportunity=deal, by=by, version=deal.version, **fields
        )
    return before, deal


# --- undo ------------------------------------------------------------------------------------


def can_undo(user, batch: ImportBatch) -> bool:
    return batch.status == ImportBatch.Status.DONE and (
        batch.owner_id == user.pk
        or visibility.can_see_owner(user, batch.owner)
        and visibility.can_assign_owner(user)
    )


def undo(*, batch: ImportBatch, by) -> ImportBatch:
    """Remove what the import created and restore what it updated, in one transaction;
    refused (nothing changes) when someone changed one of its records since."""
    with transaction.atomic():
        batch = ImportBatch.objects.select_for_update().select_related("owner").get(pk=batch.pk)
        if batch.status == ImportBatch.Status.UNDONE:
            raise ValidationError("This import was already undone.")
        if not can_undo(by, batch):
            if batch.status != ImportBatch.Status.DONE:
                raise ValidationError("Only a finished import can be undone.")
            raise PermissionDenied(
                "Only who imported the file, their manager or an admin may undo it."
            )
        recs = list(batch.records.values_list("model", "object_id", "action", "stamp", "before"))
        ids = {m: {} for m in R.values}
        for model, oid, action, stamp, before in recs:
            ids[model][oid] = (action, stamp, before)
        changed = _changed_since(ids)
        if changed:
            shown = "; ".join(changed[:5])
            more = f" and {len(changed) - 5} more" if len(changed) > 5 else ""
            raise ValidationError(
                f"This import cannot be undone: {len(changed)} of its records were changed "
                f"since it ran ({shown}{more}). Undo those changes first, or change the "
                "records by hand.",
                code="changed",
            )
        created = {m: [oid for oid, v in ids[m].items() if v[0] == "created"] for m in ids}
        _restore_updates(ids, by=by)
        deal_ids = created[R.DEAL]
        for start in range(0, len(deal_ids), 5000):
            part = deal_ids[start : start + 5000]
            ExternalKey.objects.filter(model=R.DEAL, object_id__in=part).delete()
            StageTransition.objects.filter(opportunity_id__in=part).delete()
            Opportunity.history.filter(id__in=part).delete()
            # Their transitions, field history and keys are gone and nothing else refers to
            # them (checked above), so the rows are removed without one signal per deal.
            Opportunity.objects.filter(pk__in=part)._raw_delete(Opportunity.objects.db)
        for start in range(0, len(created[R.LEAD]), 5000):
            Lead.objects.filter(pk__in=created[R.LEAD][start : start + 5000]).delete()
        for start in range(0, len(created[R.CONTACT]), 5000):
            Contact.objects.filter(pk__in=created[R.CONTACT][start : start + 5000]).delete()
        for start in range(0, len(created[R.COMPANY]), 5000):
            Company.objects.filter(pk__in=created[R.COMPANY][start : start + 5000]).delete()
        _remove_snapshots(batch.snapshot_dates)
        batch.records.all().delete()
        batch.status = ImportBatch.Status.UNDONE
        batch.undone_at = timezone.now()
        batch.undone_by = by
        batch.snapshot_dates = []
        batch.save(update_fields=["status", "undone_at", "undone_by", "snapshot_dates"])
    board_cache.changed()
    return batch


def _changed_since(ids: dict) -> list[str]:
    changed: list[str] = []
    deals = ids[R.DEAL]
    if deals:
        keys = list(deals)
        for start in range(0, len(keys), 5000):
            part = keys[start : start + 5000]
            for pk, name, version in Opportunity.objects.filter(pk__in=part).values_list(
                "pk", "name", "version"
            ):
                if str(version) != deals[pk][1]:
                    changed.append(f"deal “{name}”")
            created = [k for k in part if deals[k][0] == "created"]
            for name in (
                Opportunity.objects.filter(pk__in=created, activities__isnull=False)
                .values_list("name", flat=True)
                .distinct()
            ):
                changed.append(f"deal “{name}” (an activity was logged)")
            for name in Opportunity.objects.filter(pk__in=created, lead__isnull=False).values_list(
                "name", flat=True
            ):
                changed.append(f"deal “{name}” (a lead was converted into it)")
    for model, cls, label in (
        (R.COMPANY, Company, "company"),
        (R.CONTACT, Contact, "contact"),
        (R.LEAD, Lead, "lead"),
    ):
        entries = ids[model]
        keys = list(entries)
        for start in range(0, len(keys), 5000):
            part = keys[start : start + 5000]
            for obj in cls.objects.filter(pk__in=part):
                if obj.updated_at.isoformat() != entries[obj.pk][1]:
                    changed.append(f"{label} “{obj}”")
            created = [k for k in part if entries[k][0] == "created"]
            if model in (R.COMPANY, R.CONTACT) and created:
                field_name = "company_id__in" if model == R.COMPANY else "contact_id__in"
                others = Opportunity.objects.filter(**{field_name: created}).exclude(
                    pk__in=list(deals)
                )
                for name in others.values_list("name", flat=True)[:5]:
                    changed.append(f"deal “{name}” was added to an imported {label}")
                acts = Activity.objects.filter(**{field_name: created})
                if acts.exists():
                    changed.append(f"an activity was logged on an imported {label}")
    return changed


def _restore_updates(ids: dict, *, by) -> None:
    for model, cls in ((R.COMPANY, Company), (R.CONTACT, Contact), (R.LEAD, Lead)):
        for pk, (action, _, before) in ids[model].items():
            if action != "updated":
                continue
            obj = cls.objects.get(pk=pk)
            for key, value in before.items():
                if key == "owner":
                    obj.owner_id = value
                else:
                    setattr(obj, key, value)
            obj.save()
    for pk, (action, _, before) in ids[R.DEAL].items():
        if action != "updated":
            continue
        deal = Opportunity.objects.get(pk=pk)
        stage_id = before.pop("stage", None)
        closed_on = before.pop("closed_on", None)
        lost_reason = before.pop("lost_reason", None)
        if stage_id is not None and stage_id != deal.stage_id:
            deal = pipeline_services.move_opportunity(
                opportunity=deal,
                to_stage=Stage.objects.get(pk=stage_id),
                by=by,
                version=deal.version,
                lost_reason=LostReason.objects.filter(pk=lost_reason).first(),
                closed_on=closed_on,
            )
        if before:
            deal = pipeline_services.update_opportunity(
                opportunity=deal, by=by, version=deal.version, **before
            )


def _remove_snapshots(dates: list[str]) -> None:
    if not dates:
        return
    from forecasting.models import ForecastRange, ForecastSnapshot, SnapshotRun

    days = [dt.date.fromisoformat(d) for d in dates]
    ForecastSnapshot.objects.filter(taken_on__in=days).delete()
    ForecastRange.objects.filter(taken_on__in=days).delete()
    SnapshotRun.objects.filter(taken_on__in=days).delete()


# --- snapshots after an import ---------------------------------------------------------------


def backfill_after_import(*, batch_id: int) -> list[str]:
    """Take the snapshots an import's history calls for: every back-fill date from the
    import's earliest date to yesterday that has no snapshot yet (a real nightly snapshot is
    never rewritten). Returns the dates taken, also kept on the batch for undo."""
    from forecasting import services as forecasting_services
    from forecasting.models import SnapshotRun

    batch = ImportBatch.objects.get(pk=batch_id)
    if batch.status != ImportBatch.Status.DONE or batch.first_date is None:
        ImportBatch.objects.filter(pk=batch_id).update(snapshots_done=True)
        return []
    end = timezone.localdate() - dt.timedelta(days=1)
    if batch.first_date > end:
        ImportBatch.objects.filter(pk=batch_id).update(snapshots_done=True)
        return []
    dates = forecasting_services.backfill_dates(start=batch.first_date, end=end)
    have = set(SnapshotRun.objects.filter(taken_on__in=dates).values_list("taken_on", flat=True))
    todo = [d for d in dates if d not in have]
    taken: list[str] = []
    for i, day in enumerate(todo, start=1):
        with transaction.atomic():
            current = ImportBatch.objects.select_for_update().get(pk=batch_id)
            if current.status != ImportBatch.Status.DONE:
                break  # undone meanwhile
            if SnapshotRun.objects.filter(taken_on=day).exists():
                continue
            forecasting_services.take_snapshot(taken_on=day, ranges=False)
            taken.append(day.isoformat())
            current.snapshot_dates = [*current.snapshot_dates, day.isoformat()]
            current.save(update_fields=["snapshot_dates"])
        _set_progress(batch_id, i, len(todo), "snapshots", what="snapshots")
    ImportBatch.objects.filter(pk=batch_id).update(snapshots_done=True)
    return taken
