"""The timeline of a record: stage transitions, field changes and activities, newest first.

``timeline_for`` serves the deal, company, contact and lead pages. It issues a fixed number
of queries whatever the size of the history (each source is read once, newest first and
capped at ``limit``), then merges the sources in Python.

Who sees what: a transition or field change is shown when the user may see its deal; an
activity when the user may see the activity's owner or the owner of the record it is on
(so a manager's note on a rep's deal shows on the rep's timeline, while another rep's
notes on a shared company do not). The record an activity links to is named only when the
user may open it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Q
from django.urls import NoReverseMatch, reverse
from django.utils import dateformat

from accounts.models import User
from accounts.visibility import can_see_owner, owner_q
from pipeline.currency import reporting_currency
from pipeline.models import Activity, ForecastCategory, Opportunity, Stage, StageTransition
from pipeline.templatetags.opportune import money, money_in

TRANSITION = "transition"
FIELD_CHANGE = "field_change"
ACTIVITY = "activity"

FIELD_LABELS = {
    "amount": "Amount",
    "currency": "Currency",
    "expected_close_date": "Expected close date",
    "owner": "Owner",
    "probability": "Probability",
    "forecast_category": "Forecast category",
}


@dataclass(frozen=True)
class TimelineEntry:
    """One line of a timeline.

    ``kind`` is ``transition``, ``field_change`` or ``activity``; ``label`` a short tag
    ("Stage", "Amount", "Call" ...); ``text`` the sentence shown; ``detail`` an optional
    longer text (an activity's body); ``link`` the page of the record the entry concerns
    when it differs from the page being shown (empty otherwise).
    """

    kind: str
    when: dt.datetime
    who: str
    text: str
    label: str = ""
    detail: str = ""
    link: str = ""
    link_text: str = ""
    tone: str = ""
    sort_id: int = 0

    @property
    def is_transition(self) -> bool:
        return self.kind == TRANSITION

    @property
    def is_field_change(self) -> bool:
        return self.kind == FIELD_CHANGE

    @property
    def is_activity(self) -> bool:
        return self.kind == ACTIVITY


def _url(name: str, pk: int) -> str:
    try:
        return reverse(name, args=[pk])
    except NoReverseMatch:
        return ""


def _and(*qs: Q | None) -> Q:
    out = Q()
    for q in qs:
        if q is not None:
            out &= q
    return out


def _who(user) -> str:
    return str(user) if user is not None else "System"


def _fmt_date(value) -> str:
    return dateformat.format(value, "M j, Y") if value else "none"


def _fmt_amount(value, currency: str, places: int = 2) -> str:
    """An amount of the deal's currency: as ``money`` in the reporting currency, else with
    that currency's symbol and decimals."""
    if currency and currency != reporting_currency():
        return money_in(value, currency)
    return money(value, places)


def _fmt_field(field: str, value, users: dict[int, str], currency: str = "") -> str:
    if field == "amount":
        return _fmt_amount(value, currency) if value is not None else "none"
    if field == "expected_close_date":
        return _fmt_date(value)
    if field == "owner":
        return users.get(value, "a former user") if value else "nobody"
    if field == "probability":
        return f"{value}%" if value is not None else "the stage's default"
    if field == "forecast_category":
        return ForecastCategory(value).label if value else "the stage's default"
    return str(value)


# --- sources ---------------------------------------------------------------------------------


def _transitions(user, where: Q, limit: int, *, link: bool, seen=None) -> list[TimelineEntry]:
    """``seen``: the one deal whose transitions these are, which the caller has checked the
    user may see (then every one of them is visible: no second filter, no join to plan)."""
    rows = StageTransition.objects.filter(where)
    fields = [
        "changed_at",
        "amount",
        "probability",
        "from_stage__name",
        "to_stage__name",
        "to_stage__kind",
        "changed_by__username",
        "changed_by__first_name",
        "changed_by__last_name",
    ]
    related = ["from_stage", "to_stage", "changed_by"]
    if seen is None:
        rows = rows.filter(_and(owner_q(user, "opportunity__owner")))
        related.append("opportunity__lost_reason")
        fields += [
            "opportunity__name",
            "opportunity__currency",
            "opportunity__stage_id",
            "opportunity__lost_note",
            "opportunity__lost_reason__name",
        ]
    rows = rows.select_related(*related).only(*fields).order_by("-changed_at", "-id")[:limit]
    out = []
    for t in rows:
        opp = t.opportunity if seen is None else seen
        if t.from_stage_id is None:
            text = f"Created in {t.to_stage.name}"
        else:
            text = f"Moved from {t.from_stage.name} to {t.to_stage.name}"
        tone = ""
        if t.to_stage.kind == Stage.Kind.WON:
            tone = "won"
            text = f"Won (from {t.from_stage.name})" if t.from_stage_id else "Won"
        elif t.to_stage.kind == Stage.Kind.LOST:
            tone = "lost"
            text = f"Lost (from {t.from_stage.name})" if t.from_stage_id else "Lost"
            # The deal keeps the reason of its current loss only.
            if opp.stage_id == t.to_stage_id and opp.lost_reason_id:
                text += f" — {opp.lost_reason.name}"
                if opp.lost_note:
                    text += f": {opp.lost_note}"
        out.append(
            TimelineEntry(
                kind=TRANSITION,
                when=t.changed_at,
                who=_who(t.changed_by),
                text=text,
                label="Stage",
                detail=f"{_fmt_amount(t.amount, opp.currency, 0)} at {t.probability}%",
                link=_url("pipeline:opportunity_detail", t.opportunity_id) if link else "",
                link_text=opp.name if link else "",
                tone=tone,
                sort_id=t.pk,
            )
        )
    return out


def _field_changes(opportunity: Opportunity, limit: int) -> list[TimelineEntry]:
    """Diff consecutive history rows of one deal (newest ``limit`` changes)."""
    history = opportunity.history.model
    rows = list(
        history.objects.filter(id=opportunity.pk)
        .select_related("history_user")
        .order_by("-history_date", "-history_id")[: limit + 1]
    )
    rows.reverse()  # oldest first
    owner_ids = {r.owner_id for r in rows if r.owner_id}
    users = (
        {u.pk: str(u) for u in User.objects.filter(pk__in=owner_ids)} if len(owner_ids) > 1 else {}
    )
    out = []
    for prev, row in zip(rows, rows[1:], strict=False):
        for field in Opportunity.TRACKED_FIELDS:
            attr = field + "_id" if field == "owner" else field
            old, new = getattr(prev, attr), getattr(row, attr)
            if old == new:
                continue
            out.append(
                TimelineEntry(
                    kind=FIELD_CHANGE,
                    when=row.history_date,
                    who=_who(row.history_user),
                    text=(
                        f"{FIELD_LABELS[field]} changed from "
                        f"{_fmt_field(field, old, users, prev.currency)} "
                        f"to {_fmt_field(field, new, users, row.currency)}"
                    ),
                    label=FIELD_LABELS[field],
                    sort_id=row.history_id,
                )
            )
    return out


def _activities(user, where: Q, limit: int, *, link: bool, seen=None) -> list[TimelineEntry]:
    """``seen``: the one deal whose activities these are, which the caller has checked the
    user may see; an activity on a deal one may see is visible (``Activity.visible_to``)."""
    if seen is not None:
        qs = Activity.objects.filter(where)
    else:
        qs = Activity.objects.visible_to(user).filter(where)
    if link:
        qs = qs.with_visible_targets(user)
    rows = (
        qs.select_related(*(("owner", "opportunity", "contact", "lead") if link else ("owner",)))
        .only(
            "kind",
            "subject",
            "body",
            "occurred_at",
            "due_on",
            "done_at",
            "owner__username",
            "owner__first_name",
            "owner__last_name",
            "opportunity__name",
            "contact__first_name",
            "contact__last_name",
            "lead__first_name",
            "lead__last_name",
            "company_id",
        )
        .order_by("-occurred_at", "-id")[:limit]
    )
    out = []
    for a in rows:
        text = a.subject
        tone = ""
        if a.kind == Activity.Kind.TASK:
            if a.done_at:
                text = f"{a.subject} (done {_fmt_date(a.done_at.date())})"
                tone = "done"
            else:
                text = f"{a.subject} (due {_fmt_date(a.due_on)})"
                tone = "due"
        href = link_text = ""
        # The record an activity is on is named only when the user may open it: a deal
        # reassigned to another team keeps its former owner's notes, not its name.
        if link:
            if a.opportunity_id and a.opportunity_visible:
                href = _url("pipeline:opportunity_detail", a.opportunity_id)
                link_text = a.opportunity.name
            elif a.contact_id and a.contact_visible:
                href = _url("pipeline:contact_detail", a.contact_id)
                link_text = a.contact.full_name
            elif a.lead_id and a.lead_visible:
                href = _url("pipeline:lead_detail", a.lead_id)
                link_text = a.lead.full_name
        out.append(
            TimelineEntry(
                kind=ACTIVITY,
                when=a.occurred_at,
                who=_who(a.owner),
                text=text,
                label=a.get_kind_display(),
                detail=a.body,
                link=href,
                link_text=link_text,
                tone=tone,
                sort_id=a.pk,
            )
        )
    return out


def _lead_conversion(user, lead) -> list[TimelineEntry]:
    if not lead.opportunity_id or not lead.converted_at:
        return []
    opp = Opportunity.objects.visible_to(user).filter(pk=lead.opportunity_id).only("name").first()
    return [
        TimelineEntry(
            kind=TRANSITION,
            when=lead.converted_at,
            who="",
            text="Converted to an opportunity",
            label="Converted",
            link=opp.get_absolute_url() if opp else "",
            link_text=opp.name if opp else "",
            tone="won",
        )
    ]


# --- entry point -----------------------------------------------------------------------------

_ORDER = {TRANSITION: 2, FIELD_CHANGE: 1, ACTIVITY: 0}


def timeline_for(
    *, user, opportunity=None, lead=None, company=None, contact=None, limit: int = 100
) -> list[TimelineEntry]:
    """Entries about exactly one record, newest first, at most ``limit`` of them.

    - a deal: its stage transitions, field changes and activities (3 queries, and one for a
      lost deal's reason when the deal was read without it), all or nothing: the caller
      read the deal through the visibility rule, and whoever may see a deal sees all of them;
    - a company: its activities, its contacts' and deals' activities, its deals' transitions;
    - a contact: its activities and its deals' transitions;
    - a lead: its activities and, once converted, a link to its opportunity.
    """
    given = [r for r in (opportunity, lead, company, contact) if r is not None]
    if len(given) != 1:
        raise TypeError("timeline_for needs exactly one of opportunity, lead, company, contact")
    limit = max(1, int(limit))
    entries: list[TimelineEntry] = []
    if opportunity is not None:
        # The one visibility rule, asked of the deal once: whoever may see a deal sees all of
        # its transitions, field changes and activities; nobody else sees any.
        if not can_see_owner(user, opportunity.owner):
            return []
        where = Q(opportunity=opportunity)
        entries += _transitions(user, where, limit, link=False, seen=opportunity)
        entries += _field_changes(opportunity, limit)
        entries += _activities(user, where, limit, link=False, seen=opportunity)
    elif company is not None:
        entries += _transitions(user, Q(opportunity__company=company), limit, link=True)
        entries += _activities(
            user,
            Q(company=company) | Q(contact__company=company) | Q(opportunity__company=company),
            limit,
            link=True,
        )
    elif contact is not None:
        entries += _transitions(user, Q(opportunity__contact=contact), limit, link=True)
        entries += _activities(user, Q(contact=contact), limit, link=True)
    else:
        entries += _lead_conversion(user, lead)
        entries += _activities(user, Q(lead=lead), limit, link=False)
    entries.sort(key=lambda e: (e.when, _ORDER[e.kind], e.sort_id), reverse=True)
    return entries[:limit]
