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
    return grouped_totals_over(rows, fields, aggregates, using=using)[()]


def grouped_totals_over(
    rows, fields: dict[str, Field], aggregates: dict, *, group: tuple = (), using: str | None = None
) -> dict[tuple, dict]:
    """:func:`totals_over` per group: ``{(values of the group columns): {name: value}}``, the
    group columns named in ``group`` among ``fields``; one query. Without a group, the one key
    is ``()`` (and an empty ``rows`` still gives its row of totals)."""
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
    keys = [str(columns[name].sql) for name in group]
    # OFFSET 0 keeps the rows a subquery of their own: flattened into the outer query, each
    # aggregate would compute the rows' expressions again (PostgreSQL; SQLite takes no OFFSET
    # without LIMIT and needs no fence).
    fence = " OFFSET 0" if connection.vendor == "postgresql" else ""
    grouping = f" GROUP BY {', '.join(keys)}" if keys else ""
    sql = f"SELECT {', '.join([*keys, *selects])} FROM ({inner_sql}{fence}) s{grouping}"  # nosec B608: compiled expressions, quoted column names and a compiled subquery; every value is a parameter
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *inner_params])
        found = cursor.fetchall()
    out = {}
    for row in found:
        key = tuple(
            _converted(columns[name], value, connection)
            for name, value in zip(group, row, strict=False)
        )
        out[key] = {
            name: expression.convert_value(value, expression, connection)
            for name, expression, value in zip(aggregates, resolved, row[len(keys) :], strict=True)
        }
    return out


def _converted(column, value, connection):
    """A group column's value as Django reads that column's field (dates from SQLite's text)."""
    for converter in connection.ops.get_db_converters(column) + column.get_db_converters(
        connection
    ):
        value = converter(value, column, connection)
    return value


def first_values(*, using: str | None = None, **querysets) -> dict:
    """``{name: the first value of each one-column, ordered values_list() queryset}`` (None
    when it has no row) in one query: ``SELECT (q1 LIMIT 1), (q2 LIMIT 1), …``.

    The earliest or latest date of a set of deals is the first row of the deals ordered by
    it: the database reads it from the date's index and stops at the first row in scope. As
    ``MIN()``/``MAX()`` over deals narrowed by owner it would read every deal in scope."""
    alias = using or next(iter(querysets.values())).db
    connection = connections[alias]
    parts, params, columns = [], [], []
    for name, qs in querysets.items():
        sql, sub_params = qs[:1].query.get_compiler(using=alias).as_sql()
        parts.append(f"({sql}) AS {connection.ops.quote_name(name)}")
        params.extend(sub_params)
        field = qs.model._meta.get_field(qs.query.values_select[0])
        columns.append(field.get_col(qs.model._meta.db_table))
    sql = f"SELECT {', '.join(parts)}"  # nosec B608: compiled querysets and quoted names; every value is a parameter
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return {
        name: _converted(column, value, connection)
        for name, column, value in zip(querysets, columns, row, strict=True)
    }
