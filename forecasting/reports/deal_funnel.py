"""The deal funnel, beside the lead funnel: the deals created in the range in one pipeline,
followed forward through its open stages in their order.

A deal *entered* a stage when it ever reached that stage or a later one: a deal that skipped
a stage (Qualification → Proposal) passed the stages it skipped, a won deal passed every open
stage, and a deal moved back or reopened counts by the furthest stage it ever reached. Per
stage: the deals that entered it, those that *reached the next* (the next open stage, or
won after the last one), the *drop-off* between the two, and of those that entered, the ones
*closed* (won or lost) and *won* now. Deals without a lead count as much as converted ones,
so an imported or API-created pipeline has a funnel too. One grouped query."""

from __future__ import annotations

from django.db.models import Case, Count, IntegerField, Max, OuterRef, Subquery, Value, When
from django.db.models.functions import Coalesce, Greatest

from forecasting import charts
from forecasting.reports.links import deals_url
from forecasting.reports.scope import ReportScope
from forecasting.reports.tables import Column, Table, ratio_pct
from pipeline.models import Pipeline, Stage, StageTransition

OPEN, WON, LOST = Stage.Kind.OPEN, Stage.Kind.WON, Stage.Kind.LOST

# The drill-down steps of one stage's row (``?kind=deal_funnel&stage=…&outcome=…``).
STEPS = {
    "entered": "entered",
    "next": "reached the next stage",
    "dropped": "reached no later stage",
    "closed": "have closed",
    "won": "were won",
}


def funnel_stages(scope: ReportScope) -> list[Stage]:
    """The stages of the pipeline the deal funnel follows (the chosen one, or the first), in
    order, with their pipeline: one query."""
    qs = Stage.objects.select_related("pipeline").order_by("position", "id")
    if scope.pipeline is not None:
        return list(qs.filter(pipeline=scope.pipeline))
    first = Pipeline.objects.order_by("position", "id").values("pk")[:1]
    return list(qs.filter(pipeline_id=Subquery(first)))


def _ranks(stages: list[Stage]) -> dict[int, int]:
    """Stage id → rank: open stages 1…N in their order, won stages N + 1, lost stages 0."""
    open_stages = [s for s in stages if s.kind == OPEN]
    ranks = {s.pk: i for i, s in enumerate(open_stages, start=1)}
    ranks.update({s.pk: len(open_stages) + 1 for s in stages if s.kind == WON})
    ranks.update({s.pk: 0 for s in stages if s.kind == LOST})
    return ranks


def _rank_of(field: str, ranks: dict[int, int]):
    whens = [When(**{field: pk}, then=Value(rank)) for pk, rank in sorted(ranks.items())]
    return Case(*whens, default=Value(0), output_field=IntegerField())


def cohort(scope: ReportScope, pipeline: Pipeline, stages: list[Stage]):
    """The deals the funnel follows, each annotated with ``reach``: the rank of the furthest
    stage it ever entered (its transitions, and its current stage)."""
    ranks = _ranks(stages)
    # The highest rank among the deal's transitions, as an aggregate over its rows of the
    # deal/stage index: no per-deal sort as ORDER BY rank DESC LIMIT 1 would need.
    furthest = (
        StageTransition.objects.filter(opportunity_id=OuterRef("pk"))
        .order_by()
        .values("opportunity_id")
        .annotate(rank=Max(_rank_of("to_stage_id", ranks)))
        .values("rank")
    )
    deals = scope.deals().filter(
        pipeline=pipeline, created_at__gte=scope.start_at, created_at__lt=scope.end_at
    )
    # A won deal passed every open stage: its reach is the top rank without reading its
    # transitions (the correlated lookup runs for the other deals only).
    top = len([s for s in stages if s.kind == OPEN]) + 1
    won_ids = [s.pk for s in stages if s.kind == WON]
    return deals.annotate(
        reach=Case(
            When(stage_id__in=won_ids, then=Value(top)),
            default=Greatest(
                Coalesce(Subquery(furthest, output_field=IntegerField()), Value(0)),
                _rank_of("stage_id", ranks),
            ),
            output_field=IntegerField(),
        )
    )


def step_deals(scope: ReportScope, stage: Stage, outcome: str):
    """The deals behind one cell of the funnel: of the deals that entered ``stage``, those
    of ``outcome`` (:data:`STEPS`)."""
    stages = list(stage.pipeline.stages.order_by("position", "id"))
    rank = _ranks(stages).get(stage.pk, 0)
    qs = cohort(scope, stage.pipeline, stages)
    if stage.kind != OPEN or not rank:
        return qs.none()
    qs = qs.filter(reach__gte=rank)
    if outcome == "next":
        qs = qs.filter(reach__gt=rank)
    elif outcome == "dropped":
        qs = qs.filter(reach=rank)
    elif outcome == "closed":
        qs = qs.filter(stage__kind__in=[WON, LOST])
    elif outcome == "won":
        qs = qs.filter(stage__kind=WON)
    return qs


def deal_funnel(scope: ReportScope) -> tuple[Table, dict | None]:
    """The funnel table of the scope's pipeline (or the first) and its chart."""
    stages = funnel_stages(scope)
    pipeline = stages[0].pipeline if stages else scope.pipeline
    columns = [
        Column("stage", "Stage"),
        Column("entered", "Deals entered", "int", "Reached this stage or a later one"),
        Column("next", "Reached the next stage", "int", "The next open stage, or won"),
        Column("dropped", "Drop-off", "int", "Entered this stage, no later one (lost or open)"),
        Column("drop_rate", "Drop-off rate", "pct"),
        Column("closed", "Closed now", "int"),
        Column("won", "Won now", "int"),
        Column("win_rate", "Won of entered", "pct"),
    ]
    if pipeline is None:
        table = Table(key="deal_funnel", caption="Deal funnel", columns=columns)
        table.empty = "There is no pipeline yet."
        return table, None
    open_stages = [s for s in stages if s.kind == OPEN]
    counts = (
        cohort(scope, pipeline, stages)
        .values("reach", "stage__kind")
        .annotate(n=Count("pk"))
        .order_by()
    )
    by_reach: dict[int, dict[str, int]] = {}
    for r in counts:
        by_reach.setdefault(r["reach"], {}).setdefault(r["stage__kind"], 0)
        by_reach[r["reach"]][r["stage__kind"]] += r["n"]

    def count(min_rank: int, kinds=(OPEN, WON, LOST)) -> int:
        return sum(
            n for reach, k in by_reach.items() if reach >= min_rank for kind, n in k.items()
            if kind in kinds
        )  # fmt: skip

    rows = []
    for rank, s in enumerate(open_stages, start=1):
        entered, reached = count(rank), count(rank + 1)

        def link(outcome, _s=s):
            return deals_url(scope, "deal_funnel", stage=_s.pk, outcome=outcome)

        rows.append(
            {
                "stage": s.name,
                "entered": entered,
                "next": reached,
                "dropped": entered - reached,
                "drop_rate": ratio_pct(entered - reached, entered),
                "closed": count(rank, (WON, LOST)),
                "won": count(rank, (WON,)),
                "win_rate": ratio_pct(count(rank, (WON,)), entered),
                "_links": {key: link(key) for key in STEPS},
            }
        )
    table = Table(
        key="deal_funnel",
        caption=f"Deal funnel — {pipeline} (deals created in the range)",
        columns=columns,
        rows=rows,
        empty="This pipeline has no open stages.",
    )
    if not any(r["entered"] for r in rows):
        table.rows = []
        table.empty = (
            f"No deals were created in {pipeline} in this range. Widen the dates or clear the "
            "filters."
        )
        return table, None
    won = count(len(open_stages) + 1)
    chart = charts.funnel(
        [*(r["stage"] for r in rows), "Won"],
        [*(r["entered"] for r in rows), won],
        [*(r["_links"]["entered"] for r in rows), rows[-1]["_links"]["next"]],
        label="Deals created in the range",
        title=f"Deals reaching each stage — {pipeline}",
        caption=(
            "How many of the deals created in the range entered each stage, and how many were "
            "won; the drop between two bars is where deals fall out."
        ),
        unit="deals",
        category="Stage",
    )
    return table, chart
