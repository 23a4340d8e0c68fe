"""Deal amounts in the reporting currency: the one conversion rule, in Python and in SQL.

Every deal has a currency (``Opportunity.currency``); totals, snapshots, forecasts, reports
and Monte Carlo ranges are in the installation's reporting currency (``OPPORTUNE_CURRENCY``).
They all convert through this module, so a figure means the same thing on every page.

The rule
--------
* An amount in the reporting currency is never converted.
* The rate of currency ``C`` on day ``D`` is the :class:`~pipeline.models.ExchangeRate` of
  ``C`` with the latest date on or before ``D``: a rate holds until the next one.
* An **open** deal converts at the rate of the as-of date: today for live figures (the board,
  the dashboard, reports), the snapshot's date for a snapshot or a past state.
* A **closed** deal (won or lost) converts at the rate of its closed date, whatever the as-of
  date, so a won deal's revenue does not move with later rates.
* The converted amount is ``amount × rate`` rounded half-up to the reporting currency's
  decimals, deal by deal; a sum in the reporting currency is the sum of converted deals.
* A deal whose currency has no rate on or before its date has **no** converted amount (``None``
  in Python, ``NULL`` in SQL): sums leave it out, and :func:`missing_rates` names the
  currencies, how many deals and from which date, so pages show a warning and the nightly
  snapshot logs one. It is never counted as zero.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection
from django.db.models import (
    Case,
    Count,
    DecimalField,
    F,
    Func,
    Min,
    OuterRef,
    Q,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Round
from django.db.models.lookups import Exact

from pipeline.currency import decimals, reporting_currency, round_money
from pipeline.models import ExchangeRate, ProductPrice, Stage

RATE_FIELD = DecimalField(max_digits=18, decimal_places=8)
MONEY_FIELD = DecimalField(max_digits=20, decimal_places=2)


# --- Python -------------------------------------------------------------------------------


def rates_on(day: dt.date) -> dict[str, Decimal]:
    """The rate of every currency on ``day`` (its latest rate on or before it): one query
    (``DISTINCT ON`` walking the (currency, date) index on PostgreSQL)."""
    if connection.vendor == "postgresql":
        rows = (
            ExchangeRate.objects.filter(on_date__lte=day)
            .order_by("currency", "-on_date")
            .distinct("currency")
            .values_list("currency", "rate")
        )
        return dict(rows)
    latest = (
        ExchangeRate.objects.filter(currency=OuterRef("currency"), on_date__lte=day)
        .order_by("-on_date")
        .values("on_date")[:1]
    )
    rows = ExchangeRate.objects.filter(on_date__lte=day, on_date=latest).values_list(
        "currency", "rate"
    )
    return dict(rows)


def rate_on(currency: str, day: dt.date) -> Decimal | None:
    """The rate of ``currency`` on ``day``; 1 for the reporting currency; None when missing."""
    if currency == reporting_currency():
        return Decimal(1)
    row = (
        ExchangeRate.objects.filter(currency=currency, on_date__lte=day)
        .order_by("-on_date")
        .values_list("rate", flat=True)
        .first()
    )
    return row


def convert(amount: Decimal, rate: Decimal | None) -> Decimal | None:
    """``amount × rate`` rounded half-up to the reporting currency's decimals (None without a
    rate)."""
    if rate is None or amount is None:
        return None
    return round_money(amount * rate, reporting_currency())


def deal_rate_date(*, is_open: bool, closed_on: dt.date | None, on: dt.date) -> dt.date:
    """The day whose rate converts a deal: ``on`` while it is open, else its closed date."""
    return on if is_open or closed_on is None else closed_on


def to_reporting(amount: Decimal, currency: str, *, day: dt.date) -> Decimal | None:
    """One amount in ``currency`` converted at the rate of ``day`` (None when missing)."""
    if currency == reporting_currency():
        return amount
    return convert(amount, rate_on(currency, day))


def deal_in_reporting(deal, *, on: dt.date) -> Decimal | None:
    """A deal's amount in the reporting currency as of ``on`` (the rule above)."""
    day = deal_rate_date(is_open=deal.is_open, closed_on=deal.closed_on, on=on)
    return to_reporting(deal.amount, deal.currency, day=day)


def deal_currencies() -> list[str]:
    """The currencies a deal can be in: the reporting currency, then every currency that
    has an exchange rate or a list price (one query each)."""
    reporting = reporting_currency()
    codes = set(ExchangeRate.objects.values_list("currency", flat=True).distinct())
    codes |= set(ProductPrice.objects.values_list("currency", flat=True).distinct())
    return [reporting, *sorted(codes - {reporting})]


# --- SQL ----------------------------------------------------------------------------------


class RateOn(Func):
    """``(SELECT rate … WHERE currency = C AND date <= D ORDER BY date DESC LIMIT 1)``: the
    rate of a currency expression on a date expression, one probe of the (currency, date)
    unique index.

    On PostgreSQL the same query is the function ``opportune_rate_on(C, D)`` (pipeline
    migration 0021), which is parallel safe: a correlated subquery in a sum would keep the
    whole scan in one process."""

    arity = 2
    output_field = RATE_FIELD

    def as_postgresql(self, compiler, connection, **extra_context):
        currency, day = self.get_source_expressions()
        cur_sql, cur_params = compiler.compile(currency)
        day_sql, day_params = compiler.compile(day)
        return (
            f"opportune_rate_on({cur_sql}, {day_sql})",
            (*cur_params, *day_params),
        )

    def as_sql(self, compiler, connection, **extra_context):
        currency, day = self.get_source_expressions()
        cur_sql, cur_params = compiler.compile(currency)
        day_sql, day_params = compiler.compile(day)
        qn = connection.ops.quote_name
        table = qn(ExchangeRate._meta.db_table)
        return (
            f"(SELECT fx.{qn('rate')} FROM {table} fx WHERE fx.{qn('currency')} = {cur_sql} "  # nosec B608: quoted names from model metadata and compiled expressions; values are params
            f"AND fx.{qn('on_date')} <= {day_sql} ORDER BY fx.{qn('on_date')} DESC LIMIT 1)",
            (*cur_params, *day_params),
        )


def _rounded(amount, rate):
    return Round(amount * rate, decimals(reporting_currency()), output_field=MONEY_FIELD)


def _open_case(amount, currency, rates: dict[str, Decimal]):
    reporting = reporting_currency()
    whens = [When(Exact(currency, Value(reporting)), then=amount)]
    whens += [
        When(Exact(currency, Value(code)), then=_rounded(amount, Value(rate, RATE_FIELD)))
        for code, rate in sorted(rates.items())
        if code != reporting
    ]
    return Case(*whens, default=Value(None, MONEY_FIELD), output_field=MONEY_FIELD)


def _closed_rate(currency, closed_date, stored=None):
    """The rate a closed deal converts at: ``stored`` (the deal's ``closed_rate`` column,
    kept by ``pipeline.services.closed_rates``) where set, else looked up."""
    if stored is None:
        return RateOn(currency, closed_date)
    return Coalesce(stored, RateOn(currency, closed_date), output_field=RATE_FIELD)


class Converted(Func):
    """An amount in the reporting currency, the rule above in SQL, as one expression node:
    ``CASE`` over the currencies for an open deal (``rates``: the as-of date's), the rate of
    the closed date for a closed one (its stored ``closed_rate`` where given), and with a
    stage ``kind`` the one or the other by the deal's state.

    It compiles to the ``CASE`` tree :meth:`tree` builds; on PostgreSQL it writes that same
    SQL out itself. A report sums amounts in most of its queries, and the tree, some thirty
    expressions, cost milliseconds of Python to resolve and compile each time."""

    output_field = MONEY_FIELD

    def __init__(self, *, amount, currency, rates=None, kind=None, closed_date=None, stored=None):
        self.rates = None if rates is None else dict(sorted(rates.items()))
        self.parts = [
            name
            for name, given in (
                ("amount", amount),
                ("currency", currency),
                ("kind", kind),
                ("closed_date", closed_date),
                ("stored", stored),
            )
            if given is not None
        ]
        sources = [e for e in (amount, currency, kind, closed_date, stored) if e is not None]
        super().__init__(*sources, output_field=MONEY_FIELD)

    def _sources(self) -> dict:
        return dict(zip(self.parts, self.get_source_expressions(), strict=True))

    def tree(self, sources: dict):
        """The ``CASE`` expression of this conversion over ``sources`` (by part name)."""
        amount, currency = sources["amount"], sources["currency"]
        if "closed_date" in sources:
            closed = _rounded(
                amount, _closed_rate(currency, sources["closed_date"], sources.get("stored"))
            )
        if "kind" not in sources:
            if self.rates is not None:
                return _open_case(amount, currency, self.rates)
            return Case(
                When(Exact(currency, Value(reporting_currency())), then=amount),
                default=closed,
                output_field=MONEY_FIELD,
            )
        return Case(
            When(Exact(currency, Value(reporting_currency())), then=amount),
            When(
                Exact(sources["kind"], Value(Stage.Kind.OPEN)),
                then=_open_case(amount, currency, self.rates),
            ),
            default=closed,
            output_field=MONEY_FIELD,
        )

    def as_sql(self, compiler, connection, **extra_context):
        tree = self.tree(self._sources()).resolve_expression(compiler.query)
        return compiler.compile(tree)

    def as_postgresql(self, compiler, connection, **extra_context):
        # The SQL of :meth:`tree`, written out; each part compiled once (its parameters
        # repeated wherever it appears).
        compiled = {name: compiler.compile(e) for name, e in self._sources().items()}
        sql: list[str] = []
        params: list = []

        def put(text: str, *values):
            sql.append(text)
            params.extend(values)

        def part(name: str):
            text, values = compiled[name]
            put(text, *values)

        places = decimals(reporting_currency())

        def rounded(rate):
            put("ROUND((")
            part("amount")
            put(" * ")
            rate()
            put(f"), {int(places)})")

        def closed_rate():
            if "stored" in compiled:
                put("COALESCE(")
                part("stored")
                put(", ")
            put("opportune_rate_on(")
            part("currency")
            put(", ")
            part("closed_date")
            put(")")
            if "stored" in compiled:
                put(")")

        def open_case():
            put("CASE WHEN ")
            part("currency")
            put(" = %s THEN ", reporting_currency())
            part("amount")
            for code, rate in self.rates.items():
                if code == reporting_currency():
                    continue
                put(" WHEN ")
                part("currency")
                put(" = %s THEN ", code)
                rounded(lambda rate=rate: put("%s", rate))
            put(" ELSE NULL END")

        if "kind" not in compiled and self.rates is not None:
            open_case()
            return "".join(sql), params
        put("CASE WHEN ")
        part("currency")
        put(" = %s THEN ", reporting_currency())
        part("amount")
        if "kind" in compiled:
            put(" WHEN ")
            part("kind")
            put(" = %s THEN ", Stage.Kind.OPEN.value)
            open_case()
        put(" ELSE ")
        rounded(closed_rate)
        put(" END")
        return "".join(sql), params


def open_amount(amount, currency, rates: dict[str, Decimal]):
    """An open deal's amount at the as-of date's ``rates`` (:func:`rates_on`): one CASE over
    the currencies that have a rate, NULL for a currency without one."""
    return Converted(amount=amount, currency=currency, rates=rates)


def reporting_amount(
    *, amount, currency, kind, closed_date, rates: dict[str, Decimal], closed_rate=None
):
    """A deal's amount in the reporting currency, in SQL: open deals (``kind`` open) at
    ``rates`` (the as-of date's), closed deals at the rate of ``closed_date`` (``closed_rate``,
    the deal's stored rate for the state it is in now, where it holds one)."""
    return Converted(
        amount=amount,
        currency=currency,
        rates=rates,
        kind=kind,
        closed_date=closed_date,
        stored=closed_rate,
    )


def closed_date(prefix: str = ""):
    """The date a closed deal converts at: its closed date (its expected close date for a
    deal closed before closed dates were kept)."""
    return Coalesce(F(f"{prefix}closed_on"), F(f"{prefix}expected_close_date"))


def deal_amount(rates: dict[str, Decimal], prefix: str = ""):
    """:func:`reporting_amount` of the deals of an ``Opportunity`` queryset (``prefix`` for a
    related model, e.g. ``"opportunity__"``) as of the date of ``rates``."""
    return reporting_amount(
        amount=F(f"{prefix}amount"),
        currency=F(f"{prefix}currency"),
        kind=F(f"{prefix}stage__kind"),
        closed_date=closed_date(prefix),
        rates=rates,
        closed_rate=F(f"{prefix}closed_rate"),
    )


def closed_amount(prefix: str = ""):
    """A closed deal's amount in the reporting currency (the rate of its closed date), for
    sums over won or lost deals only: needs no as-of rates."""
    return Converted(
        amount=F(f"{prefix}amount"),
        currency=F(f"{prefix}currency"),
        closed_date=closed_date(prefix),
        stored=F(f"{prefix}closed_rate"),
    )


# --- Missing rates ------------------------------------------------------------------------


@dataclass(frozen=True)
class MissingRate:
    """Deals of one currency left out of totals for want of a rate."""

    currency: str
    deals: int
    since: dt.date | None

    @property
    def message(self) -> str:
        n = f"{self.deals} deal{'s' if self.deals != 1 else ''}"
        when = f" on or before {self.since:%Y-%m-%d}" if self.since else ""
        return (
            f"{n} in {self.currency} left out of the totals in {reporting_currency()}: no "
            f"{self.currency} exchange rate{when}. Add the rate in Admin → Exchange rates "
            f"or load a file with manage.py load_exchange_rates."
        )


def missing_rates(queryset, *, on: dt.date) -> list[MissingRate]:
    """The currencies of the deals of ``queryset`` (an ``Opportunity`` queryset) that have no
    rate for their date as of ``on``: two queries, the first rate date of each currency, then
    one grouped query of the deals dated before it.

    A deal has no rate exactly when its currency has none on or before the deal's date (its
    open deals convert at ``on``, its closed deals at their closed date): when the currency
    has no rate at all, or the date is before the currency's first one. Said that way the
    condition compares each deal's currency and stored dates with constants (no lookup of the
    rates per deal), so the database reads the deals it needs from the (currency, closed date,
    close date) index."""
    reporting = reporting_currency()
    first_rates = dict(
        ExchangeRate.objects.order_by()
        .values("currency")
        .annotate(first=Min("on_date"))
        .values_list("currency", "first")
    )
    open_q = Q(stage__kind=Stage.Kind.OPEN)
    undated = _outside(sorted({*first_rates, reporting}))
    for code, first in sorted(first_rates.items()):
        closed_before = ~open_q & (
            Q(closed_on__lt=first) | Q(closed_on__isnull=True, expected_close_date__lt=first)
        )
        undated |= Q(currency=code) & ((open_q | closed_before) if on < first else closed_before)
    rows = (
        queryset.exclude(currency=reporting)
        .filter(undated)
        .annotate(fx_day=Case(When(open_q, then=Value(on)), default=closed_date()))
        .order_by()
        .values("currency")
        .annotate(n=Count("pk"), since=Min("fx_day"))
        .order_by("currency")
    )
    return [MissingRate(r["currency"], r["n"], r["since"]) for r in rows]


def _outside(codes: list[str]) -> Q:
    """``currency NOT IN codes`` said as the ranges between them (``< first``, between each
    two, ``> last``), which the (currency, closed date, close date) index reads: a NOT IN
    is a filter on every deal."""
    outside = Q(currency__lt=codes[0]) | Q(currency__gt=codes[-1])
    for low, high in zip(codes, codes[1:], strict=False):
        outside |= Q(currency__gt=low, currency__lt=high)
    return outside


def missing_from_groups(groups: dict[str, int], *, rates: dict[str, Decimal], on: dt.date):
    """:class:`MissingRate` entries from deal counts per currency of open deals (the board's
    totals query counts them) and the rates of ``on``."""
    reporting = reporting_currency()
    return [
        MissingRate(code, n, on)
        for code, n in sorted(groups.items())
        if code != reporting and code not in rates and n
    ]
