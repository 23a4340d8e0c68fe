"""What each column of a file means: the fields of each kind of record, the header names
they are recognised by, and ready-made mappings for other CRMs' deal exports.

Ready-made mappings (the standard column headers of each product's deal/opportunity export):

* **Pipedrive** (Deals → Export): ``Deal - ID``, ``Deal - Title``, ``Deal - Value``,
  ``Deal - Stage``, ``Deal - Status`` (open/won/lost), ``Deal - Owner``,
  ``Deal - Organization``, ``Deal - Contact person``, ``Deal - Expected close date``,
  ``Deal - Deal created``, ``Deal - Won time``, ``Deal - Lost time``, ``Deal - Lost reason``,
  ``Deal - Probability``.
* **HubSpot** (Deals → Export): ``Record ID``, ``Deal Name``, ``Amount``, ``Deal Stage``,
  ``Deal owner``, ``Associated Company``, ``Associated Contact``, ``Close Date``,
  ``Create Date``, ``Closed Lost Reason``.
* **Salesforce** (Opportunities report / Data Export): ``Opportunity ID``,
  ``Opportunity Name``, ``Amount``, ``Stage``, ``Opportunity Owner``, ``Account Name``,
  ``Primary Contact``, ``Close Date``, ``Created Date``, ``Probability (%)``,
  ``Next Step``, ``Loss Reason``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from imports.models import Kind


@dataclass(frozen=True)
class Field:
    key: str
    label: str
    type: str = "text"  # text, date, money, int, bool, email, percent
    synonyms: tuple[str, ...] = ()
    required: bool = False


OWNER = Field(
    "owner",
    "Owner",
    synonyms=("owner", "sales agent", "rep", "sales rep", "assigned to", "account owner", "user"),
)

COMPANY_FIELDS = (
    Field(
        "name",
        "Company name",
        synonyms=(
            "name",
            "company",
            "account",
            "organization",
            "organisation",
            "company name",
            "account name",
        ),
        required=True,
    ),
    Field("website", "Website", synonyms=("website", "domain", "web", "url", "company domain")),
    Field("industry", "Industry", synonyms=("industry", "sector")),
    Field(
        "employees",
        "Employees",
        "int",
        ("employees", "employee count", "headcount", "number of employees"),
    ),
    Field("phone", "Phone", synonyms=("phone", "telephone", "phone number")),
    Field("city", "City", synonyms=("city", "town")),
    Field("country", "Country", synonyms=("country", "office location", "location")),
    OWNER,
)

CONTACT_FIELDS = (
    Field(
        "first_name",
        "First name",
        synonyms=(
            "first name",
            "firstname",
            "given name",
            "name",
            "contact",
            "contact name",
            "full name",
        ),
        required=True,
    ),
    Field("last_name", "Last name", synonyms=("last name", "lastname", "surname", "family name")),
    Field("email", "Email", "email", ("email", "e-mail", "email address", "mail")),
    Field("phone", "Phone", synonyms=("phone", "telephone", "mobile", "phone number")),
    Field("title", "Job title", synonyms=("title", "job title", "position", "role")),
    Field("is_decision_maker", "Decision maker", "bool", ("decision maker", "is decision maker")),
    Field(
        "company",
        "Company",
        synonyms=("company", "account", "organization", "organisation", "company name"),
    ),
    OWNER,
)

LEAD_FIELDS = (
    Field(
        "first_name",
        "First name",
        synonyms=("first name", "firstname", "name", "full name", "lead name"),
        required=True,
    ),
    Field("last_name", "Last name", synonyms=("last name", "lastname", "surname")),
    Field("email", "Email", "email", ("email", "e-mail", "email address")),
    Field("phone", "Phone", synonyms=("phone", "telephone", "mobile")),
    Field("title", "Job title", synonyms=("title", "job title", "position")),
    Field(
        "company_name",
        "Company name",
        synonyms=("company", "company name", "account", "organization", "organisation"),
    ),
    Field("source", "Source", synonyms=("source", "lead source", "channel")),
    Field("need", "Need", synonyms=("need", "description", "notes", "interest")),
    Field("budget", "Budget", "money", ("budget",)),
    Field("authority", "Authority", synonyms=("authority",)),
    Field("timeline", "Timeline", synonyms=("timeline", "timeframe")),
    Field(
        "created_on",
        "Created on",
        "date",
        ("created", "created on", "created date", "create date", "created at"),
    ),
    OWNER,
)

DEAL_FIELDS = (
    Field(
        "external_id",
        "External id",
        synonyms=(
            "id",
            "external id",
            "deal id",
            "opportunity id",
            "record id",
            "deal - id",
            "opportunity_id",
        ),
    ),
    Field(
        "name",
        "Deal name",
        synonyms=(
            "deal",
            "name",
            "title",
            "deal name",
            "opportunity name",
            "opportunity",
            "deal - title",
            "subject",
        ),
        required=True,
    ),
    Field(
        "amount",
        "Amount",
        "money",
        ("value", "amount", "close value", "deal value", "deal - value", "revenue", "price"),
    ),
    Field(
        "product",
        "Product",
        synonyms=(
            "product",
            "product code",
            "product name",
            "sku",
            "item",
            "line item",
            "deal - product",
        ),
    ),
    Field("quantity", "Quantity", synonyms=("quantity", "qty", "units", "deal - product quantity")),
    Field(
        "unit_price",
        "Unit price",
        "money",
        ("unit price", "price per unit", "sales price", "list price", "unit cost"),
    ),
    Field(
        "discount_percent",
        "Discount %",
        "percent",
        ("discount", "discount %", "discount percent", "discount (%)"),
    ),
    Field(
        "stage",
        "Stage",
        synonyms=("stage", "deal stage", "status", "deal - stage", "pipeline stage", "dealstage"),
        required=True,
    ),
    Field(
        "outcome",
        "Won / lost",
        synonyms=("won/lost", "won lost", "outcome", "result", "deal - status"),
    ),
    OWNER,
    Field(
        "company",
        "Company",
        synonyms=(
            "account",
            "company",
            "organization",
            "organisation",
            "account name",
            "deal - organization",
            "associated company",
            "customer",
        ),
    ),
    Field(
        "company_website",
        "Company website",
        synonyms=("website", "domain", "company domain", "company website"),
    ),
    Field(
        "contact",
        "Contact name",
        synonyms=(
            "contact",
            "contact name",
            "contact person",
            "primary contact",
            "deal - contact person",
            "associated contact",
        ),
    ),
    Field("contact_email", "Contact email", "email", ("contact email", "email", "e-mail")),
    Field("contact_phone", "Contact phone", synonyms=("contact phone", "phone")),
    Field(
        "contact_decision_maker",
        "Contact is decision maker",
        "bool",
        ("decision maker", "contact is decision maker"),
    ),
    Field(
        "expected_close_date",
        "Expected close date",
        "date",
        (
            "expected close date",
            "close date",
            "expected close",
            "deal - expected close date",
            "closing date",
        ),
    ),
    Field(
        "created_on",
        "Created on",
        "date",
        (
            "created",
            "created on",
            "created date",
            "create date",
            "deal - deal created",
            "created at",
        ),
    ),
    Field(
        "engaged_on", "Engaged on", "date", ("engage date", "engaged on", "engaged", "engaged date")
    ),
    Field(
        "closed_on",
        "Closed on",
        "date",
        (
            "closed on",
            "closed date",
            "close date actual",
            "date closed",
            "deal - won time",
            "deal - lost time",
            "won time",
            "lost time",
        ),
    ),
    Field(
        "lost_reason",
        "Lost reason",
        synonyms=(
            "lost reason",
            "loss reason",
            "reason lost",
            "closed lost reason",
            "deal - lost reason",
        ),
    ),
    Field(
        "probability",
        "Probability %",
        "percent",
        ("probability", "probability (%)", "deal - probability", "win probability"),
    ),
    Field("next_step", "Next step", synonyms=("next step", "next action")),
)

FIELDS = {
    Kind.COMPANIES: COMPANY_FIELDS,
    Kind.CONTACTS: CONTACT_FIELDS,
    Kind.LEADS: LEAD_FIELDS,
    Kind.DEALS: DEAL_FIELDS,
}

# Ready-made mappings of other CRMs' deal exports (documented in the module docstring).
PRESETS: dict[str, dict[str, str]] = {
    "pipedrive": {
        "external_id": "Deal - ID",
        "name": "Deal - Title",
        "amount": "Deal - Value",
        "stage": "Deal - Stage",
        "outcome": "Deal - Status",
        "owner": "Deal - Owner",
        "company": "Deal - Organization",
        "contact": "Deal - Contact person",
        "expected_close_date": "Deal - Expected close date",
        "created_on": "Deal - Deal created",
        "closed_on": "Deal - Won time",
        "lost_reason": "Deal - Lost reason",
        "probability": "Deal - Probability",
    },
    "hubspot": {
        "external_id": "Record ID",
        "name": "Deal Name",
        "amount": "Amount",
        "stage": "Deal Stage",
        "owner": "Deal owner",
        "company": "Associated Company",
        "contact": "Associated Contact",
        "expected_close_date": "Close Date",
        "created_on": "Create Date",
        "lost_reason": "Closed Lost Reason",
    },
    "salesforce": {
        "external_id": "Opportunity ID",
        "name": "Opportunity Name",
        "amount": "Amount",
        "stage": "Stage",
        "owner": "Opportunity Owner",
        "company": "Account Name",
        "contact": "Primary Contact",
        "expected_close_date": "Close Date",
        "created_on": "Created Date",
        "probability": "Probability (%)",
        "next_step": "Next Step",
        "lost_reason": "Loss Reason",
    },
}
PRESET_NAMES = {"pipedrive": "Pipedrive", "hubspot": "HubSpot", "salesforce": "Salesforce"}


def _norm(header: str) -> str:
    return re.sub(r"[\s_]+", " ", header.strip().lower())


def auto_map(kind: str, headers: list[str]) -> dict[str, str]:
    """Field → header, from the header names: an exact synonym first, each header used once,
    fields in the order of their list (so "Close Date" is the expected close date before it
    is anything else)."""
    normalised = {_norm(h): h for h in headers}
    used: set[str] = set()
    out: dict[str, str] = {}
    for f in FIELDS[kind]:
        candidates = (f.key.replace("_", " "), _norm(f.label), *f.synonyms)
        for syn in candidates:
            header = normalised.get(_norm(syn))
            if header and header not in used:
                out[f.key] = header
                used.add(header)
                break
    return out


def apply_preset(name: str, headers: list[str]) -> dict[str, str]:
    """A ready-made mapping restricted to the headers the file has (matched case-insensitively)."""
    by_norm = {_norm(h): h for h in headers}
    out = {}
    for key, header in PRESETS.get(name, {}).items():
        if _norm(header) in by_norm:
            out[key] = by_norm[_norm(header)]
    return out


def template_headers(kind: str) -> list[str]:
    """The columns of the import template (and of every export of that kind)."""
    return [f.label for f in FIELDS[kind]]
