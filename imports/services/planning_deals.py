"""Planning deal rows: stages and their exit criteria, owners, dates and the stage path of
each deal, its company and contact found or created, matched deals updated."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError

from imports import parsing
from imports.models import ExternalKey, ImportedRecord
from imports.services.rows import (
    DealRow,
    Row,
    changed_values,
    valid_email,
)
from pipeline.models import (
    ExitCriterion,
    LostReason,
    Opportunity,
    Pipeline,
    Stage,
)

NAME_MAX = 200

R = ImportedRecord.Model


class DealPlanning:
    """The deal rows of :class:`imports.services.planning.Planner` (a mixin: it uses the
    planner's owners, companies and contacts)."""

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

    def _stage(self, row: Row) -> Stage | None:
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

    def deal_row(self, row: Row):
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
            changes = changed_values(existing, values)
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

    def _deal_contact(self, row: Row) -> dict | None:
        full = (row.get("contact") or "") if row.has("contact") else ""
        email = (row.get("contact_email") or "").lower() if row.has("contact_email") else ""
        if not full and not email:
            return None
        first, _, last = full.partition(" ")
        if not first:
            first = email.split("@")[0]
        if email and not valid_email(email):
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
