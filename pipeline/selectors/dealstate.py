"""The one way to know a deal's state on a date: live for today, reconstructed from history
for a past date. Snapshots, the dashboard's live figures, "what changed", the deal lists
behind a number (through :mod:`forecasting.dealstate`) and the board and deal list as of a
date (:mod:`pipeline.selectors.as_of`) all read deals through these querysets, so they agree.
It lives in the pipeline layer because it reads only the pipeline's tables and the pipeline's
own pages need it; the forecast adds its empirical win rates on top.

What the state of ``D`` is
--------------------------
The pipeline as it stood at the end of ``D`` in ``settings.TIME_ZONE``
(:func:`end_of_day`):

* ``D`` = today: the live tables.
* ``D`` in the past: reconstructed per deal from history, in one set-based query: each deal
  row joined laterally (``JOIN LATERAL … LIMIT 1``) to its last stage transition and its last
  field-history row before the end of ``D``, each found by one probe of an index
  (``(opportunity_id, changed_at, id)``, ``(id, history_date, history_id)``; pipeline
  migration 0005); a deal untouched since ``D`` (no transition, no history row since) skips
  both probes and reads its live columns, which then hold the same state. (SQLite has no
  lateral join: there each column is a correlated subquery of the same rows.) Deals created
  after ``D`` are left out. The stage is that of the deal's
  last :class:`~pipeline.models.StageTransition` with
  ``changed_at`` before the end of ``D``. Amount, expected close date, owner, probability
  override and forecast category come from the deal's last field-history row
  (``Opportunity.history``) before the end of ``D``; when a deal has no history row then, the
  amount and probability of that transition row and the deal's current close date, owner and
  category are used. A deal closed as of ``D`` falls in the period of its ``closed_on`` when
  it is still in that closed stage today, else of the date of the closing transition. Stage
  probabilities and default categories are the stages' current configuration; team
  membership is the reps' current team.

Amounts (``s_amount``) are in the reporting currency by the one rule of
:mod:`pipeline.conversion`: an open deal at the rate of ``D`` (``fx``, the rates of the as-of
date), a closed deal at the rate of its closed date; a deal without a rate has a NULL amount,
which sums leave out and :func:`pipeline.conversion.missing_rates` reports. The currency of a
past state is that of the deal's last field-history row, as its amount is.

Probabilities follow DESIGN.md §3 (``pipeline.expressions``): in pipelines whose probability
source is empirical an open deal without an override is weighted by its stage's empirical win
rate when the caller passes those ``rates`` (``{stage id: percent}``,
:func:`forecasting.winrates.empirical_stage_rates`; without them the stage rule applies); in
pipelines whose source is the model (while its back-test beats the configured percentages) by
its model score, which exists for the live state only (a past date's scores are not recorded,
so reconstructed states weigh by the stage's). ``s_stage_prob`` (configured percentages) and
``s_model_prob`` (the model's score where a deal has one, else the configured percentage;
live only) give the other sources' figures beside it, for the snapshots.
"""

from __future__ import annotations

import copy
import datetime as dt
from decimal import Decimal

from django.db import connections
from django.db.models import (
    BigIntegerField,
    BooleanField,
    Case,
    CharField,
    DateField,
    DateTimeField,
    DecimalField,
    Exists,
    Expression,
    F,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce, NullIf, TruncDate
from django.db.models.sql.constants import INNER as INNER_JOIN
from django.db.models.sql.constants import LOUTER as LOUTER_JOIN
from django.utils import timezone

from pipeline import conversion, expressions
from pipeline.models import ForecastCategory, Opportunity, Stage, StageTransition

ZERO = Decimal("0")
MONEY_FIELD = DecimalField(max_digits=20, decimal_places=2)


def end_of_day(day: dt.date) -> dt.datetime:
    """The first instant after ``day`` in the configured time zone (the instant a state "at the
    end of ``day``" is read at; ``forecasting.periods.end_of_day`` is this function)."""
    tz = timezone.get_default_timezone()
    return timezone.make_aware(dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min), tz)


def today() -> dt.date:
    """Today in the configured time zone."""
    return timezone.localdate()


OPEN, WON, LOST = Stage.Kind.OPEN, Stage.Kind.WON, Stage.Kind.LOST

# Every deal-state queryset carries the same annotation names, live or reconstructed:
#   s_kind, s_stage, s_entered, s_owner, s_pipeline, s_amount, s_close, s_prob, s_category, s_period
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
        default=Coalesce(F("probability"), F("stage__probability"), output_field=IntegerField()),
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


def _live_state(rates, prefix: str = "s_", fx=None):
    prob = expressions.effective_probability()
    if rates:
        prob = _empirical_probability(rates, stage_field="stage_id", default=prob)
    state = {
        "stage_prob": _stage_probability(),
        "model_prob": _model_probability(),
        "kind": F("stage__kind"),
        "stage": F("stage_id"),
        "entered": F("stage_entered_at"),
        "owner": F("owner_id"),
        "pipeline": F("pipeline_id"),
        "amount": conversion.deal_amount(fx if fx is not None else conversion.rates_on(today())),
        "close": F("expected_close_date"),
        "prob": prob,
        "category": expressions.effective_forecast_category(),
        "period": expressions.period_month(),
    }
    return {f"{prefix}{k}": v for k, v in state.items()}


def live_deals(*, rates: dict[int, int] | None = None, queryset=None, fx=None):
    """Deals as they stand now, with the state annotations (DESIGN §3 via
    ``pipeline.expressions``); ``fx`` are today's exchange rates (fetched when None)."""
    qs = Opportunity.objects.all() if queryset is None else queryset
    return qs.alias(override=F("probability")).annotate(**_live_state(rates, fx=fx))


class _LateralJoin:
    """``{INNER|LEFT OUTER} JOIN LATERAL (subquery) alias ON TRUE`` in a query's FROM clause: a
    ``Query.alias_map`` entry (the interface :class:`django.db.models.sql.datastructures.Join`
    documents). ``subquery`` is an ordered values() queryset whose first row is joined; its rows
    are correlated to the parent
    table's ``id`` through ``correlate`` (the field of the subquery naming the deal)."""

    filtered_relation = None
    nullable = True

    def __init__(
        self, subquery, correlate, parent_alias, table_name, join_type=LOUTER_JOIN, gate=None
    ):
        self.subquery = subquery
        self.correlate = correlate
        self.gate = gate
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
        inner = self.subquery.filter(**{self.correlate: _ParentId(parent)})
        if self.gate is not None:
            inner = inner.filter(self.gate(parent))
        inner = inner[:1]
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


class _TouchedSince(Expression):
    """Whether the lateral join's parent deal changed at or after ``cutoff``: it entered its
    current stage then (its last stage transition is its current stay, so no transition
    happened after a stage entered before ``cutoff``) or it has a field-history row then.
    Inside the lateral subquery it refers only to the parent row, so PostgreSQL evaluates it
    before probing the index (a gate) and skips the probe for a deal untouched since."""

    conditional = True
    output_field = BooleanField()

    def __init__(self, parent_sql, cutoff):
        super().__init__()
        self.parent_sql, self.cutoff = parent_sql, cutoff

    def resolve_expression(self, *args, **kwargs):
        return self

    def as_sql(self, compiler, connection):
        qn = connection.ops.quote_name
        history = qn(Opportunity.history.model._meta.db_table)
        return (
            f"({self.parent_sql}.{qn('stage_entered_at')} >= %s OR {self.parent_sql}.{qn('id')} "  # nosec B608: quoted table and column names; the cutoff is a parameter
            f"IN (SELECT touched.{qn('id')} FROM {history} touched "
            f"WHERE touched.{qn('history_date')} >= %s))"
        ), [self.cutoff, self.cutoff]


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


def _lateral_joins(qs) -> bool:
    """Whether the database ``qs`` reads from has ``JOIN LATERAL`` (PostgreSQL). SQLite, the
    laptop database, has not: there each column is a correlated subquery of its own, the same
    rows by the same order, only slower."""
    return connections[qs.db].vendor == "postgresql"


def _touched_since_q(cutoff):
    """:class:`_TouchedSince` as a condition on the deal itself (for the subquery form)."""
    history = Opportunity.history.model.objects.filter(history_date__gte=cutoff)
    return Q(stage_entered_at__gte=cutoff) | Q(id__in=history.values("id"))


def _join_lateral(qs, subquery, *, correlate, name, inner, fields, cutoff=None):
    """``qs`` with the first row of ``subquery`` (correlated to each deal through
    ``correlate``) joined laterally, only for deals changed since ``cutoff`` when given (the
    others get NULL columns); returns (queryset, {field: column expr}). Without lateral joins
    (:func:`_lateral_joins`) each field is a correlated subquery with the same rows."""
    qs = qs.all()
    if not _lateral_joins(qs):
        first = subquery.filter(**{correlate: OuterRef("id")})
        if inner:
            qs = qs.filter(Exists(first))
        columns = {}
        for f, (src, out) in fields.items():
            column = Subquery(first.values(**{f: F(src)})[:1], output_field=out)
            if cutoff is not None:
                column = Case(
                    When(_touched_since_q(cutoff), then=column),
                    default=Value(None),
                    output_field=out,
                )
            columns[f] = column
        return qs, columns
    query = qs.query
    parent = query.get_initial_alias()
    join = _LateralJoin(
        subquery.values(**{f: F(src) for f, (src, _) in fields.items()}),
        correlate,
        parent,
        name,
        INNER_JOIN if inner else LOUTER_JOIN,
        gate=None if cutoff is None else (lambda parent_sql: _TouchedSince(parent_sql, cutoff)),
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
    "h_currency": ("currency", CharField()),
}


def _reconstructed_state(
    qs, on: dt.date, rates, prefix: str = "s_", *, required: bool = True, fx=None
):
    """``qs`` joined laterally to each deal's last stage transition and last field-history
    row before the end of ``on`` (the indexes ``(opportunity_id, changed_at, id)`` and
    ``(id, history_date, history_id)`` find each in one probe), and the state expressions
    ``{prefix}kind`` … ``{prefix}period`` over them (and ``{prefix}entered``, when the deal
    entered that stage).

    A deal untouched since the end of ``on`` (no stage transition, no field-history row
    since: :class:`_TouchedSince`) stood then as it stands now, so the joins are skipped for
    it and its live columns give the same state (its last transition is its current stay,
    its last history row holds its current fields); only deals touched since cost two
    probes. With ``required`` the deals are those created before the end of ``on``
    (:func:`reconstructed_deals` filters them); without, a deal created later keeps its row
    with ``{prefix}kind`` NULL."""
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
        inner=False,
        fields=_MOVE_FIELDS,
        cutoff=cutoff,
    )
    qs, h = _join_lateral(
        qs,
        history,
        correlate="id",
        name=f"{prefix}hist",
        inner=False,
        fields=_HISTORY_FIELDS,
        cutoff=cutoff,
    )
    # The last transition's fields, or for a deal untouched since, its current stay's.
    stage_id = Coalesce(t["t_stage"], F("stage_id"), output_field=BigIntegerField())
    stage_kind = Coalesce(t["t_kind"], F("stage__kind"), output_field=CharField())
    stage_prob = Coalesce(t["t_stage_prob"], F("stage__probability"), output_field=IntegerField())
    stage_cat = Coalesce(t["t_stage_cat"], F("stage__forecast_category"), output_field=CharField())
    entered = Coalesce(t["t_at"], F("stage_entered_at"), output_field=DateTimeField())
    # Existed then, untouched since: no transition row was joined.
    untouched = Q(**{f"{prefix}tat__isnull": True}) & Q(created_at__lt=cutoff)
    qs = qs.alias(**{f"{prefix}tat": t["t_at"]})
    has_history = Q(**{f"{prefix}hid__isnull": False})
    qs = qs.alias(**{f"{prefix}hid": h["h_id"]})
    override = Case(
        When(has_history, then=h["h_prob"]),
        When(untouched, then=F("probability")),
        default=Value(None),
        output_field=IntegerField(),
    )
    kind = Case(When(created_at__lt=cutoff, then=stage_kind), default=Value(None))
    base_prob = Case(
        When(Q(**{f"{prefix}tkind": WON}), then=Value(100)),
        When(Q(**{f"{prefix}tkind": LOST}), then=Value(0)),
        When(has_history, then=Coalesce(h["h_prob"], stage_prob, output_field=IntegerField())),
        When(untouched, then=Coalesce(F("probability"), stage_prob, output_field=IntegerField())),
        default=t["t_prob"],
        output_field=IntegerField(),
    )
    qs = qs.alias(**{f"{prefix}tkind": kind})
    qs = qs.alias(**{f"{prefix}tstage": stage_id, f"{prefix}override": override})
    prob = _empirical_probability(
        rates,
        stage_field=f"{prefix}tstage",
        override_field=f"{prefix}override",
        default=base_prob,
    )
    current_stay = Q(stage_id=stage_id, stage_entered_at=entered, closed_on__isnull=False)
    closed_date = Case(
        When(current_stay, then=F("closed_on")),
        default=TruncDate(entered, tzinfo=timezone.get_default_timezone()),
    )
    currency = Coalesce(h["h_currency"], F("currency"), output_field=CharField())
    # The deal's stored rate is that of its closed date in its current currency: the state's
    # own when the state is the deal's current closed stay in that currency. Not on SQLite
    # (a laptop's demo), whose parser overflows on a snapshot's expressions nested one deeper.
    stored_rate = None
    if connections[qs.db].vendor == "postgresql":
        stored_rate = Case(
            When(current_stay & Q(currency=currency), then=F("closed_rate")),
            default=Value(None),
            output_field=conversion.RATE_FIELD,
        )
    close = Coalesce(h["h_close"], F("expected_close_date"))
    state = {
        "stage_prob": base_prob,
        # A past date's model scores are not recorded: its deals count as unscored.
        "model_prob": base_prob,
        "kind": kind,
        "stage": stage_id,
        "entered": entered,
        "owner": Coalesce(h["h_owner"], F("owner_id"), output_field=BigIntegerField()),
        "pipeline": F("pipeline_id"),
        # In the reporting currency by the one rule of pipeline.conversion: an open deal at
        # the rate of ``on``, a closed one at the rate of its closed date.
        "amount": conversion.reporting_amount(
            amount=Coalesce(
                h["h_amount"],
                t["t_amount"],
                Case(When(untouched, then=F("amount")), default=Value(None)),
                output_field=MONEY_FIELD,
            ),
            currency=currency,
            kind=kind,
            closed_date=closed_date,
            rates=fx if fx is not None else conversion.rates_on(on),
            closed_rate=stored_rate,
        ),
        "close": close,
        "prob": prob,
        "category": Case(
            When(Q(**{f"{prefix}tkind": WON}), then=Value(ForecastCategory.CLOSED)),
            When(Q(**{f"{prefix}tkind": LOST}), then=Value(ForecastCategory.OMITTED)),
            default=Coalesce(
                NullIf(
                    Case(
                        When(has_history, then=h["h_cat"]),
                        default=F("forecast_category"),
                    ),
                    Value(""),
                ),
                stage_cat,
            ),
        ),
        "period": expressions.MonthStart(
            Case(When(Q(**{f"{prefix}tkind": OPEN}), then=close), default=closed_date),
        ),
    }
    return qs.annotate(**{f"{prefix}{k}": v for k, v in state.items()})


def reconstructed_deals(
    *, on: dt.date, rates: dict[int, int] | None = None, queryset=None, fx=None
):
    """Deals as they stood at the end of ``on``, reconstructed from the stage transitions and
    the field history (see the module docstring) in one query with two lateral joins per
    deal; deals created later are excluded."""
    qs = Opportunity.objects.all() if queryset is None else queryset
    qs = qs.filter(created_at__lt=end_of_day(on))
    return _reconstructed_state(qs, on, rates or {}, fx=fx)


def weighted_expression():
    """amount × effective probability / 100 of a deal-state row."""
    return expressions.Percent(F("s_amount") * F("s_prob"))


def state_at(qs, on: dt.date, prefix: str, rates, fx=None):
    """``qs`` annotated with the state of each deal at the end of ``on``: ``{prefix}kind``,
    ``{prefix}stage``, ``{prefix}owner``, ``{prefix}pipeline``, ``{prefix}amount``,
    ``{prefix}close``, ``{prefix}prob``, ``{prefix}category``, ``{prefix}period`` (kind is
    NULL where the deal did not exist yet). Annotating two dates gives both states in one
    query (four lateral joins at most)."""
    if on >= today():
        return qs.alias(override=F("probability")).annotate(**_live_state(rates, prefix, fx))
    return _reconstructed_state(qs, on, rates, prefix, required=False, fx=fx)
