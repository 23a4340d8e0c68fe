"""Aggregates over the rows of a queryset, each row computed once.

``QuerySet.aggregate`` over a queryset whose annotations are large expressions (two dates'
deal states) spends longer rebuilding those expressions for its subquery than PostgreSQL
spends running it. :func:`totals_over` compiles the queryset once as it is and wraps it in
one ``SELECT <aggregates> FROM (<rows> OFFSET 0) s``, the aggregates compiled from ordinary Django
expressions over the named columns of its rows (``F("a_amount")``, ``Q(f_in1=True)``), so
the conditions stay the ORM's own (no SQL is written here by hand but the wrapper)."""

from __future__ import annotations

from django.db import connections
from django.db.models import Field
from django.db.models.expressions import RawSQL


def totals_over(rows, fields: dict[str, Field], aggregates: dict, *, using: str | None = None):
    """``{name: value}`` of ``aggregates`` (Django aggregate expressions that refer only to
    ``fields``, the columns of ``rows``' values() with their types, named unlike the model's
    fields, and count rows with
    ``Count(Value(1), …)``) over the rows of the values() queryset ``rows``; one query."""
    alias = using or rows.db
    connection = connections[alias]
    qn = connection.ops.quote_name
    inner_sql, inner_params = rows.query.get_compiler(using=alias).as_sql()
    columns = {
        # The wrapper's own column names, quoted: no value reaches this SQL.
        name: RawSQL(f"s.{qn(name)}", (), output_field=field)  # nosec B611: quoted column names of our own subquery
        for name, field in fields.items()
    }
    probe = rows.model.objects.alias(**columns).query
    compiler = probe.get_compiler(using=alias)
    selects, params, resolved = [], [], []
    for expression in aggregates.values():
        expression = expression.resolve_expression(probe, allow_joins=False)
        sql, expr_params = compiler.compile(expression)
        selects.append(sql)
        params.extend(expr_params)
        resolved.append(expression)
    if rows.query.is_sliced:
        raise ValueError("totals_over sums every row: slice after, not before.")
    # OFFSET 0 keeps the rows a subquery of their own: flattened into the outer query, each
    # aggregate would compute the rows' expressions again (PostgreSQL; SQLite takes no OFFSET
    # without LIMIT and needs no fence).
    fence = " OFFSET 0" if connection.vendor == "postgresql" else ""
    sql = f"SELECT {', '.join(selects)} FROM ({inner_sql}{fence}) s"  # nosec B608: compiled expressions and a compiled subquery; every value is a parameter
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *inner_params])
        row = cursor.fetchone()
    return {
        name: expression.convert_value(value, expression, connection)
        for name, expression, value in zip(aggregates, resolved, row, strict=True)
    }
