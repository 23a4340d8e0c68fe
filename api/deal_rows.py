"""Opportunities read as rows: the list and the read of one deal without model instances.

A page of 100 deals read as instances builds some 700 model objects (the deal, its stage,
company, pipeline, score, each line and its product) and then walks DRF's fields through
them attribute by attribute; that was most of the list's time. Here the one query returns
exactly the columns the representation shows (the stage's and company's names joined, the
effective probability and forecast category by their SQL twins in ``pipeline.expressions``,
the line items as one JSON array as in ``deal_lines``), each row becomes a ``DealRow`` (an
object with those attributes, which cursor pagination reads like an instance's), and
``OpportunitySerializer`` turns it into the same representation as an instance: its fields
decide each value's format (a decimal's places, a time's zone), worked out once per class.
The weighted amount is the model's own ``Opportunity.weighted_amount`` rule.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from django.db import connections, router
from django.db.models import QuerySet, TextField
from django.db.models.expressions import RawSQL
from django.db.models.query import ValuesListIterable
from django.utils import timezone
from rest_framework import ISO_8601, relations, serializers
from rest_framework.settings import api_settings

from accounts import visibility
from api.deal_lines import lines_sql, parse_moment
from pipeline import expressions
from pipeline.models import Opportunity

# Representation field -> the column or annotation that holds its value.
_PATHS = {
    "id": "id",
    "name": "name",
    "company": "company_id",
    "company_name": "company__name",
    "contact": "contact_id",
    "owner": "owner_id",
    "pipeline": "pipeline_id",
    "stage": "stage_id",
    "stage_name": "stage__name",
    "stage_kind": "stage__kind",
    "amount": "amount",
    "currency": "currency",
    "probability": "probability",
    "effective_probability": "_api_effective_probability",
    "expected_close_date": "expected_close_date",
    "closed_on": "closed_on",
    "forecast_category": "forecast_category",
    "effective_forecast_category": "_api_effective_forecast_category",
    "lost_reason": "lost_reason_id",
    "lost_note": "lost_note",
    "next_step": "next_step",
    "next_step_due": "next_step_due",
    "version": "version",
    "created_at": "created_at",
    "updated_at": "updated_at",
    "stage_entered_at": "stage_entered_at",
    "last_activity_at": "last_activity_at",
    "line_items": "_api_line_items",
}
# Shown only when the deal has the related record (DRF skips a dotted source through None).
_THROUGH = {"company_name": "company"}
_weighted = Opportunity.weighted_amount.fget


class DealRow:
    """One deal's shown values as attributes (``line_items`` still the JSON text)."""

    def __init__(self, values: dict):
        self.__dict__.update(values)
        self.pk = values["id"]
        self.weighted_amount = _weighted(self)


class _Rows(ValuesListIterable):
    def __iter__(self):
        names = list(_PATHS)
        for row in super().__iter__():
            yield DealRow(dict(zip(names, row, strict=True)))


def as_rows(deals: QuerySet[Opportunity]) -> QuerySet:
    """``deals`` (filtered and visible, in any order) as ``DealRow``s, in one query whatever
    the number of deals or lines."""
    vendor = connections[router.db_for_read(Opportunity)].vendor
    rows = deals.annotate(
        _api_effective_probability=expressions.effective_probability(),
        _api_effective_forecast_category=expressions.effective_forecast_category(),
        _api_line_items=RawSQL(lines_sql(vendor), (), output_field=TextField()),  # nosec B611: the SQL is built by lines_sql from model metadata, with no parameters
    ).values_list(*_PATHS.values())
    rows._iterable_class = _Rows
    return rows


def _moment(zone):
    def convert(value: dt.datetime) -> str:
        text = value.astimezone(zone).isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text

    return convert


def _plan(serializer: serializers.Serializer) -> list[tuple[str, str, object]]:
    """How each field of ``serializer`` shows a raw value: ``("same", name, None)`` as it
    is, ``("field", name, to_representation)``, ``("time", name, None)``, or
    ``("lines", name, plan of the nested serializer)``. A field of another kind is refused,
    so that a new field cannot silently show differently from the instance's."""
    plan = []
    for name, field in serializer.fields.items():
        if field.write_only:
            continue
        if isinstance(field, serializers.ListSerializer):
            plan.append(("lines", name, _plan(field.child)))
        elif isinstance(field, serializers.DateTimeField):
            iso = getattr(field, "format", api_settings.DATETIME_FORMAT) == ISO_8601
            if iso and not hasattr(field, "timezone"):  # in the current zone, as ISO 8601
                plan.append(("time", name, None))
            else:
                plan.append(("field", name, field.to_representation))
        elif isinstance(field, serializers.DecimalField):
            plan.append(("field", name, _decimal(field)))
        elif isinstance(field, serializers.DateField):
            plan.append(("field", name, field.to_representation))
        elif isinstance(
            field,
            serializers.IntegerField
            | serializers.CharField
            | serializers.ChoiceField
            | serializers.BooleanField
            | relations.PrimaryKeyRelatedField,
        ):
            plan.append(("same", name, None))
        else:
            raise TypeError(f"{type(serializer).__name__}.{name}: no row form for {field!r}")
    return plan


def _decimal(field: serializers.DecimalField):
    """``field.to_representation``, without its rounding when the value already has the
    field's places and fits its digits (a money column read from the database): rounding
    such a value changes nothing, and DRF's builds a decimal context for every value."""
    places, digits = field.decimal_places, field.max_digits
    plain = (
        places is not None
        and digits is not None
        and not field.localize
        and not field.normalize_output
        and getattr(field, "coerce_to_string", api_settings.COERCE_DECIMAL_TO_STRING)
    )
    if not plain:
        return field.to_representation

    def convert(value) -> str:
        if not isinstance(value, Decimal):
            value = Decimal(str(value).strip())
        sign, shown, exponent = value.as_tuple()
        if exponent == -places and len(shown) <= digits:
            return f"{value:f}"
        return field.to_representation(value)

    return convert


def _show(plan, values: dict, moment) -> dict:
    out = {}
    for how, name, detail in plan:
        value = values[name]
        if value is None:
            if name in _THROUGH and values.get(_THROUGH[name]) is None:
                continue
            out[name] = None
        elif how == "same":
            out[name] = value
        elif how == "field":
            out[name] = detail(value)
        elif how == "time":
            out[name] = moment(value)
        else:
            out[name] = [
                _show(detail, _line(line, values["id"]), moment)
                for line in sorted(json.loads(value), key=lambda line: line["id"])
            ]
    return out


def _line(line: dict, deal: int) -> dict:
    """A line item from the JSON array (numbers as text, which the decimal fields read)."""
    line["opportunity"] = deal
    line["created_at"] = parse_moment(line["created_at"])
    return line


def represent(serializer: serializers.Serializer, row: DealRow) -> dict:
    """``row`` as ``serializer`` (an ``OpportunitySerializer``) shows the deal."""
    cls = type(serializer)
    plan = cls.__dict__.get("_row_plan")
    if plan is None:
        plan = cls._row_plan = _plan(serializer)
    return _show(plan, row.__dict__, _moment(timezone.get_current_timezone()))


# --- one deal, by a statement compiled once per viewer -------------------------------------
# Reading one deal compiled the same query anew for every request (the visibility rule, the
# joins, the two SQL twins, the lines' subquery), more of a read's time than running it. The
# statement depends only on who reads, so it is compiled once per process for each viewer and
# run with the deal's id as its one changing parameter. "Who reads" is every attribute the
# visibility rule takes from the user (``accounts.visibility.rule_inputs``: active, admin or
# manager, id, team, the teams they manage and, where they were read with those teams, their
# members); where they were not (a token's cached user), the members are a subquery the
# database answers at each run. A test holds the stored statement
# equal to a freshly compiled one for every role.
_ANY_DEAL = -4_611_686_018_427_387_903  # a placeholder id no deal has
_STATEMENTS: dict = {}
_STATEMENTS_MAX = 1000


def _compile(user, alias: str) -> tuple:
    deals = as_rows(Opportunity.objects.visible_to(user).using(alias)).filter(pk=_ANY_DEAL)
    compiler = deals.query.get_compiler(alias)
    sql, params = compiler.as_sql()
    params = list(params)
    if params.count(_ANY_DEAL) != 1:  # pragma: no cover - the placeholder must be unique
        raise RuntimeError("The deal's id is not one parameter of the statement.")
    fields = [column[0] for column in compiler.select[0 : compiler.col_count]]
    converters = list(compiler.get_converters(fields).items())
    return sql, tuple(params), params.index(_ANY_DEAL), converters


def statement(user, alias: str) -> tuple:
    """The compiled statement that reads one deal ``user`` may see (see above)."""
    key = (alias, visibility.rule_inputs(user))
    found = _STATEMENTS.get(key)
    if found is None:
        if len(_STATEMENTS) >= _STATEMENTS_MAX:
            _STATEMENTS.clear()
        found = _STATEMENTS[key] = _compile(user, alias)
    return found


def read_one(user, pk: int) -> DealRow | None:
    """The deal ``pk`` as a ``DealRow`` if ``user`` may see it, else None; one query."""
    alias = router.db_for_read(Opportunity)
    sql, params, at, converters = statement(user, alias)
    params = list(params)
    params[at] = pk
    connection = connections[alias]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    row = list(row)
    for position, (functions, expression) in converters:
        for function in functions:
            row[position] = function(row[position], expression, connection)
    # The columns come in the order of ``values_list``, i.e. of ``_PATHS``.
    return DealRow(dict(zip(_PATHS, row[: len(_PATHS)], strict=True)))
