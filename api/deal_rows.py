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

from django.db import connections, router
from django.db.models import QuerySet, TextField
from django.db.models.expressions import RawSQL
from django.db.models.query import ValuesListIterable
from django.utils import timezone
from rest_framework import relations, serializers

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
            plan.append(("time", name, None))
        elif isinstance(field, serializers.DecimalField | serializers.DateField):
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


def _show(plan, values: dict, moment) -> dict:
    out = {}
    for how, name, extra in plan:
        value = values[name]
        if value is None:
            if name in _THROUGH and values.get(_THROUGH[name]) is None:
                continue
            out[name] = None
        elif how == "same":
            out[name] = value
        elif how == "field":
            out[name] = extra(value)
        elif how == "time":
            out[name] = moment(value)
        else:
            out[name] = [
                _show(extra, _line(line, values["id"]), moment)
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
