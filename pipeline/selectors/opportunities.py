"""Reads behind the opportunity pages. Every query starts from
``Opportunity.objects.visible_to(user)`` and loads what the page shows in a fixed number of
queries (``select_related`` and SQL annotations, never a query per row)."""

from __future__ import annotations

import datetime as dt
import heapq
from dataclasses import dataclass

from django.db import connection
from django.db.models import Case, QuerySet, When
from django.shortcuts import get_object_or_404
from django.utils import timezone

from accounts.visibility import can_reopen
from pipeline import conversion, expressions
from pipeline.filters.opportunities import DEFAULT_STATUS, OpportunityFilter
from pipeline.models import (
    Company,
    Contact,
    ForecastCategory,
    LostReason,
    Opportunity,
    Pipeline,
    Stage,
)

LIST_PAGE_SIZE = 50


def visible_opportunities(*, user) -> QuerySet[Opportunity]:
    return Opportunity.objects.visible_to(user)


def opportunity_list(*, user, params, request=None, fx=None) -> tuple[OpportunityFilter, QuerySet]:
    """The filtered, sorted list (default: open deals by close date; a search without a
    status looks at every deal) and its FilterSet. ``fx``: today's rates, when the caller
    has read them (else read here)."""
    if fx is None:
        fx = conversion.rates_on(timezone.localdate())
    base = (
        visible_opportunities(user=user)
        .select_related("company", "owner", "stage", "pipeline", "win_score")
        .only(
            "name",
            "amount",
            "currency",
            "probability",
            "expected_close_date",
            "closed_on",
            "forecast_category",
            "stage_entered_at",
            "next_step",
            "last_activity_at",
            "version",
            "company__name",
            "owner__username",
            "owner__first_name",
            "owner__last_name",
            "owner__team_id",
            "stage__name",
            "stage__kind",
            "stage__probability",
            "stage__position",
            "stage__forecast_category",
            "stage__rot_after_days",
            "pipeline__name",
            # The effective probability asks the pipeline's source and the deal's model score.
            "pipeline__probability_source",
            "pipeline__model_eligible",
            "win_score__probability",
        )
        .annotate(
            weighted=expressions.weighted_amount(),
            amount_reporting=conversion.deal_amount(fx),
        )
    )
    data = params.copy()
    if not data.get("status") and not data.get("q", "").strip():
        # Open deals unless a status is chosen ("all" shows closed ones too); a search
        # finds a deal whatever its status.
        data["status"] = DEFAULT_STATUS
    filterset = OpportunityFilter(data, queryset=base, request=request)
    qs = filterset.qs
    if not qs.query.order_by:
        # Open deals first, then closed ones; each by close date, soonest first.
        open_first = Case(When(stage__kind=Stage.Kind.OPEN, then=0), default=1)
        qs = qs.order_by(open_first, "expected_close_date", "id")
    else:
        qs = qs.order_by(*qs.query.order_by, "id")
    return filterset, qs


def list_rows(filterset: OpportunityFilter, qs: QuerySet):
    """What the deal list pages through: ``qs`` itself, or, for its default order (no sort
    chosen) where the status leaves one kind of deal (open, the default; won; lost), the
    same rows read by :class:`ByCloseDate`, whose pages cost the same whatever the number of
    deals."""
    if filterset.is_valid() and not filterset.form.cleaned_data.get("o"):
        data = filterset.form.cleaned_data
        kind = data.get("status")
        if kind in (Stage.Kind.OPEN, Stage.Kind.WON, Stage.Kind.LOST):
            # Only the stages the filters leave: no branch for another pipeline's stages.
            stages = Stage.objects.filter(kind=kind)
            if data.get("pipeline"):
                stages = stages.filter(pipeline=data["pipeline"])
            if data.get("stage"):
                stages = stages.filter(pk=data["stage"].pk)
            return ByCloseDate(qs, list(stages.order_by("pipeline_id", "position", "id")))
    return qs


class ByCloseDate:
    """The rows of ``qs`` (deals of ``stages``' kind), soonest close date first, as a
    sequence a paginator slices.

    Sorting every visible deal by close date to show 50 of them costs as much as there are
    deals. Here a page is read as the board reads its columns: per stage, the first rows of
    the (pipeline, stage, expected_close_date) index, merged into one order (one ``UNION
    ALL`` on PostgreSQL, a merge in Python elsewhere), then those rows with everything the
    list shows: two queries, whose cost depends on the page's position, not on the table.
    The paginator counts ``queryset`` within its bound. Each branch names its stage's
    pipeline, for the index: a deal's stage is always one of its pipeline's (the services
    refuse others)."""

    ORDER = ("expected_close_date", "id")

    def __init__(self, queryset: QuerySet, stages: list[Stage]):
        self.queryset, self.stages = queryset, stages

    def __len__(self) -> int:
        return self.queryset.order_by().count()

    def _keys(self, stop: int) -> list[tuple]:
        keys = self.queryset.order_by().values_list(*self.ORDER)
        parts = [
            keys.filter(pipeline_id=s.pipeline_id, stage_id=s.pk).order_by(*self.ORDER)[:stop]
            for s in self.stages
        ]
        if not parts:
            return []
        if len(parts) > 1 and connection.features.supports_slicing_ordering_in_compound:
            return list(parts[0].union(*parts[1:], all=True).order_by(*self.ORDER)[:stop])
        return list(heapq.merge(*(list(p) for p in parts)))[:stop]

    def __getitem__(self, item):
        if not isinstance(item, slice):
            return self[item : item + 1][0]
        start, stop = item.start or 0, item.stop
        if stop is None:
            stop = len(self)
        if stop <= start:  # an empty list's only page
            return []
        ids = [pk for _, pk in self._keys(stop)[start:]]
        rows = {row.pk: row for row in self.queryset.order_by().filter(pk__in=ids)}
        return [rows[pk] for pk in ids if pk in rows]


def get_opportunity(*, user, pk) -> Opportunity:
    """One deal the user may see, with what its page shows; 404 otherwise. Two queries: the
    deal with its company, contact, owner and score, then its pipeline's stages (with the
    pipeline), which give the deal its stage and pipeline and :func:`stage_bar` its steps.
    One join of all eight relations cost PostgreSQL several milliseconds to plan, for a
    fraction of a millisecond of work; a lost deal's reason is read when shown."""
    qs = visible_opportunities(user=user).select_related("company", "contact", "owner", "win_score")
    opportunity = get_object_or_404(qs, pk=pk)
    stages = list(
        Stage.objects.filter(pipeline_id=opportunity.pipeline_id)
        .select_related("pipeline")
        .order_by("position", "id")
    )
    current = next((s for s in stages if s.pk == opportunity.stage_id), None)
    if current is not None:
        opportunity.stage = current
        opportunity.pipeline = current.pipeline
        opportunity.pipeline_stages = stages
    return opportunity


@dataclass(frozen=True)
class StageStep:
    stage: Stage
    state: str  # "done" | "current" | "ahead" | "closed-other"
    is_current: bool


def stage_bar(*, opportunity: Opportunity) -> list[StageStep]:
    """The pipeline's stages in board order, marking where the deal is (those
    :func:`get_opportunity` read, else one query)."""
    stages = getattr(opportunity, "pipeline_stages", None)
    if stages is None:
        stages = list(opportunity.pipeline.stages.order_by("position", "id"))
    current = next((s for s in stages if s.pk == opportunity.stage_id), opportunity.stage)
    steps = []
    for s in stages:
        if s.pk == current.pk:
            state = "current"
        elif s.kind != Stage.Kind.OPEN:
            state = "closed-other"
        elif current.kind == Stage.Kind.WON or (
            current.kind == Stage.Kind.OPEN and s.position < current.position
        ):
            state = "done"
        else:
            state = "ahead"
        steps.append(StageStep(stage=s, state=state, is_current=s.pk == current.pk))
    return steps


def deal_flags(*, opportunity: Opportunity, now: dt.datetime | None = None) -> dict:
    now = now or timezone.now()
    return {
        "days_in_stage": opportunity.days_in_stage(now),
        "rotting": opportunity.is_rotting(now),
        "overdue": opportunity.is_overdue(timezone.localdate(now)),
        "can_reopen": False,
    }


def detail_context(*, user, opportunity: Opportunity) -> dict:
    flags = deal_flags(opportunity=opportunity)
    flags["can_reopen"] = opportunity.is_closed and can_reopen(user, opportunity)
    if opportunity.currency != conversion.reporting_currency():
        opportunity.amount_reporting = conversion.deal_in_reporting(
            opportunity, on=timezone.localdate()
        )
    return {
        "stage_bar": stage_bar(opportunity=opportunity),
        "forecast_label": ForecastCategory(opportunity.effective_forecast_category).label,
        **flags,
    }


# --- form choices ------------------------------------------------------------------------------


def company_choices(*, user) -> QuerySet[Company]:
    return Company.objects.visible_to(user).only("name").order_by("name", "id")


def contact_choices(*, user) -> QuerySet[Contact]:
    return (
        Contact.objects.visible_to(user)
        .select_related("company")
        .only("first_name", "last_name", "company__name")
        .order_by("last_name", "first_name", "id")
    )


def pipeline_choices() -> QuerySet[Pipeline]:
    return Pipeline.objects.filter(is_active=True).order_by("position", "id")


def lost_reason_choices() -> QuerySet[LostReason]:
    return LostReason.objects.filter(is_active=True).order_by("position", "name")
