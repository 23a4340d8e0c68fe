"""Deals with their line items in the same query.

The API shows every opportunity with its line items. Prefetching them would cost a second
query (and Django's prefetch machinery) for every list and every read. Instead each deal row
carries its lines as one JSON array from a correlated subquery (``json_agg`` on PostgreSQL,
``json_group_array`` on SQLite; numbers as text, so that no amount passes through a float),
and the rows come back as ``LineItem`` instances (with their product's name and code) in the
deal's ``line_items`` cache, as a prefetch would leave them: ``deal.line_items.all()`` runs no
query, and the representation is the same ``LineItemSerializer``'s.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from django.db import connections, router
from django.db.models import QuerySet, TextField
from django.db.models.expressions import RawSQL
from django.db.models.query import ModelIterable
from django.utils.dateparse import parse_datetime

from pipeline.models import LineItem, Opportunity, Product

ANNOTATION = "_line_items_json"
# (key, column, sent as text): numbers and times as text, never through a float.
_COLUMNS = (
    ("id", "li.id", False),
    ("product", "li.product_id", False),
    ("product_name", "p.name", False),
    ("product_code", "p.code", False),
    ("quantity", "li.quantity", True),
    ("unit_price", "li.unit_price", True),
    ("discount_percent", "li.discount_percent", True),
    ("total", "li.total", True),
    ("created_at", "li.created_at", True),
)


def lines_sql(vendor: str) -> str:
    if vendor == "postgresql":
        array, pair, empty = "json_agg", "json_build_object", "'[]'::json"
    else:
        array, pair, empty = "json_group_array", "json_object", "'[]'"
    fields = ", ".join(
        f"'{key}', " + (f"CAST({column} AS TEXT)" if as_text else column)
        for key, column, as_text in _COLUMNS
    )
    deals = Opportunity._meta.db_table
    lines = LineItem._meta.db_table
    products = Product._meta.db_table
    return (
        f"SELECT CAST(COALESCE({array}({pair}({fields})), {empty}) AS TEXT) "  # nosec B608: only table and column names from the models' metadata; every value is a parameter
        f'FROM "{lines}" li INNER JOIN "{products}" p ON p.id = li.product_id '
        f'WHERE li.opportunity_id = "{deals}"."id"'
    )


def parse_moment(value: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        moment = parse_datetime(value.replace(" ", "T", 1))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _lines(deal: Opportunity, text: str | None) -> list[LineItem]:
    lines = []
    for row in sorted(json.loads(text or "[]"), key=lambda r: r["id"]):
        line = LineItem(
            id=row["id"],
            opportunity_id=deal.pk,
            product_id=row["product"],
            quantity=Decimal(row["quantity"]),
            unit_price=Decimal(row["unit_price"]),
            discount_percent=Decimal(row["discount_percent"]),
            total=Decimal(row["total"]),
            created_at=parse_moment(row["created_at"]),
        )
        product = Product(id=row["product"], name=row["product_name"], code=row["product_code"])
        product._state.adding = False
        line.product = product
        line._state.adding = False
        line._state.db = deal._state.db
        lines.append(line)
    return lines


class _DealsWithLines(ModelIterable):
    def __iter__(self):
        for deal in super().__iter__():
            cached = QuerySet(model=LineItem)  # never run: its rows are already here
            cached._result_cache = _lines(deal, deal.__dict__.pop(ANNOTATION, None))
            cached._prefetch_done = True
            deal._prefetched_objects_cache = {"line_items": cached}
            yield deal


def with_lines(deals: QuerySet[Opportunity]) -> QuerySet[Opportunity]:
    """Deals as the API shows them: stage, company, pipeline and model score joined, and all
    their line items (with the product's name and code), in the one query, whatever the
    number of deals or lines."""
    vendor = connections[router.db_for_read(Opportunity)].vendor
    sql = lines_sql(vendor)
    deals = deals.select_related("stage", "company", "pipeline", "win_score").annotate(
        **{ANNOTATION: RawSQL(sql, (), output_field=TextField())}  # nosec B611: the SQL is built by lines_sql from model metadata, with no parameters
    )
    deals._iterable_class = _DealsWithLines
    return deals
