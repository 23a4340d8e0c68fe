"""Spreadsheet downloads: every CSV the application serves is written here.

A spreadsheet opening a CSV runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and,
in some programs, a tab or a carriage return followed by one) as a formula, so a deal named
``=HYPERLINK("http://…")`` would become a live link in the manager's spreadsheet. Such text
cells are prefixed with ``'`` (OWASP's "CSV injection" rule), which spreadsheets show as
plain text. Numbers are left alone: ``Decimal``/``int`` values and text that is exactly a
decimal number (``-1200.50``, as report tables write money) stay numeric and unprefixed.

Hand-written rather than a library: the CSV injection libraries on PyPI escape a different
set of characters (``|``, ``%``) and rewrite cell contents, which would break the "CSV holds
exactly the table shown" rule of the reports.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from decimal import Decimal

from django.http import HttpResponse

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")


def safe_cell(value):
    """The value to write in a CSV cell: numbers as they are, text that a spreadsheet would
    run as a formula prefixed with ``'``, ``None`` as an empty cell."""
    if value is None:
        return ""
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return value
    text = str(value)
    if text.startswith(FORMULA_PREFIXES) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def unprotect_cell(text: str) -> str:
    """The inverse of :func:`safe_cell` for a text read back from a file: removes exactly the
    ``'`` that :func:`safe_cell` put before a formula character, so ``'+1 555 0100`` reads as
    ``+1 555 0100`` and any other text stays as it is."""
    if (
        text.startswith("'")
        and text[1:].startswith(FORMULA_PREFIXES)
        and not _PLAIN_NUMBER.fullmatch(text[1:])
    ):
        return text[1:]
    return text


def safe_row(row: Iterable) -> list:
    return [safe_cell(v) for v in row]


def csv_response(rows: Iterable[Iterable], *, filename: str) -> HttpResponse:
    """An attachment ``<filename>.csv`` of ``rows`` (header first), every cell made safe."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    writer = csv.writer(response)
    writer.writerows(safe_row(row) for row in rows)
    return response


XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def xlsx_response(rows: Iterable[Iterable], *, filename: str, sheet: str = "Sheet1"):
    """An attachment ``<filename>.xlsx`` of ``rows`` (header first), every cell made safe
    exactly as in a CSV (a workbook runs a text cell that starts with ``=`` as a formula
    too). Written in openpyxl's streaming mode, so memory stays flat in the number of rows."""
    import io

    from openpyxl import Workbook

    book = Workbook(write_only=True)
    ws = book.create_sheet(sheet[:31])
    for row in rows:
        ws.append([_xlsx_value(safe_cell(v)) for v in row])
    buffer = io.BytesIO()
    book.save(buffer)
    response = HttpResponse(buffer.getvalue(), content_type=XLSX_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}.xlsx"'
    return response


def _xlsx_value(value):
    # A spreadsheet stores every number as a binary float, exact to 15 significant digits:
    # enough for an amount of at most 14 digits, which reads back as the same Decimal.
    if isinstance(value, Decimal):
        return float(value)
    return value


def export_response(fmt: str, rows: Iterable[Iterable], *, filename: str):
    """``?export=csv`` or ``?export=xlsx`` of a list: the same rows in either format."""
    if fmt == "xlsx":
        return xlsx_response(rows, filename=filename)
    return csv_response(rows, filename=filename)
