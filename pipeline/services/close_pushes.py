"""Recount every deal's close-date pushes from its field history.

``Opportunity.close_pushes`` / ``close_pushed_days`` hold how often, and by how many days in
all, a deal's expected close date was moved later: each field-history row's close date
against the row before it (oldest first). ``Opportunity.save`` keeps them as history rows are
written; this recount computes them from the history itself, for the migration that added
them and for anything that writes history rows in bulk. One statement over the whole
history, with the same rule as the rows one by one; plain SQL on the tables (no model
code), so the migration can call it too."""

from __future__ import annotations


def recount_close_pushes(connection) -> None:
    """Set every deal's pushes from its history (deals without a push get zeros)."""
    if connection.vendor == "sqlite":
        days = "CAST(ROUND(julianday(expected_close_date) - julianday(prev)) AS INTEGER)"
    else:
        days = "(expected_close_date - prev)"
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE pipeline_opportunity SET close_pushes = 0, close_pushed_days = 0 "
            "WHERE close_pushes <> 0 OR close_pushed_days <> 0"
        )
        cursor.execute(
            f"""
            UPDATE pipeline_opportunity SET close_pushes = s.n, close_pushed_days = s.days
            FROM (
                SELECT id, COUNT(*) AS n, SUM({days}) AS days
                FROM (
                    SELECT id, expected_close_date,
                           LAG(expected_close_date) OVER (
                               PARTITION BY id ORDER BY history_date, history_id
                           ) AS prev
                    FROM pipeline_historicalopportunity
                ) h
                WHERE expected_close_date > prev
                GROUP BY id
            ) s
            WHERE pipeline_opportunity.id = s.id
            """  # nosec B608: the day difference is one of two fixed SQL texts; no value reaches it
        )
