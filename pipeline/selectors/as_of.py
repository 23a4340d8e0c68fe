"""The board and the deal list as they stood at the end of a past day (``?as_of=YYYY-MM-DD``).

Every deal's state on that day comes from the one deal-state query
(:func:`pipeline.selectors.dealstate.reconstructed_deals`), the same one the snapshot of that
day is computed from, so the board's open deals, amounts, owners and close months as of ``D``
are the snapshot of ``D``'s. Stage probabilities are the stages' own (as on today's board);
a forecast snapshot weights deals of pipelines with empirical probabilities by the win rates.

Which deals: those the viewer may see today (``visible_to``, the one visibility rule), as
they stood on ``D``; deals created after ``D`` are not on it. The filters read the state of
``D`` too: owner and team the owner on ``D`` (team membership as it is now), the close filters
the close date on ``D``, the amount filters the amount on ``D``, stage and status the stage on
``D``; the text search and the pipeline read the deal as it is.

The board as of ``D`` is one query for its cards and column totals together (window
aggregates over the deals open on ``D``, at most :func:`~pipeline.selectors.board.card_limit`
cards per column), besides the pipelines, stages and the filters' choices; comparing with
today adds one grouped query for today's columns and one for the deals created since.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django import forms
from django.db.models import (
    Case,
    Count,
    F,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.functions import Concat, RowNumber, Trim
from django.utils import formats

from accounts.models import User
from pipeline import expressions
from pipeline.filters.opportunities import close_window
from pipeline.models import Company, Opportunity, Stage
from pipeline.selectors import board as boards
from pipeline.selectors.dealstate import (
    end_of_day,
    reconstructed_deals,
    today,
    weighted_expression,
)
from pipeline.validators import BusinessDateField

ZERO = Decimal("0")
OPEN, WON, LOST = Stage.Kind.OPEN, Stage.Kind.WON, Stage.Kind.LOST


class AsOfForm(forms.Form):
    as_of = BusinessDateField(required=False, input_formats=["%Y-%m-%d"])
    compare = forms.BooleanField(required=False)


@dataclass(frozen=True)
class AsOf:
    """What ``?as_of=`` asks for: ``day`` a past day to show (None: today's pipeline),
    ``error`` a message for a date that cannot be read, ``note`` one for a date that was
    replaced by today, ``compare`` whether each card shows its change since."""

    day: dt.date | None = None
    error: str = ""
    note: str = ""
    compare: bool = False

    @property
    def label(self) -> str:
        return formats.date_format(self.day, "M j, Y") if self.day else ""


def parse_as_of(params) -> AsOf:
    """Read ``as_of`` (and ``compare``) from a query string. Empty or absent: today. A date
    that is not ``YYYY-MM-DD`` or falls outside 1900–2200 gives ``error``; today or a later
    date gives today's pipeline with a ``note`` (the future is not known yet)."""
    raw = params.get("as_of", "")
    if not raw:
        return AsOf()
    form = AsOfForm({"as_of": raw, "compare": params.get("compare", "")})
    if not form.is_valid():
        if "as_of" in form.errors:
            message = " ".join(form.errors["as_of"])
            if form.errors["as_of"].as_data()[0].code == "invalid":
                message = "Enter the date to look back to as YYYY-MM-DD, for example 2026-03-31."
            return AsOf(error=f"“{raw[:40]}” is not a date the pipeline can be shown at: {message}")
        return AsOf()
    day = form.cleaned_data["as_of"]
    if day >= today():
        when = "today" if day == today() else "a date after today"
        return AsOf(
            note=f"{formats.date_format(day, 'M j, Y')} is {when}: this is the pipeline as it "
            "stands now. Choose a past date to see the pipeline as it stood then."
        )
    return AsOf(day=day, compare=form.cleaned_data["compare"])


# --- deal states on the day, narrowed by the filters ------------------------------------------


def deals_as_of(*, user, day: dt.date, queryset=None):
    """The deals ``user`` may see as they stood at the end of ``day`` (the ``s_*``
    annotations of :mod:`pipeline.selectors.dealstate`, stage probabilities)."""
    qs = Opportunity.objects.visible_to(user) if queryset is None else queryset
    return reconstructed_deals(on=day, rates={}, queryset=qs)


def _status(qs, value):
    kinds = {"open": [OPEN], "won": [WON], "lost": [LOST], "closed": [WON, LOST]}
    return qs.filter(s_kind__in=kinds.get(value, [OPEN, WON, LOST]))


def narrow(qs, filterset, day: dt.date):
    """``qs`` (deal states on ``day``) narrowed by the FilterSet's valid filters, each read
    on the state of ``day`` where the deal's state has it (see the module doc); any other
    filter narrows by the deal as it is."""
    filterset.is_valid()  # invalid fields are left out of cleaned_data, as django-filter does
    on_state = {
        "owner": lambda qs, v: qs.filter(s_owner=v.pk),
        "team": lambda qs, v: qs.filter(s_owner__in=User.objects.filter(team=v).values("pk")),
        "close_after": lambda qs, v: qs.filter(s_close__gte=v),
        "close_before": lambda qs, v: qs.filter(s_close__lte=v),
        "amount_min": lambda qs, v: qs.filter(s_amount__gte=v),
        "amount_max": lambda qs, v: qs.filter(s_amount__lte=v),
        "stage": lambda qs, v: qs.filter(s_stage=v.pk),
        "status": _status,
        "close": lambda qs, v: _close(qs, v, day),
        "o": lambda qs, v: qs,  # ordering: see deal_list
    }
    for name, value in filterset.form.cleaned_data.items():
        if value in (None, "", [], ()) or name not in filterset.filters:
            continue
        if name in on_state:
            qs = on_state[name](qs, value)
        else:
            qs = filterset.filters[name].filter(qs, value)
    return qs


def _close(qs, value, day):
    first, after = close_window(value, day)
    if first is not None:
        qs = qs.filter(s_close__gte=first)
    return qs.filter(s_close__lt=after)


def _owner_name(owner="s_owner"):
    """The owner's full name ("" without one: the list then shows the username)."""
    return Subquery(
        User.objects.filter(pk=OuterRef(owner))
        .order_by()
        .annotate(full=Trim(Concat("first_name", Value(" "), "last_name")))
        .values("full")[:1]
    )


def _names(owner="s_owner"):
    return {
        "company_name": Subquery(
            Company.objects.filter(pk=OuterRef("company_id")).order_by().values("name")[:1]
        ),
        "owner_username": Subquery(
            User.objects.filter(pk=OuterRef(owner)).order_by().values("username")[:1]
        ),
    }


# --- the board ----------------------------------------------------------------------------------


@dataclass
class Column(boards.Column):
    today_count: int = 0
    today_total: Decimal = ZERO
    new_count: int = 0
    closed_count: int = 0

    @property
    def more(self) -> int:
        return max(0, self.count - len(self.cards))


@dataclass
class Board(boards.Board):
    day: dt.date | None = None
    compare: bool = False

    @property
    def today_count(self) -> int:
        return sum(c.today_count for c in self.columns)

    @property
    def today_total(self) -> Decimal:
        return sum((c.today_total for c in self.columns), ZERO)

    @property
    def new_count(self) -> int:
        return sum(c.new_count for c in self.columns)

    @property
    def closed_count(self) -> int:
        return sum(c.closed_count for c in self.columns)


CARD_FIELDS = (
    "id",
    "name",
    "s_stage",
    "s_amount",
    "s_close",
    "s_owner",
    "s_entered",
    "company_id",
    "c_n",
    "c_total",
    "c_weighted",
    "c_closed",
    # today's values, for "compare with today"
    "stage_id",
    "amount",
    "expected_close_date",
    "owner_id",
    "now_kind",
)


def board_as_of(*, user, params, day: dt.date, compare: bool = False, request=None) -> Board:
    """The board of the pipeline as it stood at the end of ``day``: open deals on that day
    in the columns of their stage then, the columns' count, total and weighted total on that
    day, at most :func:`~pipeline.selectors.board.card_limit` cards per column (soonest close
    date on that day first). With ``compare``, the columns' figures today, the deals closed
    since and those created since."""
    pipelines = boards.board_pipelines()
    pipeline = boards.choose_pipeline(pipelines, params.get("pipeline"))
    if pipeline is None:
        return Board(None, pipelines, [], [], None, day=day, compare=compare)
    stages = boards.pipeline_stages(pipeline)
    open_stages = [s for s in stages if s.kind == OPEN]
    filterset = boards.board_filter(user=user, params=params, request=request)
    ids = [s.pk for s in open_stages]
    columns = {s.pk: Column(stage=s) for s in open_stages}
    for row in _card_rows(user, filterset, pipeline, ids, day):
        col = columns[row["s_stage"]]
        col.count, col.closed_count = row["c_n"], row["c_closed"]
        col.total = expressions.to_cents(row["c_total"] or ZERO)
        col.weighted = expressions.to_cents(row["c_weighted"] or ZERO)
        col.cards.append(row)
    if compare:
        live = filterset.qs.filter(pipeline=pipeline)
        for sid, t in boards.column_totals(live, open_stages).items():
            columns[sid].today_count, columns[sid].today_total = t["n"], t["total"]
        since = (
            live.filter(created_at__gte=end_of_day(day), stage_id__in=ids)
            .order_by()
            .values("stage_id")
            .annotate(n=Count("*"))
        )
        for r in since:
            columns[r["stage_id"]].new_count = r["n"]
    decorate([c for col in columns.values() for c in col.cards], {s.pk: s for s in stages}, day)
    return Board(
        pipeline=pipeline,
        pipelines=pipelines,
        stages=stages,
        columns=list(columns.values()),
        filterset=filterset,
        day=day,
        compare=compare,
    )


def _card_rows(user, filterset, pipeline, stage_ids, day) -> list[dict]:
    if not stage_ids:
        return []
    # A deal in a closed stage today that entered it before the end of the day was closed on
    # the day too (its last move before then is that one): it is left out before its state
    # is computed, so the lateral joins run only for deals open today or closed since.
    live = Opportunity.objects.visible_to(user).filter(
        Q(stage__kind=OPEN) | Q(stage_entered_at__gte=end_of_day(day)), pipeline=pipeline
    )
    qs = deals_as_of(user=user, day=day, queryset=live).filter(s_kind=OPEN, s_stage__in=stage_ids)
    qs = narrow(qs, filterset, day)
    column = {"partition_by": [F("s_stage")]}
    qs = qs.annotate(
        c_n=Window(Count("pk"), **column),
        c_total=Window(Sum("s_amount"), **column),
        c_weighted=Window(Sum(weighted_expression()), **column),
        c_closed=Window(Count("pk", filter=~Q(stage__kind=OPEN)), **column),
        c_row=Window(RowNumber(), order_by=[F("s_close").asc(), F("pk").asc()], **column),
    )
    qs = qs.filter(c_row__lte=boards.card_limit()).annotate(now_kind=F("stage__kind"))
    rows = list(qs.order_by("s_stage", "c_row").values(*CARD_FIELDS))
    # Names of the cards shown only (PostgreSQL computes a select-list subquery for every
    # row before the window's filter): two small queries by id.
    companies = dict(
        Company.objects.filter(pk__in={r["company_id"] for r in rows if r["company_id"]})
        .order_by()
        .values_list("pk", "name")
    )
    users: dict[int, str] = {}
    names: dict[int, str] = {}
    for pk, username, first, last in (
        User.objects.filter(pk__in={r[k] for r in rows for k in ("s_owner", "owner_id")})
        .order_by()
        .values_list("pk", "username", "first_name", "last_name")
    ):
        users[pk] = username
        names[pk] = f"{first} {last}".strip() or username
    for r in rows:
        r["company_name"] = companies.get(r["company_id"])
        r["owner_username"] = users.get(r["s_owner"], "")
        r["owner_name"] = names.get(r["s_owner"], "")
        r["now_owner_username"] = users.get(r["owner_id"], "")
        r["now_owner_name"] = names.get(r["owner_id"], "")
    return rows


def decorate(rows: list[dict], stages: dict, day: dt.date) -> list[dict]:
    """What an as-of card shows besides its fields: days in stage and overdue on ``day``, and
    the change since (stage, amount, close date, owner, closed)."""
    cutoff = end_of_day(day)
    for row in rows:
        row["days_in_stage"] = max(0, (cutoff - row["s_entered"]).days)
        row["overdue"] = row["s_close"] < day
        changes = []
        if row["now_kind"] == WON:
            changes.append(("won", "Won since"))
        elif row["now_kind"] == LOST:
            changes.append(("lost", "Lost since"))
        elif row["stage_id"] != row["s_stage"]:
            changes.append(("stage", f"Now in {stages[row['stage_id']].name}"))
        if row["amount"] != row["s_amount"]:
            changes.append(("amount", row["amount"]))
        if row["expected_close_date"] != row["s_close"]:
            changes.append(("close", row["expected_close_date"]))
        if row["owner_id"] != row["s_owner"]:
            changes.append(("owner", f"Now {row['now_owner_name']}"))
        row["changes"] = changes
    return rows


# --- the deal list ------------------------------------------------------------------------------

LIST_ORDER = {
    "name": "name",
    "company": "company__name",
    "amount": "s_amount",
    "weighted": "s_weighted",
    "close": "s_close",
    "stage": "s_stage_position",
    "owner": "owner_username",
    "created": "created_at",
}


def deal_list(*, user, filterset, day: dt.date):
    """The deal list as it stood at the end of ``day``: every deal that existed then with its
    stage, amount, weighted amount, close date and owner on that day, filtered and sorted as
    the list's FilterSet says (default: deals open then first, by close date), as dicts."""
    qs = narrow(deals_as_of(user=user, day=day), filterset, day)
    qs = qs.annotate(
        **_names(),
        owner_name=_owner_name(),
        s_weighted=weighted_expression(),
        s_stage_name=Subquery(Stage.objects.filter(pk=OuterRef("s_stage")).values("name")[:1]),
        s_stage_position=Subquery(
            Stage.objects.filter(pk=OuterRef("s_stage")).values("position")[:1]
        ),
        now_kind=F("stage__kind"),
        now_stage_name=F("stage__name"),
        now_owner_username=F("owner__username"),
    )
    filterset.is_valid()
    wanted = filterset.form.cleaned_data.get("o") or []
    order = []
    for key in wanted:
        desc = key.startswith("-")
        name = LIST_ORDER.get(key.lstrip("-"))
        if name:
            order.append(f"-{name}" if desc else name)
    if not order:
        open_first = Case(When(s_kind=OPEN, then=Value(0)), default=Value(1))
        qs = qs.alias(s_open_first=open_first)
        order = ["s_open_first", "s_close"]
    return qs.order_by(*order, "id").values(
        "id",
        "name",
        "company_name",
        "owner_username",
        "owner_name",
        "s_kind",
        "s_stage",
        "s_stage_name",
        "s_owner",
        "s_amount",
        "s_weighted",
        "s_close",
        "now_kind",
        "now_stage_name",
        "now_owner_username",
        "stage_id",
        "amount",
        "expected_close_date",
        "owner_id",
    )


def list_changes(rows, money) -> list[dict]:
    """The change since of each deal of a list page (as ``(kind, text)`` pairs in
    ``changes``): closed or reopened since, now in another stage, another amount (formatted
    by ``money``), close date or owner."""
    for row in rows:
        changes = []
        if row["now_kind"] != row["s_kind"] and row["now_kind"] in (WON, LOST):
            changes.append((row["now_kind"], f"{row['now_kind'].capitalize()} since"))
        elif row["stage_id"] != row["s_stage"]:
            changes.append(("stage", f"Now in {row['now_stage_name']}"))
        if row["amount"] != row["s_amount"]:
            changes.append(("amount", f"Amount now {money(row['amount'])}"))
        if row["expected_close_date"] != row["s_close"]:
            changes.append(
                ("close", f"Closes now {formats.date_format(row['expected_close_date'], 'M j, Y')}")
            )
        if row["owner_id"] != row["s_owner"]:
            changes.append(("owner", f"Now @{row['now_owner_username']}"))
        row["changes"] = changes
    return rows
