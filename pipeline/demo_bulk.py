"""Bulk writes of the demo's large tables (``pipeline.demo``)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import connection


def bulk_insert(model, cols: list[str], rows: list[tuple]) -> None:
    """Write ``rows`` (tuples in the order of ``cols``) into ``model``'s table: ``COPY`` on
    PostgreSQL, ``executemany`` in chunks elsewhere."""
    if not rows:
        return
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            col_sql = ", ".join(connection.ops.quote_name(c) for c in cols)
            with cursor.cursor.copy(f"COPY {table} ({col_sql}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            placeholders = ", ".join(["%s"] * len(cols))
            col_sql = ", ".join(connection.ops.quote_name(c) for c in cols)
            sql = f"INSERT INTO {table} ({col_sql}) VALUES ({placeholders})"  # nosec B608: table and column names come from the model; every value is a parameter
            adapt = _sqlite_adapter()
            for start in range(0, len(rows), 5000):
                chunk = [tuple(adapt(v) for v in r) for r in rows[start : start + 5000]]
                cursor.executemany(sql, chunk)


def _sqlite_adapter():
    ops = connection.ops

    def adapt(value):
        if isinstance(value, dt.datetime):
            return ops.adapt_datetimefield_value(value)
        if isinstance(value, dt.date):
            return value.isoformat()
        if isinstance(value, Decimal):
            return str(value)
        return value

    return adapt
