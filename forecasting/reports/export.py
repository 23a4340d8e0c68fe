"""CSV export of a report table: the same :class:`~forecasting.reports.tables.Table` the page
shows, same columns and rows (total included), raw values, written by the one safe CSV
writer (``pipeline.exports``)."""

from __future__ import annotations

from django.http import HttpResponse

from forecasting.reports.tables import Table
from pipeline.exports import csv_response as _csv_response


def csv_response(table: Table, *, filename: str) -> HttpResponse:
    return _csv_response(table.csv_rows(), filename=filename)
