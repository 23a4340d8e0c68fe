"""DESIGN.md §3 as ORM expressions: the one definition of each per-deal number, used by the
board, the forecasts and the reports so that SQL and Python never disagree.

All expressions are relative to an ``Opportunity`` queryset (``prefix`` lets a query on a
related model reuse them, e.g. ``prefix="opportunity__"``).
"""

from decimal import Decimal

from django.db.models import (
    Case,
    DateField,
    DecimalField,
    ExpressionWrapper,
    F,
    Func,
    IntegerField,
    Q,
    Value,
    When,
)
from django.db.models.functions import Coalesce, NullIf

from pipeline.models import ForecastCategory, ProbabilitySource, Stage

MONEY_FIELD = DecimalField(max_digits=20, decimal_places=2)
CENT = Decimal("0.01")


def uses_model(prefix: str = "") -> Q:
    """The deal takes its model score: no override, a score, and a pipeline whose source is
    the model while the model beats the configured percentages (DESIGN §3)."""
    return Q(
        **{
            f"{prefix}probability__isnull": True,
            f"{prefix}win_score__isnull": False,
            f"{prefix}pipeline__probability_source": ProbabilitySource.MODEL,
            f"{prefix}pipeline__model_eligible": True,
        }
    )


def effective_probability(prefix: str = ""):
    """:attr:`pipeline.models.Opportunity.effective_probability` in SQL: won = 100,
    lost = 0, else the deal's override, else the model's score where the pipeline's source
    is the model (:func:`uses_model`), else its stage's probability (a test holds the two
    equal). Empirical stage rates are a date's figures, applied by the forecasting app's deal
    state over this expression."""
    return Case(
        When(**{f"{prefix}stage__kind": Stage.Kind.WON}, then=Value(100)),
        When(**{f"{prefix}stage__kind": Stage.Kind.LOST}, then=Value(0)),
        When(uses_model(prefix), then=F(f"{prefix}win_score__probability")),
        default=Coalesce(F(f"{prefix}probability"), F(f"{prefix}stage__probability")),
        output_field=IntegerField(),
    )


def model_probability(prefix: str = ""):
    """The win model's view of a deal whatever its pipeline's source: won = 100, lost = 0,
    else the override, else its model score, else its stage's probability (rep priorities
    can rank by it)."""
    return Case(
        When(**{f"{prefix}stage__kind": Stage.Kind.WON}, then=Value(100)),
        When(**{f"{prefix}stage__kind": Stage.Kind.LOST}, then=Value(0)),
        default=Coalesce(
            F(f"{prefix}probability"),
            F(f"{prefix}win_score__probability"),
            F(f"{prefix}stage__probability"),
        ),
        output_field=IntegerField(),
    )


class Percent(Func):
    """``expression / 100``: exact numeric division on PostgreSQL. SQLite stores whole-number
    decimals as integers, which would make ``1 × 10 / 100`` an integer division (0), so on
    SQLite the divisor is the real 100.0."""

    template = "(%(expressions)s / 100)"
    output_field = MONEY_FIELD

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler, connection, template="(%(expressions)s / 100.0)", **extra_context
        )


def weighted_amount(prefix: str = "", *, by_model: bool = False, amount=None):
    """amount × effective probability / 100 (exact decimal arithmetic on PostgreSQL); with
    ``by_model``, amount × :func:`model_probability` / 100. ``amount`` is the expression
    weighed: the deal's own amount by default; a figure summed over deals passes the amount
    in the reporting currency (``pipeline.conversion``)."""
    probability = model_probability(prefix) if by_model else effective_probability(prefix)
    if amount is None:
        amount = F(f"{prefix}amount")
    return Percent(ExpressionWrapper(amount * probability, output_field=MONEY_FIELD))


def stage_weighted_total(stage: Stage, *, total, amount_times_override, amount_without_override):
    """Σ ``weighted_amount`` over the deals of one stage, from sums that a query grouped by
    stage gives without joining the stage: Σ amount (``total``), Σ(amount × override) over
    the deals with a probability override, and Σ amount over the others, which take the
    stage's probability. Exact in decimal arithmetic: it equals the per-deal sum."""
    if stage.kind == Stage.Kind.WON:
        return Decimal(str(total or 0))
    if stage.kind == Stage.Kind.LOST:
        return Decimal(0)
    over = Decimal(str(amount_times_override or 0))
    rest = Decimal(str(amount_without_override or 0))
    return (over + rest * stage.probability) / 100


def to_cents(value) -> Decimal:
    """A sum from the database as money: SQLite returns decimal sums as floats."""
    return Decimal(str(value or 0)).quantize(CENT)


def effective_forecast_category(prefix: str = ""):
    """Closed for won, omitted for lost, else the deal's override, else the stage's default."""
    from django.db.models import CharField

    return Case(
        When(**{f"{prefix}stage__kind": Stage.Kind.WON}, then=Value(ForecastCategory.CLOSED)),
        When(**{f"{prefix}stage__kind": Stage.Kind.LOST}, then=Value(ForecastCategory.OMITTED)),
        default=Coalesce(
            NullIf(F(f"{prefix}forecast_category"), Value("")),
            F(f"{prefix}stage__forecast_category"),
        ),
        output_field=CharField(),
    )


def period_date(prefix: str = ""):
    """The date that places a deal in a period: expected close for open deals, closed date for
    won and lost deals."""
    return Case(
        When(**{f"{prefix}stage__kind": Stage.Kind.OPEN}, then=F(f"{prefix}expected_close_date")),
        default=Coalesce(F(f"{prefix}closed_on"), F(f"{prefix}expected_close_date")),
    )


class MonthStart(Func):
    """The first day of a date's calendar month, as a date. Django's ``TruncMonth`` of a date
    makes PostgreSQL cast it to ``timestamp with time zone`` first, a time-zone conversion per
    row that costs several times the rest of a report's sum; a date has no time zone, so here
    it is cast to a plain ``timestamp``: the same month, for a fraction of the work."""

    arity = 1
    output_field = DateField()

    def as_sqlite(self, compiler, connection, **extra_context):
        return super().as_sql(
            compiler,
            connection,
            template="date(%(expressions)s, 'start of month')",
            **extra_context,
        )

    def as_postgresql(self, compiler, connection, **extra_context):
        return super().as_sql(
            compiler,
            connection,
            template="CAST(DATE_TRUNC('month', CAST(%(expressions)s AS timestamp)) AS date)",
            **extra_context,
        )


def period_month(prefix: str = ""):
    """First day of the calendar month of :func:`period_date` (periods are months)."""
    return MonthStart(period_date(prefix))
