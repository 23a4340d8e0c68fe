"""Planning an import: read every row with the batch's mapping, decide create, update,
skip or refuse for each, write nothing (see the package's description). Deals are planned by
:class:`imports.services.planning_deals.DealPlanning`."""

from __future__ import annotations

import datetime as dt
import secrets

from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts import visibility
from accounts.models import User
from imports import parsing
from imports.mapping import FIELDS
from imports.models import ImportBatch, Kind
from imports.services.batches import detected_date_order, load_table, require_batch_owner
from imports.services.planning_deals import DealPlanning
from imports.services.rows import (
    PREVIEW_ROWS,
    Plan,
    Row,
    RowRefused,
    changed_values,
    valid_email,
)
from pipeline.models import (
    Company,
    Contact,
    Lead,
)

PREVIEW_TTL = dt.timedelta(minutes=30)
MAX_STORED_ERRORS = 5000


class Planner(DealPlanning):
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

    def owner(self, row: Row) -> User | None:
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
            row = Row(number, cells, self.table.headers, self.columns)
            if i in self.table.long_rows:
                row.error("", "The row has more cells than the header has columns.", "")
            try:
                outcome = handler(row)
            except RowRefused:
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

    def _company_values(self, row: Row, name_key: str, site_key: str) -> dict:
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

    def company_row(self, row: Row):
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
        changes = changed_values(existing, values)
        if owner is not None and owner.pk != existing.owner_id:
            changes["owner"] = owner
        if not changes:
            return None
        return {"_action": "update", "_row": row.number, "_pk": existing.pk, **changes}

    # contacts --------------------------------------------------------------------------------

    def contact_row(self, row: Row):
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
        changes = changed_values(existing, values)
        if not changes:
            return None
        return {"_action": "update", "_row": row.number, "_pk": existing.pk, **changes}

    def _person(self, row: Row) -> dict:
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
            if not valid_email(values["email"]):
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

    def lead_row(self, row: Row):
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
        changes = changed_values(existing, values)
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


def plan(*, batch: ImportBatch, by, keep: bool = True) -> Plan:
    require_batch_owner(by, batch)
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
