"""The pipeline board: one column per open stage of a pipeline.

Cost does not depend on the number of deals (DESIGN.md §6):

- the column headers (count, total, weighted total of the whole filtered column, in the
  reporting currency at today's rates by ``pipeline.conversion``) come from ONE aggregate
  query grouped by stage and currency, the weighted sum through ``pipeline.expressions``,
  plus one query for today's rates;
- the cards come from one ``UNION ALL`` of per-stage ``LIMIT`` queries where the database
  supports it (PostgreSQL), each walking the (pipeline, stage, expected_close_date) index,
  else from one query per open stage (a fixed number);
- cards are ``values()`` rows, not model instances, and at most :func:`card_limit` per column;
  the company and owner names are scalar subqueries, which PostgreSQL evaluates only for
  the rows that pass the ``LIMIT`` (a join would be planned and probed for every row the
  index walk visits).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db import connection
from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce, Concat, NullIf, Trim
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from pipeline import conversion, expressions
from pipeline.currency import reporting_currency
from pipeline.filters.opportunities import BoardFilter
from pipeline.models import Company, DealScore, Opportunity, Pipeline, Stage


def card_limit() -> int:
    """Cards per column on the board and per "show more" page: the setting
    ``OPPORTUNE_BOARD_COLUMN_LIMIT`` (50 unless configured)."""
    return max(1, int(settings.OPPORTUNE_BOARD_COLUMN_LIMIT))


ZERO = Decimal("0")

CARD_FIELDS = (
    "id",
    "name",
    "amount",
    "currency",
    "expected_close_date",
    "next_step",
    "version",
    "stage_id",
    "stage_entered_at",
    "company_name",
    "owner_name",
    "model_probability",
)
CARD_ORDER = ("expected_close_date", "id")


@dataclass
class Column:
    stage: Stage
    count: int = 0
    total: Decimal = ZERO
    weighted: Decimal = ZERO
    cards: list[dict] = field(default_factory=list)
    offset: int = 0

    @property
    def n(self) -> int:
        return self.count

    @property
    def more(self) -> int:
        """Deals of the column not shown yet (after ``offset`` + the cards shown)."""
        return max(0, self.count - self.offset - len(self.cards))


def board_pipelines() -> list[Pipeline]:
    return list(Pipeline.objects.filter(is_active=True).order_by("position", "id"))


def choose_pipeline(pipelines: list[Pipeline], raw) -> Pipeline | None:
    """The pipeline named by the URL (an id), else the first active one."""
    try:
        wanted = int(raw)
    except (TypeError, ValueError):
        wanted = None
    for p in pipelines:
        if p.pk == wanted:
            return p
    return pipelines[0] if pipelines else None


def pipeline_stages(pipeline: Pipeline) -> list[Stage]:
    return list(pipeline.stages.order_by("position", "id"))


@dataclass(frozen=True)
class _Viewer:
    """What the FilterSet reads of a request: whose board it is."""

    user: User


def board_filter(*, user, params, request=None) -> BoardFilter:
    """The board's FilterSet over every deal the user may see. Column queries narrow it by
    stage ids, which imply the pipeline; the card queries add the pipeline so they walk the
    (pipeline, stage, expected_close_date) index.

    The FilterSet learns from its request which filters the user has (owner and team for
    managers and admins) and their choices; without one it would drop them and count every
    deal in scope. Callers without the page's request (the totals after a move) get the same
    filters through a stand-in that carries only the user."""
    if request is None or getattr(request, "user", None) is None:
        request = _Viewer(user)
    return BoardFilter(params, queryset=Opportunity.objects.visible_to(user), request=request)


def column_totals(
    qs: QuerySet,
    stages: list[Stage],
    *,
    fx: dict[str, Decimal] | None = None,
    missing=None,
    every_pipeline: dict | None = None,
    every_open_stage_ids: list[int] | None = None,
) -> dict[int, dict]:
    """count, total and weighted total per stage of the whole filtered column, in the
    reporting currency at today's rates ``fx`` (``pipeline.conversion``): one query.

    The query groups by stage and currency: the weighted total comes from plain sums
    through ``expressions.stage_weighted_total`` (the same number as summing
    ``weighted_amount`` per deal, without a CASE for every deal), the deals weighted by their
    model score (``expressions.uses_model``) summed apart. Deals of a currency without a rate
    are counted but not summed; ``missing`` (a list) receives their
    :class:`~pipeline.conversion.MissingRate`.

    With ``every_pipeline`` (a dict), the same query also counts and sums the open deals of
    every pipeline (what the home page's "open pipeline" counts) into it: ``n`` and
    ``total``; ``every_open_stage_ids`` are the ids of every open stage (a list of values, so
    that the stage index narrows the rows as it does for one pipeline)."""
    by_id = {s.pk: s for s in stages}
    if fx is None:
        fx = conversion.rates_on(timezone.localdate())
    amount = conversion.open_amount(F("amount"), F("currency"), fx)
    if every_pipeline is None:
        scoped = qs.filter(stage_id__in=list(by_id))
    else:
        scoped = qs.filter(stage_id__in=sorted(set(by_id) | set(every_open_stage_ids or ())))
        every_pipeline.update(n=0, total=ZERO)
    if all(s.kind == Stage.Kind.OPEN for s in stages):
        # Open deals have no closed date (the services keep it empty on every open deal):
        # saying so lets the database read them from the open-deals index (opp_owner_open)
        # instead of every open deal of every owner (a team's board at 100,000 deals:
        # 18 -> 6 ms).
        scoped = scoped.filter(closed_on__isnull=True)
    rows = (
        scoped.order_by()
        .values("stage_id", "currency")
        .annotate(
            n=Count("*"),
            total=Sum(amount),
            overridden=Sum(amount * F("probability")),
            by_stage=Sum(amount, filter=Q(probability__isnull=True)),
            # Deals weighted by their model score (expressions.uses_model).
            modelled=Sum(amount * F("win_score__probability"), filter=expressions.uses_model()),
            modelled_amount=Sum(amount, filter=expressions.uses_model()),
        )
    )
    sums: dict[int, dict] = {}
    unconverted: dict[str, int] = {}
    for r in rows:
        if every_pipeline is not None:
            every_pipeline["n"] += r["n"]
            if r["total"] is not None:
                every_pipeline["total"] += Decimal(str(r["total"]))
            if r["stage_id"] not in by_id:
                continue
        acc = sums.setdefault(
            r["stage_id"],
            {"n": 0, "total": 0, "over": 0, "rest": 0, "modelled": 0, "modelled_amount": 0},
        )
        acc["n"] += r["n"]
        if r["total"] is None and r["currency"] != reporting_currency():
            unconverted[r["currency"]] = unconverted.get(r["currency"], 0) + r["n"]
            continue
        # SQLite sums decimals as floats; money is shown to the cent everywhere.
        acc["total"] += Decimal(str(r["total"] or 0))
        acc["over"] += Decimal(str(r["overridden"] or 0))
        acc["rest"] += Decimal(str(r["by_stage"] or 0))
        acc["modelled"] += Decimal(str(r["modelled"] or 0))
        acc["modelled_amount"] += Decimal(str(r["modelled_amount"] or 0))
    if every_pipeline is not None:
        every_pipeline["total"] = expressions.to_cents(every_pipeline["total"])
    if missing is not None:
        missing.extend(
            conversion.missing_from_groups(unconverted, rates=fx, on=timezone.localdate())
        )
    out = {}
    for sid, acc in sums.items():
        stage = by_id[sid]
        out[stage.pk] = {
            "stage_id": stage.pk,
            "n": acc["n"],
            "total": expressions.to_cents(acc["total"]),
            "weighted": expressions.to_cents(
                expressions.stage_weighted_total(
                    stage,
                    total=acc["total"],
                    amount_times_override=acc["over"] + acc["modelled"],
                    amount_without_override=acc["rest"] - acc["modelled_amount"],
                )
            ),
        }
    return out


def _names():
    """The card's company and owner names, as scalar subqueries (see the module doc)."""
    return {
        "company_name": Subquery(
            Company.objects.filter(pk=OuterRef("company_id")).order_by().values("name")[:1]
        ),
        # The owner's full name, else their username: one subquery for both.
        "owner_name": Subquery(
            User.objects.filter(pk=OuterRef("owner_id"))
            .order_by()
            .values(
                name=Coalesce(
                    NullIf(Trim(Concat("first_name", Value(" "), "last_name")), Value("")),
                    "username",
                )
            )[:1]
        ),
        # The win model's probability beside the stage's (pipeline/models/scores.py).
        "model_probability": Subquery(
            DealScore.objects.filter(pk=OuterRef("pk")).values("probability")[:1]
        ),
    }


def _cards_query(qs: QuerySet, stage_id: int, offset: int, limit: int) -> QuerySet:
    return (
        qs.filter(stage_id=stage_id)
        .order_by(*CARD_ORDER)
        .annotate(**_names())
        .values(*CARD_FIELDS)[offset : offset + limit]
    )


def card_rows(qs: QuerySet, stage_ids: list[int], *, limit: int | None = None) -> list[dict]:
    """At most ``limit`` (default :func:`card_limit`) cards per stage, soonest close date
    first."""
    limit = limit or card_limit()
    if not stage_ids:
        return []
    parts = [_cards_query(qs, sid, 0, limit) for sid in stage_ids]
    if len(parts) > 1 and connection.features.supports_slicing_ordering_in_compound:
        return list(parts[0].union(*parts[1:], all=True))
    rows: list[dict] = []
    for part in parts:
        rows.extend(part)
    return rows


def decorate_cards(
    rows: list[dict], stages: dict[int, Stage], *, now=None, fx: dict[str, Decimal] | None = None
) -> list[dict]:
    """Add what a card shows besides its fields: days in stage, rotting and overdue flags,
    the URLs of the deal and its move action (built once, not reversed per card), and for a
    deal in another currency its amount converted at today's rates ``fx`` (``converted``,
    None without a rate)."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    reporting = reporting_currency()
    if fx is None and any(row["currency"] != reporting for row in rows):
        fx = conversion.rates_on(today)
    detail = reverse("pipeline:opportunity_detail", args=[0]).replace("/0/", "/{}/")
    move = reverse("pipeline:opportunity_move", args=[0]).replace("/0/", "/{}/")
    for row in rows:
        stage = stages[row["stage_id"]]
        days = max(0, (now - row["stage_entered_at"]).days)
        row["days_in_stage"] = days
        row["rotting"] = stage.rot_after_days is not None and days > stage.rot_after_days
        row["overdue"] = row["expected_close_date"] < today
        row["stage_probability"] = stage.probability
        row["url"] = detail.format(row["id"])
        row["move_url"] = move.format(row["id"])
        if row["currency"] != reporting:
            row["converted"] = conversion.convert(row["amount"], fx.get(row["currency"]))
    return rows


@dataclass
class Board:
    pipeline: Pipeline | None
    pipelines: list[Pipeline]
    stages: list[Stage]
    columns: list[Column]
    filterset: BoardFilter | None
    won_stage: Stage | None = None
    lost_stages: list[Stage] = field(default_factory=list)
    missing_rates: list[conversion.MissingRate] = field(default_factory=list)
    currency: str = field(default_factory=reporting_currency)
    # The open deals of every pipeline under the same filters: ``n`` and ``total``.
    every_pipeline: dict = field(default_factory=dict)

    @property
    def open_stages(self) -> list[Stage]:
        return [c.stage for c in self.columns]

    @property
    def count(self) -> int:
        return sum(c.count for c in self.columns)

    @property
    def total(self) -> Decimal:
        return sum((c.total for c in self.columns), ZERO)

    @property
    def weighted(self) -> Decimal:
        return sum((c.weighted for c in self.columns), ZERO)


def board_for(*, user, params, request=None, now: dt.datetime | None = None) -> Board:
    """Everything the board page shows, in a number of queries independent of the data:
    pipelines, stages, column totals, cards (plus the filter choices when rendered)."""
    pipelines = board_pipelines()
    pipeline = choose_pipeline(pipelines, params.get("pipeline"))
    if pipeline is None:
        return Board(None, pipelines, [], [], None)
    # This pipeline's stages and every pipeline's open ones (for the every-pipeline line), in
    # one query.
    every_stage = list(
        Stage.objects.filter(Q(pipeline=pipeline) | Q(kind=Stage.Kind.OPEN)).order_by(
            "position", "id"
        )
    )
    stages = [s for s in every_stage if s.pipeline_id == pipeline.pk]
    for s in stages:
        s.pipeline = pipeline  # as pipeline.stages would: no query when a stage reads it
    open_stages = [s for s in stages if s.kind == Stage.Kind.OPEN]
    every_open = [s.pk for s in every_stage if s.kind == Stage.Kind.OPEN]
    filterset = board_filter(user=user, params=params, request=request)
    qs = filterset.qs
    ids = [s.pk for s in open_stages]
    fx = conversion.rates_on(timezone.localdate(now))
    missing: list[conversion.MissingRate] = []
    every: dict = {}
    totals = column_totals(
        qs,
        open_stages,
        fx=fx,
        missing=missing,
        every_pipeline=every,
        every_open_stage_ids=every_open,
    )
    rows = card_rows(qs.filter(pipeline=pipeline), ids)
    rows = decorate_cards(rows, {s.pk: s for s in stages}, now=now, fx=fx)
    columns = {s.pk: Column(stage=s) for s in open_stages}
    for sid, t in totals.items():
        col = columns[sid]
        col.count, col.total, col.weighted = t["n"], t["total"], t["weighted"]
    for row in rows:
        columns[row["stage_id"]].cards.append(row)
    return Board(
        pipeline=pipeline,
        pipelines=pipelines,
        stages=stages,
        columns=list(columns.values()),
        filterset=filterset,
        won_stage=next((s for s in stages if s.kind == Stage.Kind.WON), None),
        lost_stages=[s for s in stages if s.kind == Stage.Kind.LOST],
        missing_rates=missing,
        every_pipeline=every,
    )


def column_page(
    *, user, params, stage: Stage, offset: int, limit: int | None = None, request=None
) -> tuple[Column, BoardFilter]:
    """The cards of one column after ``offset`` ("show more"), with the column's totals."""
    limit = limit or card_limit()
    filterset = board_filter(user=user, params=params, request=request)
    qs = filterset.qs
    fx = conversion.rates_on(timezone.localdate())
    totals = column_totals(qs, [stage], fx=fx).get(stage.pk)
    col = Column(stage=stage, offset=offset)
    if totals:
        col.count, col.total, col.weighted = totals["n"], totals["total"], totals["weighted"]
    rows = list(_cards_query(qs.filter(pipeline=stage.pipeline_id), stage.pk, offset, limit))
    col.cards = decorate_cards(rows, {stage.pk: stage}, fx=fx)
    return col, filterset


def card_for(*, user, pk: int) -> dict | None:
    """One open deal's card (after a move), or None when it is closed or out of sight."""
    row = (
        Opportunity.objects.visible_to(user)
        .filter(pk=pk, stage__kind=Stage.Kind.OPEN)
        .annotate(**_names())
        .values(*CARD_FIELDS)
        .first()
    )
    if row is None:
        return None
    stage = Stage.objects.select_related("pipeline").get(pk=row["stage_id"])
    card = decorate_cards([row], {stage.pk: stage})[0]
    card["pipeline"] = stage.pipeline
    return card


def header_totals(*, user, params, pipeline: Pipeline) -> dict[int, dict]:
    """Column totals for the board's current filters (refreshed after a drag and drop)."""
    filterset = board_filter(user=user, params=params)
    stages = list(pipeline.stages.filter(kind=Stage.Kind.OPEN))
    totals = column_totals(filterset.qs, stages)
    empty = {"n": 0, "total": ZERO, "weighted": ZERO}
    return {s.pk: totals.get(s.pk, empty) for s in stages}
