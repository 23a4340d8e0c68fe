"""CSV export of a report table: the same :class:`~forecasting.reports.tables.Table` the page
shows, same columns and rows (total included), raw values."""

from __future__ import annotations

import csv

from django.http import HttpResponse

from forecasting.reports.tables import Table


def csv_response(table: Table, *, filename: str) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    writer = csv.writer(response)
    writer.writerows(table.csv_rows())
    return response
