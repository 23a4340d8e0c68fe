"""Features of deals as of a date, from the shared deal state only (no leakage).

For an as-of date ``on`` the instant is the end of ``on`` (:func:`forecasting.periods.end_of_day`;
the end of the day before a month-start is that month-start's midnight), or now for today. The
deals open then come from :func:`forecasting.dealstate.reconstructed_deals` (or the live tables
for today), and every feature is read from rows dated before that instant: the stage's entry
time from the last stage transition before it, slips and amount changes from the field history
before it, activities that occurred *and* were logged before it, line items added before it,
the owner's trailing win rate and the company's earlier wins from closings before it. One
query per as-of date for the deals, one for the owners' and one for the companies' closings
(set-based: no per-deal queries), so a frame of 37 month-starts costs about 111 queries.

A :class:`Frame` holds one row per (deal, as-of date) with the raw values the model's design
matrix (:mod:`forecasting.learning.model`) and its explanations read, plus each deal's first
closing (time and whether it was won), which only the training labels and the back-test's
scoring use.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
from django.contrib.postgres.fields import ArrayField
from django.db import connection
from django.db.models import (
    Count,
    DateTimeField,
    DurationField,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Value,
)
from django.db.models.expressions import RawSQL
from django.utils import timezone

from forecasting.dealstate import live_deals, reconstructed_deals
from forecasting.periods import end_of_day, today
from pipeline.models import Activity, Lead, LineItem, Opportunity, Stage, StageTransition

OPEN, WON, LOST = Stage.Kind.OPEN, Stage.Kind.WON, Stage.Kind.LOST
OWNER_WINDOW_DAYS = 365
OWNER_PRIOR = 10  # pseudo-deals at the pipeline's rate: a new rep's rate starts at the average

# Raw columns of a frame, in order (numbers; categories as codes or ids).
COLUMNS = (
    "deal",  # opportunity id
    "on",  # as-of date (ordinal)
    "stage",  # stage id
    "amount",
    "prob",  # configured effective probability (override, else the stage's)
    "override",  # probability override, -1 for none
    "days_in_stage",
    "age_days",
    "days_to_close",
    "slips",
    "amount_changes",
    "idle_days",  # since the last activity, or since creation without any
    "acts14",
    "acts30",
    "items",
    "owner",
    "company_wins",
    "owner_won",
    "owner_closed",
)
CATEGORY_COLUMNS = ("category", "source")


@dataclass
class Frame:
    """Rows of (deal, as-of date) as numpy columns, and each deal's first closing."""

    columns: dict[str, np.ndarray] = field(default_factory=dict)
    categories: dict[str, np.ndarray] = field(default_factory=dict)
    # deal id -> (first closing time as a POSIX timestamp, won?)
    closings: dict[int, tuple[float, bool]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.columns.get("deal", ()))

    def take(self, mask: np.ndarray) -> Frame:
        return Frame(
            {k: v[mask] for k, v in self.columns.items()},
            {k: v[mask] for k, v in self.categories.items()},
            self.closings,
        )

    def closing_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(first closing timestamp or +inf, won 0/1) per row."""
        deals = self.columns["deal"]
        at = np.array([self.closings.get(int(d), (np.inf, False))[0] for d in deals])
        won = np.array([1.0 if self.closings.get(int(d), (0, False))[1] else 0.0 for d in deals])
        return at, won


def _instant(on: dt.date) -> dt.datetime:
    return timezone.now() if on >= today() else end_of_day(on)


def _raw(sql: str, params, output_field):
    return RawSQL(sql, params, output_field=output_field)  # nosec B611: callers pass SQL built from model metadata; values go in params


def _seconds_before(at: dt.datetime, field: str):
    """Seconds from the time in ``field`` to ``at``, computed by the database so the rows
    carry numbers instead of timestamps to parse: on PostgreSQL the interval's exact
    microseconds, rounded once to a float as ``timedelta.total_seconds()`` rounds them; on
    SQLite the difference of Julian day numbers (to about a millisecond)."""
    if connection.vendor != "postgresql":  # SQLite: days between Julian day numbers
        return Func(
            Value(at, output_field=DateTimeField()),
            F(field),
            template="((julianday(%(expressions)s)) * 86400.0)",
            arg_joiner=") - julianday(",
            output_field=FloatField(),
        )
    span = ExpressionWrapper(
        Value(at, output_field=DateTimeField()) - F(field), output_field=DurationField()
    )
    return Func(
        span, template="EXTRACT(EPOCH FROM %(expressions)s)::float8", output_field=FloatField()
    )


def _history_and_activity(at: dt.datetime, deal_t: str, hist_t: str, act_t: str) -> dict:
    """Per deal, ``f_history`` = [close-date slips, amount changes] in its field history before
    ``at`` and ``f_activity`` = [last activity as a POSIX timestamp, activities in the 14 and
    30 days before ``at``]: on PostgreSQL one scan of each table, each an array; elsewhere
    (SQLite) one scalar subquery per figure, which :func:`_deal_rows` pairs up the same way."""
    window = (
        f"SELECT h.expected_close_date > lag(h.expected_close_date) OVER w AS slipped, "  # nosec B608: only table and column names from the models' metadata; every value is a parameter
        f"h.amount <> lag(h.amount) OVER w AS changed FROM {hist_t} h "
        f"WHERE h.id = {deal_t}.id AND h.history_date < %s "
        f"WINDOW w AS (ORDER BY h.history_date, h.history_id)"
    )
    acts = (
        f"FROM {act_t} a WHERE a.opportunity_id = {deal_t}.id AND a.kind <> 'task' "  # nosec B608: only table and column names from the models' metadata; every value is a parameter
        f"AND a.occurred_at < %s AND a.created_at < %s"
    )
    since14, since30 = at - dt.timedelta(days=14), at - dt.timedelta(days=30)
    if connection.vendor == "postgresql":
        return {
            "f_history": _raw(
                f"SELECT ARRAY[(count(*) FILTER (WHERE x.slipped))::int, "  # nosec B608: a subquery built above from model metadata
                f"(count(*) FILTER (WHERE x.changed))::int] FROM ({window}) x",
                [at],
                ArrayField(IntegerField()),
            ),
            "f_activity": _raw(
                f"SELECT ARRAY[extract(epoch FROM max(a.occurred_at))::float8, "  # nosec B608: a clause built above from model metadata
                f"(count(*) FILTER (WHERE a.occurred_at >= %s))::float8, "
                f"(count(*) FILTER (WHERE a.occurred_at >= %s))::float8] {acts}",
                [since14, since30, at, at],
                ArrayField(FloatField()),
            ),
        }
    # SQLite keeps datetimes as UTC text: its parameters in that form too.
    at, since14, since30 = (
        connection.ops.adapt_datetimefield_value(v) for v in (at, since14, since30)
    )
    return {
        "f_slips": _raw(
            f"SELECT count(*) FROM ({window}) x WHERE x.slipped",  # nosec B608: a subquery built above from model metadata
            [at],
            IntegerField(),
        ),
        "f_changes": _raw(
            f"SELECT count(*) FROM ({window}) x WHERE x.changed",  # nosec B608: a subquery built above from model metadata
            [at],
            IntegerField(),
        ),
        "f_last_act": _raw(
            f"SELECT (julianday(max(a.occurred_at)) - 2440587.5) * 86400.0 {acts}",  # nosec B608: a clause built above from model metadata
            [at, at],
            FloatField(),
        ),
        "f_acts14": _raw(
            f"SELECT count(*) {acts} AND a.occurred_at >= %s",  # nosec B608: a clause built above from model metadata
            [at, at, since14],
            FloatField(),
        ),
        "f_acts30": _raw(
            f"SELECT count(*) {acts} AND a.occurred_at >= %s",  # nosec B608: a clause built above from model metadata
            [at, at, since30],
            FloatField(),
        ),
    }


def _deal_rows(on: dt.date, pipeline_id: int, deal_ids=None) -> list[tuple]:
    """One query: every deal of the pipeline open at the end of ``on`` with its raw features
    (those that need other deals' outcomes are added by :func:`frame`)."""
    at = _instant(on)
    qn = connection.ops.quote_name
    deal_t = qn(Opportunity._meta.db_table)
    hist_t = qn(Opportunity.history.model._meta.db_table)
    act_t = qn(Activity._meta.db_table)
    item_t = qn(LineItem._meta.db_table)
    base = Opportunity.objects.filter(pipeline_id=pipeline_id)
    if deal_ids is not None:
        base = base.filter(pk__in=list(deal_ids))
    if on >= today():
        qs = live_deals(rates={}, queryset=base.filter(stage__kind=OPEN))
        qs = qs.annotate(f_entered=F("stage_entered_at"), f_override=F("probability"))
    else:
        # A deal closed now whose closing came before the instant was closed then too.
        maybe_open = base.filter(Q(stage__kind=OPEN) | Q(stage_entered_at__gte=at))
        qs = reconstructed_deals(on=on, rates={}, queryset=maybe_open).filter(s_kind=OPEN)
        entered = (
            StageTransition.objects.filter(opportunity=OuterRef("pk"), changed_at__lt=at)
            .order_by("-changed_at", "-id")
            .values("changed_at")[:1]
        )
        qs = qs.annotate(
            f_entered=Subquery(entered, output_field=DateTimeField()),
            f_override=F("s_override"),
        )
    qs = qs.annotate(
        f_stage_seconds=_seconds_before(at, "f_entered"),
        f_age_seconds=_seconds_before(at, "created_at"),
    )
    qs = qs.annotate(
        **_history_and_activity(at, deal_t, hist_t, act_t),
        f_items=_raw(
            f"SELECT count(*) FROM {item_t} li WHERE li.opportunity_id = {deal_t}.id "  # nosec B608: only table and column names from the models' metadata; every value is a parameter
            "AND li.created_at < %s",
            [at],
            IntegerField(),
        ),
    )
    head = ("pk", "s_stage", "s_amount", "s_prob", "f_override", "f_stage_seconds",
            "f_age_seconds", "s_close")  # fmt: skip
    tail = ("f_items", "s_owner", "company_id", "s_category")
    if connection.vendor == "postgresql":
        return list(qs.values_list(*head, "f_history", "f_activity", *tail).order_by())
    rows = qs.values_list(
        *head, "f_slips", "f_changes", "f_last_act", "f_acts14", "f_acts30", *tail
    ).order_by()
    n = len(head)
    return [(*row[:n], row[n : n + 2], row[n + 2 : n + 5], *row[n + 5 :]) for row in rows]


def _closings_before(at: dt.datetime, pipeline_id: int | None = None):
    """Closing transitions before ``at`` (optionally of one pipeline's deals)."""
    qs = StageTransition.objects.filter(to_stage__kind__in=[WON, LOST], changed_at__lt=at)
    if pipeline_id is not None:
        qs = qs.filter(opportunity__pipeline_id=pipeline_id)
    return qs


def _owner_rates(on: dt.date, pipeline_id: int) -> dict[int, tuple[int, int]]:
    """Owner -> (won, closed) over the pipeline's deals closed in the trailing 12 months."""
    at = _instant(on)
    rows = (
        _closings_before(at, pipeline_id)
        .filter(changed_at__gte=at - dt.timedelta(days=OWNER_WINDOW_DAYS))
        .values("opportunity__owner_id")
        .annotate(
            won=Count("opportunity_id", distinct=True, filter=Q(to_stage__kind=WON)),
            closed=Count("opportunity_id", distinct=True),
        )
        .order_by()
    )
    return {r["opportunity__owner_id"]: (r["won"], r["closed"]) for r in rows}


def _company_wins(on: dt.date) -> dict[int, int]:
    """Company -> deals won (any pipeline) before the instant."""
    rows = (
        _closings_before(_instant(on))
        .filter(to_stage__kind=WON, opportunity__company_id__isnull=False)
        .values("opportunity__company_id")
        .annotate(n=Count("opportunity_id", distinct=True))
        .order_by()
    )
    return {r["opportunity__company_id"]: r["n"] for r in rows}


def first_closings(pipeline_id: int) -> dict[int, tuple[float, bool]]:
    """Each deal's first closing: (time as a POSIX timestamp, won?). One query."""
    qs = (
        StageTransition.objects.filter(
            opportunity__pipeline_id=pipeline_id, to_stage__kind__in=[WON, LOST]
        )
        .order_by("opportunity_id", "changed_at", "id")
        .values_list("opportunity_id", "changed_at", "to_stage__kind")
    )
    if connection.vendor == "postgresql":
        qs = qs.distinct("opportunity_id")
    first: dict[int, tuple[float, bool]] = {}
    for pk, at, kind in qs:  # without DISTINCT ON (SQLite): the first row of each deal
        first.setdefault(pk, (at.timestamp(), kind == WON))
    return first


def _days(seconds: float | None) -> float:
    """Whole and part days of a span of ``seconds`` (none, or a negative span, is 0)."""
    if seconds is None:
        return 0.0
    return max(0.0, seconds / 86400.0)


def frame(*, pipeline_id: int, dates: list[dt.date], deal_ids=None, closings: bool = True) -> Frame:
    """The features of every deal of the pipeline open at the end of each of ``dates`` (and,
    with ``closings``, every deal's first closing, which scoring today does not need)."""
    leads = Lead.objects.filter(opportunity__pipeline_id=pipeline_id)
    if deal_ids is not None:
        leads = leads.filter(opportunity_id__in=list(deal_ids))
    if all(on >= today() for on in dates):
        leads = leads.filter(opportunity__stage__kind=OPEN)  # only open deals are read today
    sources = dict(leads.values_list("opportunity_id", "source").order_by())  # one per deal
    cols: dict[str, list] = {c: [] for c in COLUMNS}
    cats: dict[str, list] = {c: [] for c in CATEGORY_COLUMNS}
    for on in dates:
        rows = _deal_rows(on, pipeline_id, deal_ids)
        if not rows:
            continue
        at = _instant(on)
        owners = _owner_rates(on, pipeline_id)
        companies = _company_wins(on)
        local = timezone.localtime(at)
        for (pk, stage, amount, prob, override, in_stage, lived, close, (slips, changes),
             (last_act, acts14, acts30), items, owner, company, category) in rows:  # fmt: skip
            age = _days(lived)
            won, closed = owners.get(owner, (0, 0))
            cols["deal"].append(pk)
            cols["on"].append(on.toordinal())
            cols["stage"].append(stage)
            cols["amount"].append(float(amount or 0))
            cols["prob"].append(float(prob))
            cols["override"].append(-1.0 if override is None else float(override))
            cols["days_in_stage"].append(_days(in_stage))
            cols["age_days"].append(age)
            cols["days_to_close"].append(float((close - local.date()).days) if close else 0.0)
            cols["slips"].append(slips or 0)
            cols["amount_changes"].append(changes or 0)
            idle = (at.timestamp() - last_act) / 86400.0 if last_act is not None else age
            cols["idle_days"].append(max(0.0, idle))
            cols["acts14"].append(acts14 or 0)
            cols["acts30"].append(acts30 or 0)
            cols["items"].append(items or 0)
            cols["owner"].append(owner)
            cols["company_wins"].append(companies.get(company, 0))
            cols["owner_won"].append(won)
            cols["owner_closed"].append(closed)
            cats["category"].append(category or "")
            cats["source"].append(sources.get(pk, "none"))
    return Frame(
        {k: np.asarray(v, dtype=float) for k, v in cols.items()},
        {k: np.asarray(v, dtype=object) for k, v in cats.items()},
        first_closings(pipeline_id) if closings else {},
    )
