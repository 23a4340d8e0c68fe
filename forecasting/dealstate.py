"""The state of every deal as of a date: live for today, reconstructed from history for a
past date. Snapshots, the dashboard's live figures, "what changed" and the deal lists behind
a number all read deals through these querysets, so they agree.

What the state of ``D`` is
--------------------------
The pipeline as it stood at the end of ``D`` in ``settings.TIME_ZONE``
(:func:`forecasting.periods.end_of_day`):

* ``D`` = today: the live tables.
* ``D`` in the past: reconstructed per deal from history, in one set-based query: each deal
  row joined laterally (``JOIN LATERAL … LIMIT 1``) to its last stage transition and its last
  field-history row before the end of ``D``, each found by one probe of an index
  (``(opportunity_id, changed_at, id)``, ``(id, history_date, history_id)``; pipeline
  migration 0005). Deals created after ``D`` are left out. The stage is that of the deal's
  last :class:`~pipeline.models.StageTransition` with
  ``changed_at`` before the end of ``D``. Amount, expected close date, owner, probability
  override and forecast category come from the deal's last field-history row
  (``Opportunity.history``) before the end of ``D``; when a deal has no history row then, the
  amount and probability of that transition row and the deal's current close date, owner and
  category are used. A deal closed as of ``D`` falls in the period of its ``closed_on`` when
  it is still in that closed stage today, else of the date of the closing transition. Stage
  probabilities and default categories are the stages' current configuration; team
  membership is the reps' current team.

Probabilities follow DESIGN.md §3 (``pipeline.expressions``): in pipelines whose probability
source is empirical an open deal without an override is weighted by its stage's empirical win
rate (:func:`forecasting.winrates.empirical_stage_rates`); in pipelines whose source is the
model (while its back-test beats the configured percentages) by its model score, which exists
for the live state only (a past date's scores are not recorded, so reconstructed states weigh
by the stage's). ``s_stage_prob`` (configured percentages) and ``s_model_prob`` (the model's
score where a deal has one, else the configured percentage; live only) give the other
sources' figures beside it, for the snapshots.
"""

from __future__ import annotations

import copy
import datetime as dt
from decimal import Decimal

from django.db.models import (
    BigIntegerField,
    Case,
    CharField,
    DateField,
    DateTimeField,
    DecimalField,
    Expression,
    F,
    IntegerField,
    Q,
    Value,
    When,
)
from django.db.models.functions import Coalesce, NullIf, TruncDate, TruncMonth
from django.db.models.sql.constants import INNER as INNER_JOIN
from django.db.models.sql.constants import LOUTER as LOUTER_JOIN
from django.utils import timezone

from forecasting.periods import end_of_day, today
from forecasting.winrates import empirical_stage_rates
from pipeline import expressions
from pipeline.models import ForecastCategory, Opportunity, Stage, StageTransition

ZERO = Decimal("0")
MONEY_FIELD = DecimalField(max_digits=20, decimal_places=2)
OPEN, WON, LOST = Stage.Kind.OPEN, Stage.Kind.WON, Stage.Kind.LOST

# Every deal-state queryset carries the same annotation names, live or reconstructed:
#   s_kind, s_stage, s_owner, s_pipeline, s_amount, s_close, s_prob, s_category, s_period
# (state_at names them with another prefix, so two dates' states fit in one row).
STATE_FIELDS = ("s_kind", "s_owner", "s_pipeline", "s_amount", "s_prob", "s_category", "s_period")


def _empirical_probability(
    rates: dict[int, int], *, stage_field: str, override_field: str = "override", default
):
    """``default`` unless the deal has no override and its stage has an empirical rate."""
    if not rates:
        return default
    whens = [
        When(
            Q(**{stage_field: stage_id}) & Q(**{f"{override_field}__isnull": True}),
            then=Value(rate),
        )
        for stage_id, rate in sorted(rates.items())
    ]
    return Case(*whens, default=default, output_field=IntegerField())


def _stage_probability():
    """The configured percentages alone: won 100, lost 0, the override, else the stage's."""
    return Case(
        When(stage__kind=WON, then=Value(100)),
        When(stage__kind=LOST, then=Value(0)),
        default=Coalesce(F("probability"), F("stage__probability")),
        output_field=IntegerField(),
    )


def _model_probability():
    """The model's view: the override, else the deal's model score, else the stage's."""
    return Case(
        When(Q(stage__kind=OPEN, probability__isnull=True, win_score__isnull=False),
             then=F("win_score__probability")),
        default=_stage_probability(),
        output_field=IntegerField(),
    )  # fmt: skip


def _live_state(rates, prefix: str = "s_"):
    prob = expressions.effective_probability()
    if rates:
        prob = _empirical_probability(rates, stage_field="stage_id", default=prob)
    state = {
        "stage_prob": _stage_probability(),
        "model_prob": _model_probability(),
        "kind": F("stage__kind"),
        "stage": F("stage_id"),
        "owner": F("owner_id"),
        "pipeline": F("pipeline_id"),
        "amount": F("amount"),
        "close": F("expected_close_date"),
        "prob": prob,
        "category": expressions.effective_forecast_category(),
        "period": expressions.period_month(),
    }
    return {f"{prefix}{k}": v for k, v in state.items()}


def live_deals(*, rates: dict[int, int] | None = None, queryset=None):
    """Deals as they stand now, with the state annotations (DESIGN §3 via
    ``pipeline.expressions``)."""
    qs = Opportunity.objects.all() if queryset is None else queryset
    return qs.alias(override=F("probability")).annotate(**_live_state(rates))


class _LateralJoin:
    """``{INNER|LEFT OUTER} JOIN LATERAL (subquery) alias ON TRUE`` in a query's FROM clause: a
    ``Query.alias_map`` entry (the interface :class:`django.db.models.sql.datastructures.Join`
    documents). ``subquery`` is an ordered values() queryset whose first row is joined; its rows
    are correlated to the parent
    table's ``id`` through ``correlate`` (the field of the subquery naming the deal)."""

    filtered_relation = None
    nullable = True

    def __init__(self, subquery, correlate, parent_alias, table_name, join_type=LOUTER_JOIN):
        self.subquery = subquery
        self.correlate = correlate
        self.parent_alias = parent_alias
        self.table_name = table_name
        self.table_alias = None
        self.join_type = join_type

    def _copy(self, **changes):
        clone = copy.copy(self)
        clone.__dict__.update(changes)
        return clone

    def as_sql(self, compiler, connection):
        parent = compiler.quote_name_unless_alias(self.parent_alias)  # as the outer query names it
        inner = self.subquery.filter(**{self.correlate: _ParentId(parent)})[:1]
        sql, params = inner.query.get_compiler(connection=connection).as_sql()
        alias = compiler.quote_name_unless_alias(self.table_alias)
        return f"{self.join_type} LATERAL ({sql}) {alias} ON TRUE", params

    def relabeled_clone(self, change_map):
        return self._copy(
            parent_alias=change_map.get(self.parent_alias, self.parent_alias),
            table_alias=change_map.get(self.table_alias, self.table_alias),
        )

    def promote(self):
        return self._copy(join_type=LOUTER_JOIN)

    def demote(self):
        return self._copy(join_type=INNER_JOIN)


class _ParentId(Expression):
    """The ``id`` of the lateral join's parent row, inside the lateral subquery."""

    output_field = BigIntegerField()

    def __init__(self, parent_sql):
        super().__init__()
        self.parent_sql = parent_sql

    def resolve_expression(self, *args, **kwargs):
        return self

    def as_sql(self, compiler, connection):
        return f"{self.parent_sql}.{connection.ops.quote_name('id')}", []


class _LateralCol(Expression):
    """A column of a lateral join's row."""

    def __init__(self, alias, name, output_field):
        super().__init__(output_field=output_field)
        self.alias, self.name = alias, name

    def as_sql(self, compiler, connection):
        qn = compiler.quote_name_unless_alias
        return f"{qn(self.alias)}.{connection.ops.quote_name(self.name)}", []

    def relabeled_clone(self, change_map):
        return self.__class__(change_map.get(self.alias, self.alias), self.name, self.output_field)

    def get_group_by_cols(self):
        return [self]


def _join_lateral(qs, subquery, *, correlate, name, inner, fields):
    """``qs`` with ``subquery`` joined laterally; returns (queryset, {field: column expr})."""
    qs = qs.all()
    query = qs.query
    parent = query.get_initial_alias()
    join = _LateralJoin(
        subquery.values(**{f: F(src) for f, (src, _) in fields.items()}),
        correlate,
        parent,
        name,
        INNER_JOIN if inner else LOUTER_JOIN,
    )
    alias = query.join(join)
    if inner:
        query.alias_map[alias] = query.alias_map[alias].demote()
    return qs, {f: _LateralCol(alias, f, out) for f, (_, out) in fields.items()}


_MOVE_FIELDS = {
    "t_stage": ("to_stage_id", BigIntegerField()),
    "t_kind": ("to_stage__kind", CharField()),
    "t_stage_prob": ("to_stage__probability", IntegerField()),
    "t_stage_cat": ("to_stage__forecast_category", CharField()),
    "t_amount": ("amount", MONEY_FIELD),
    "t_prob": ("probability", IntegerField()),
    "t_at": ("changed_at", DateTimeField()),
}
_HISTORY_FIELDS = {
    "h_id": ("history_id", BigIntegerField()),
    "h_amount": ("amount", MONEY_FIELD),
    "h_prob": ("probability", IntegerField()),
    "h_close": ("expected_close_date", DateField()),
    "h_owner": ("owner_id", BigIntegerField()),
    "h_cat": ("forecast_category", CharField()),
}


def _reconstructed_state(qs, on: dt.date, rates, prefix: str = "s_", *, required: bool = True):
    """``qs`` joined laterally to each deal's last stage transition and last field-history
    row before the end of ``on`` (the indexes ``(opportunity_id, changed_at, id)`` and
    ``(id, history_date, history_id)`` find each in one probe), and the state expressions
    ``{prefix}kind`` … ``{prefix}period`` over them. With ``required`` the transition join is
    inner (a deal without a transition by then did not exist yet); without, such a deal, or
    one created later, keeps its row with ``{prefix}kind`` NULL."""
    cutoff = end_of_day(on)
    moves = StageTransition.objects.filter(changed_at__lt=cutoff).order_by("-changed_at", "-id")
    history = Opportunity.history.model.objects.filter(history_date__lt=cutoff).order_by(
        "-history_date", "-history_id"
    )
    qs, t = _join_lateral(
        qs,
        moves,
        correlate="opportunity_id",
        name=f"{prefix}move",
        inner=required,
        fields=_MOVE_FIELDS,
    )
    qs, h = _join_lateral(
        qs, history, correlate="id", name=f"{prefix}hist", inner=False, fields=_HISTORY_FIELDS
    )
    has_history = Q(**{f"{prefix}hid__isnull": False})
    qs = qs.alias(**{f"{prefix}hid": h["h_id"]})
    override = Case(When(has_history, then=h["h_prob"]), default=Value(None))
    kind = t["t_kind"]
    if not required:
        kind = Case(When(created_at__lt=cutoff, then=kind), default=Value(None))
    base_prob = Case(
        When(Q(**{f"{prefix}tkind": WON}), then=Value(100)),
        When(Q(**{f"{prefix}tkind": LOST}), then=Value(0)),
        When(has_history, then=Coalesce(h["h_prob"], t["t_stage_prob"])),
        default=t["t_prob"],
        output_field=IntegerField(),
    )
    qs = qs.alias(**{f"{prefix}tkind": kind})
    qs = qs.alias(**{f"{prefix}tstage": t["t_stage"], f"{prefix}override": override})
    prob = _empirical_probability(
        rates,
        stage_field=f"{prefix}tstage",
        override_field=f"{prefix}override",
        default=base_prob,
    )
    closed_date = Case(
        When(
            Q(stage_id=t["t_stage"], stage_entered_at=t["t_at"], closed_on__isnull=False),
            then=F("closed_on"),
        ),
        default=TruncDate(t["t_at"], tzinfo=timezone.get_default_timezone()),
    )
    close = Coalesce(h["h_close"], F("expected_close_date"))
    state = {
        "stage_prob": base_prob,
        # A past date's model scores are not recorded: its deals count as unscored.
        "model_prob": base_prob,
        "kind": kind,
        "stage": t["t_stage"],
        "owner": Coalesce(h["h_owner"], F("owner_id"), output_field=BigIntegerField()),
        "pipeline": F("pipeline_id"),
        "amount": Coalesce(h["h_amount"], t["t_amount"], output_field=MONEY_FIELD),
        "close": close,
        "prob": prob,
        "category": Case(
            When(Q(**{f"{prefix}tkind": WON}), then=Value(ForecastCategory.CLOSED)),
            When(Q(**{f"{prefix}tkind": LOST}), then=Value(ForecastCategory.OMITTED)),
            default=Coalesce(
                NullIf(
                    Case(When(has_history, then=h["h_cat"]), default=F("forecast_category")),
                    Value(""),
                ),
                t["t_stage_cat"],
            ),
        ),
        "period": TruncMonth(
            Case(When(Q(**{f"{prefix}tkind": OPEN}), then=close), default=closed_date),
            output_field=DateField(),
        ),
    }
    return qs.annotate(**{f"{prefix}{k}": v for k, v in state.items()})


def reconstructed_deals(*, on: dt.date, rates: dict[int, int] | None = None, queryset=None):
    """Deals as they stood at the end of ``on``, reconstructed from the stage transitions and
    the field history (see the module docstring) in one query with two lateral joins per
    deal; deals created later are excluded."""
    qs = Opportunity.objects.all() if queryset is None else queryset
    qs = qs.filter(created_at__lt=end_of_day(on))
    return _reconstructed_state(qs, on, rates or {})


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


def state_at(qs, on: dt.date, prefix: str, rates):
    """``qs`` annotated with the state of each deal at the end of ``on``: ``{prefix}kind``,
    ``{prefix}stage``, ``{prefix}owner``, ``{prefix}pipeline``, ``{prefix}amount``,
    ``{prefix}close``, ``{prefix}prob``, ``{prefix}category``, ``{prefix}period`` (kind is
    NULL where the deal did not exist yet). Annotating two dates gives both states in one
    query (four lateral joins at most)."""
    if on >= today():
        return qs.alias(override=F("probability")).annotate(**_live_state(rates, prefix))
    return _reconstructed_state(qs, on, rates, prefix, required=False)
