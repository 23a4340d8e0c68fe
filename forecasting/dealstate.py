"""The state of every deal as of a date: live for today, reconstructed from history for a
past date. Snapshots, the dashboard's live figures, "what changed" and the deal lists behind
a number all read deals through these querysets, so they agree.

What the state of ``D`` is
--------------------------
The pipeline as it stood at the end of ``D`` in ``settings.TIME_ZONE``
(:func:`forecasting.periods.end_of_day`):

* ``D`` = today: the live tables.
* ``D`` in the past: reconstructed per deal from history. Deals created after ``D`` are left
  out. The stage is that of the deal's last :class:`~pipeline.models.StageTransition` with
  ``changed_at`` before the end of ``D``. Amount, expected close date, owner, probability
  override and forecast category come from the deal's last field-history row
  (``Opportunity.history``) before the end of ``D``; when a deal has no history row then, the
  amount and probability of that transition row and the deal's current close date, owner and
  category are used. A deal closed as of ``D`` falls in the period of its ``closed_on`` when
  it is still in that closed stage today, else of the date of the closing transition. Stage
  probabilities and default categories are the stages' current configuration; team
  membership is the reps' current team.

Probabilities follow DESIGN.md §3 (``pipeline.expressions``); in pipelines with
``use_empirical_probabilities`` an open deal without an override is weighted by its stage's
empirical win rate (:func:`forecasting.winrates.empirical_stage_rates`) instead.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import (
    BigIntegerField,
    Case,
    DecimalField,
    F,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce, NullIf, TruncDate, TruncMonth
from django.utils import timezone

from forecasting.periods import end_of_day, today
from forecasting.winrates import empirical_stage_rates
from pipeline import expressions
from pipeline.models import ForecastCategory, Opportunity, Stage, StageTransition

ZERO = Decimal("0")
MONEY_FIELD = DecimalField(max_digits=20, decimal_places=2)
OPEN, WON, LOST = Stage.Kind.OPEN, Stage.Kind.WON, Stage.Kind.LOST

# Every deal-state queryset carries the same annotation names, live or reconstructed:
#   s_exists, s_kind, s_owner, s_pipeline, s_amount, s_prob, s_category, s_period
STATE_FIELDS = ("s_kind", "s_owner", "s_pipeline", "s_amount", "s_prob", "s_category", "s_period")


def _empirical_probability(rates: dict[int, int], *, stage_field: str, override, default):
    """``default`` unless the deal has no override and its stage has an empirical rate."""
    if not rates:
        return default
    whens = [
        When(Q(**{stage_field: stage_id}) & Q(override__isnull=True), then=Value(rate))
        for stage_id, rate in sorted(rates.items())
    ]
    return Case(*whens, default=default, output_field=IntegerField())


def live_deals(*, rates: dict[int, int] | None = None, queryset=None):
    """Deals as they stand now, with the state annotations (DESIGN §3 via
    ``pipeline.expressions``)."""
    qs = Opportunity.objects.all() if queryset is None else queryset
    prob = expressions.effective_probability()
    if rates:
        prob = _empirical_probability(
            rates, stage_field="stage_id", override=F("probability"), default=prob
        )
    return qs.alias(override=F("probability")).annotate(
        s_kind=F("stage__kind"),
        s_owner=F("owner_id"),
        s_pipeline=F("pipeline_id"),
        s_amount=F("amount"),
        s_prob=prob,
        s_category=expressions.effective_forecast_category(),
        s_period=expressions.period_month(),
    )


def reconstructed_deals(*, on: dt.date, rates: dict[int, int] | None = None, queryset=None):
    """Deals as they stood at the end of ``on``, reconstructed from the stage transitions and
    the field history (see the module docstring); deals created later are excluded."""
    cutoff = end_of_day(on)
    history = Opportunity.history.model.objects.filter(
        id=OuterRef("pk"), history_date__lt=cutoff
    ).order_by("-history_date", "-history_id")
    moves = StageTransition.objects.filter(
        opportunity=OuterRef("pk"), changed_at__lt=cutoff
    ).order_by("-changed_at", "-id")

    def h(field):
        return Subquery(history.values(field)[:1])

    def t(field, output=None):
        return Subquery(moves.values(field)[:1], output_field=output)

    qs = Opportunity.objects.all() if queryset is None else queryset
    qs = qs.filter(created_at__lt=cutoff).alias(
        t_stage=t("to_stage_id"),
        t_kind=t("to_stage__kind"),
        t_stage_prob=t("to_stage__probability"),
        t_stage_cat=t("to_stage__forecast_category"),
        t_amount=t("amount"),
        t_prob=t("probability"),
        t_at=t("changed_at"),
        h_id=h("history_id"),
        h_amount=h("amount"),
        h_prob=h("probability"),
        h_close=h("expected_close_date"),
        h_owner=h("owner_id"),
        h_cat=h("forecast_category"),
    )
    qs = qs.filter(t_kind__isnull=False).alias(
        override=Case(When(h_id__isnull=False, then=F("h_prob")), default=Value(None))
    )
    base_prob = Case(
        When(t_kind=WON, then=Value(100)),
        When(t_kind=LOST, then=Value(0)),
        When(h_id__isnull=False, then=Coalesce(F("h_prob"), F("t_stage_prob"))),
        default=F("t_prob"),
        output_field=IntegerField(),
    )
    prob = _empirical_probability(
        rates or {}, stage_field="t_stage", override=F("override"), default=base_prob
    )
    closed_date = Case(
        When(
            Q(stage_id=F("t_stage"), stage_entered_at=F("t_at"), closed_on__isnull=False),
            then=F("closed_on"),
        ),
        default=TruncDate("t_at", tzinfo=timezone.get_default_timezone()),
    )
    close = Coalesce(F("h_close"), F("expected_close_date"))
    return qs.annotate(
        s_kind=F("t_kind"),
        s_owner=Coalesce(F("h_owner"), F("owner_id"), output_field=BigIntegerField()),
        s_pipeline=F("pipeline_id"),
        s_amount=Coalesce(F("h_amount"), F("t_amount"), output_field=MONEY_FIELD),
        s_prob=prob,
        s_category=Case(
            When(t_kind=WON, then=Value(ForecastCategory.CLOSED)),
            When(t_kind=LOST, then=Value(ForecastCategory.OMITTED)),
            default=Coalesce(
                NullIf(
                    Case(When(h_id__isnull=False, then=F("h_cat")), default=F("forecast_category")),
                    Value(""),
                ),
                F("t_stage_cat"),
            ),
        ),
        s_period=TruncMonth(Case(When(t_kind=OPEN, then=close), default=closed_date)),
    )


def deals_at(*, on: dt.date, rates: dict[int, int] | None = None, queryset=None):
    """Live deals for today (or later), reconstructed deals for a past date."""
    if rates is None:
        rates = empirical_stage_rates(on=on)
    if on >= today():
        return live_deals(rates=rates, queryset=queryset)
    return reconstructed_deals(on=on, rates=rates, queryset=queryset)


def weighted_expression():
    """amount × effective probability / 100 of a deal-state row."""
    return expressions.Percent(F("s_amount") * F("s_prob"))


def state_subqueries(qs, on: dt.date, prefix: str, rates):
    """Annotate ``{prefix}kind``, ``{prefix}amount``, ``{prefix}period`` of each deal at
    ``on`` (kind is NULL where the deal did not exist yet)."""
    states = live_deals(rates=rates) if on >= today() else reconstructed_deals(on=on, rates=rates)
    return qs.annotate(
        **{
            f"{prefix}kind": Subquery(states.filter(pk=OuterRef("pk")).values("s_kind")[:1]),
            f"{prefix}amount": Subquery(
                states.filter(pk=OuterRef("pk")).values("s_amount")[:1],
                output_field=MONEY_FIELD,
            ),
            f"{prefix}period": Subquery(states.filter(pk=OuterRef("pk")).values("s_period")[:1]),
        }
    )
