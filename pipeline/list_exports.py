"""Every list as a file in the import template's columns (``?export=csv`` / ``?export=xlsx``
on the list's URL), so that exporting and importing the file into an empty database gives the
same records: one function per kind turns the page's filtered queryset into rows.

Cells go through the one formula guard of ``pipeline.exports`` (the importer removes exactly
its protective ``'``). A deal's ``External id`` is ``opportune-<id>``, which a re-import of the
file into the same database matches to the deal. The headers are the import template's
(``imports.mapping``; a test keeps the two equal).
"""

from __future__ import annotations

from django.db.models import OuterRef, Prefetch, Subquery
from django.http import HttpResponse
from django.utils import timezone

from pipeline.exports import export_response
from pipeline.models import LineItem, StageTransition

FORMATS = ("csv", "xlsx")
INTERNAL_PREFIX = "opportune-"

HEADERS = {
    "companies": [
        "Company name",
        "Website",
        "Industry",
        "Employees",
        "Phone",
        "City",
        "Country",
        "Owner",
    ],
    "contacts": [
        "First name",
        "Last name",
        "Email",
        "Phone",
        "Job title",
        "Decision maker",
        "Company",
        "Owner",
    ],
    "leads": [
        "First name",
        "Last name",
        "Email",
        "Phone",
        "Job title",
        "Company name",
        "Source",
        "Need",
        "Budget",
        "Authority",
        "Timeline",
        "Created on",
        "Owner",
    ],
    "deals": [
        "External id",
        "Deal name",
        "Amount",
        "Product",
        "Quantity",
        "Unit price",
        "Discount %",
        "Stage",
        "Won / lost",
        "Owner",
        "Company",
        "Company website",
        "Contact name",
        "Contact email",
        "Contact phone",
        "Contact is decision maker",
        "Expected close date",
        "Created on",
        "Engaged on",
        "Closed on",
        "Lost reason",
        "Probability %",
        "Next step",
    ],
}


def wanted(request) -> str:
    fmt = request.GET.get("export", "")
    return fmt if fmt in FORMATS else ""


def _owner(user) -> str:
    return user.username if user else ""


def _day(value) -> str:
    return (
        value.date().isoformat() if hasattr(value, "date") else (value.isoformat() if value else "")
    )


def company_rows(qs):
    yield HEADERS["companies"]
    for c in qs.select_related("owner").iterator(chunk_size=2000):
        yield [
            c.name,
            c.website,
            c.industry,
            c.employees,
            c.phone,
            c.city,
            c.country,
            _owner(c.owner),
        ]


def contact_rows(qs):
    yield HEADERS["contacts"]
    for c in qs.select_related("owner", "company").iterator(chunk_size=2000):
        yield [
            c.first_name,
            c.last_name,
            c.email,
            c.phone,
            c.title,
            "yes" if c.is_decision_maker else "no",
            c.company.name if c.company else "",
            _owner(c.owner),
        ]


def lead_rows(qs):
    yield HEADERS["leads"]
    for x in qs.select_related("owner").iterator(chunk_size=2000):
        yield [
            x.first_name,
            x.last_name,
            x.email,
            x.phone,
            x.title,
            x.company_name,
            x.source,
            x.need,
            x.budget,
            x.authority,
            x.timeline,
            _day(x.created_at),
            _owner(x.owner),
        ]


def deal_rows(qs):
    yield HEADERS["deals"]
    # The deal's stay in its last open stage after the first (the "engaged" date).
    engaged = (
        StageTransition.objects.filter(
            opportunity=OuterRef("pk"), from_stage__isnull=False, to_stage__kind="open"
        )
        .order_by("-changed_at", "-id")
        .values("changed_at")[:1]
    )
    qs = (
        qs.defer(None)  # the list page loads only its columns; the file has them all
        .select_related("owner", "company", "contact", "stage", "lost_reason")
        .annotate(engaged_at=Subquery(engaged))
        .prefetch_related(
            Prefetch("line_items", queryset=LineItem.objects.select_related("product"))
        )
        .order_by("id")
    )
    for d in qs.iterator(chunk_size=2000):
        contact = d.contact
        outcome = {"won": "won", "lost": "lost"}.get(d.stage.kind, "open")
        # A deal selling one product has it in the row, as the importer reads it back; the
        # file's one product column cannot hold several lines (the amount is their sum).
        lines = list(d.line_items.all())
        line = lines[0] if len(lines) == 1 else None
        yield [
            f"{INTERNAL_PREFIX}{d.pk}",
            d.name,
            d.amount,
            line.product.code if line else "",
            line.quantity if line else "",
            line.unit_price if line else "",
            line.discount_percent if line else "",
            d.stage.name,
            outcome,
            _owner(d.owner),
            d.company.name if d.company_id else "",
            d.company.website if d.company_id else "",
            contact.full_name if contact else "",
            contact.email if contact else "",
            contact.phone if contact else "",
            ("yes" if contact.is_decision_maker else "no") if contact else "",
            d.expected_close_date.isoformat(),
            _day(d.created_at),
            _day(d.engaged_at) if d.engaged_at else "",
            d.closed_on.isoformat() if d.closed_on else "",
            d.lost_reason.name if d.lost_reason_id else "",
            d.probability if d.probability is not None else "",
            d.next_step,
        ]


TASK_HEADERS = ["Kind", "Subject", "Due on", "Done at", "Owner", "About"]


def activity_rows(qs):
    yield TASK_HEADERS
    for a in qs.select_related("owner", "opportunity", "lead", "contact", "company").iterator(
        chunk_size=2000
    ):
        target = a.visible_target if hasattr(a, "opportunity_visible") else None
        yield [
            a.get_kind_display(),
            a.subject,
            a.due_on.isoformat() if a.due_on else "",
            a.done_at.isoformat() if a.done_at else "",
            _owner(a.owner),
            str(target) if target else "",
        ]


ACTIVITY_HEADERS = [
    "Kind",
    "Subject",
    "Occurred at",
    "Due on",
    "Done at",
    "Owner",
    "About",
    "Notes",
]


def activity_list_rows(qs):
    """The activity list's rows: every kind, with when it happened and its notes; the record
    it is on is named only when the viewer may open it."""
    yield ACTIVITY_HEADERS
    for a in qs.select_related("owner", "opportunity", "lead", "contact", "company").iterator(
        chunk_size=2000
    ):
        target = a.visible_target if hasattr(a, "opportunity_visible") else None
        yield [
            a.get_kind_display(),
            a.subject,
            timezone.localtime(a.occurred_at).isoformat(timespec="minutes"),
            a.due_on.isoformat() if a.due_on else "",
            timezone.localtime(a.done_at).isoformat(timespec="minutes") if a.done_at else "",
            _owner(a.owner),
            str(target) if target else "",
            a.body,
        ]


ROWS = {
    "companies": company_rows,
    "contacts": contact_rows,
    "leads": lead_rows,
    "deals": deal_rows,
    "tasks": activity_rows,
    "activities": activity_list_rows,
}


def response(fmt: str, kind: str, qs) -> HttpResponse:
    return export_response(fmt, ROWS[kind](qs), filename=f"opportune-{kind}")
