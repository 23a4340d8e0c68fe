"""Reading files and values: encodings, delimiters, dates, money, formulas, bad files."""

import codecs
import datetime as dt
import io
import zipfile
from decimal import Decimal

import pytest

from imports import parsing
from imports.parsing import CellError, FileRefused
from pipeline.exports import safe_cell, unprotect_cell

ROWS = "Deal;Value;Owner\r\nCafé Zürich;1.234,56 €;Zoë\r\n"


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (ROWS.encode("utf-8"), "UTF-8"),
        (codecs.BOM_UTF8 + ROWS.encode("utf-8"), "UTF-8 (with BOM)"),
        (ROWS.encode("utf-16"), "UTF-16"),
        (ROWS.encode("utf-16-le"), "UTF-16"),
        (ROWS.encode("cp1252"), "Windows-1252"),
    ],
)
def test_read_table_detects_the_encoding_and_semicolons(data, encoding):
    table = parsing.read_table(data, "deals.csv")
    assert table.encoding == encoding
    assert table.delimiter == ";"
    assert table.headers == ["Deal", "Value", "Owner"]
    assert table.rows == [["Café Zürich", "1.234,56 €", "Zoë"]]


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_read_table_sniffs_the_delimiter_and_keeps_quoted_cells(delimiter):
    text = delimiter.join(["Name", "Note", "Amount"]) + "\n"
    text += delimiter.join(["Acme", '"a, b; c"', "10"]) + "\n"
    table = parsing.read_table(text.encode(), "x.csv")
    assert table.delimiter == delimiter
    assert table.rows[0][1] == "a, b; c"


def test_read_table_flags_a_row_with_more_cells_than_headers():
    table = parsing.read_table(b"a,b\n1,2\n1,2,3\n", "x.csv")
    assert table.long_rows == {1}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"   \r\n", "empty"),
        (b"Deal,Value\r\n", "no data rows"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 20, "not a text file"),
        (",".join(f"c{i}" for i in range(10_000)).encode() + b"\n1\n", "10,000 columns"),
    ],
)
def test_read_table_refuses_bad_files(data, message):
    with pytest.raises(FileRefused, match=message):
        parsing.read_table(data, "x.csv")


def test_read_table_refuses_a_zip_that_is_not_a_workbook():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("hello.txt", "hi")
    with pytest.raises(FileRefused, match="ZIP archive"):
        parsing.read_table(buffer.getvalue(), "deals.csv")


def test_read_table_reads_xlsx_with_excel_dates_and_numbers():
    from openpyxl import Workbook

    book = Workbook()
    ws = book.active
    ws.append(["Deal", "Value", "Created"])
    ws.append(["Acme", 1234.5, dt.datetime(2024, 3, 5)])
    ws.append(["Formula", "=SUM(A1:A3)", None])
    buffer = io.BytesIO()
    book.save(buffer)
    table = parsing.read_table(buffer.getvalue(), "deals.xlsx")
    assert table.encoding == "XLSX"
    assert table.rows[0] == ["Acme", 1234.5, dt.datetime(2024, 3, 5)]
    assert parsing.parse_date(table.rows[0][2]) == dt.date(2024, 3, 5)
    assert parsing.parse_money(table.rows[0][1]) == Decimal("1234.50")
    with pytest.raises(CellError, match="formula"):
        parsing.parse_money(table.rows[1][1])
    assert parsing.text(table.rows[1][1]) == "=SUM(A1:A3)"  # text stays text


@pytest.mark.parametrize(
    ("raw", "amount"),
    [
        ("$1,234.56", "1234.56"),
        ("1.234,56 €", "1234.56"),
        ("1 234,56", "1234.56"),
        ("1234", "1234.00"),
        ("12,5", "12.50"),
        ("1,234,567", "1234567.00"),
        ("EUR 99.9", "99.90"),
        ("'1.000.000", "1000000.00"),
    ],
)
def test_parse_money_reads_common_formats(raw, amount):
    assert parsing.parse_money(raw) == Decimal(amount)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("-5", "negative"),
        ("(5)", "negative"),
        ("1e30", "not an amount"),
        ("1000000000000", "too large"),
        ("12.345", "two decimal places"),
        ("=SUM(A1:A3)", "formula"),
        ("abc", "not an amount"),
        ("NaN", "not an amount"),
    ],
)
def test_parse_money_refuses_bad_amounts(raw, message):
    with pytest.raises(CellError, match=message):
        parsing.parse_money(raw)


@pytest.mark.parametrize(
    ("raw", "order", "day"),
    [
        ("2024-03-31", "", dt.date(2024, 3, 31)),
        ("2024-03-31T10:00:00Z", "", dt.date(2024, 3, 31)),
        ("3/31/2024", "", dt.date(2024, 3, 31)),
        ("31/3/2024", "", dt.date(2024, 3, 31)),
        ("4/5/2024", "mdy", dt.date(2024, 4, 5)),
        ("4/5/2024", "dmy", dt.date(2024, 5, 4)),
        ("31.03.2024", "", dt.date(2024, 3, 31)),
    ],
)
def test_parse_date_reads_iso_and_slashed_dates(raw, order, day):
    assert parsing.parse_date(raw, order) == day


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("2017-02-30", "not a date of the calendar"),
        ("1899-12-31", "between 1900-01-01"),
        ("2201-01-01", "between 1900-01-01"),
        ("4/5/2024", "could be day/month"),
        ("=TODAY()", "formula"),
        ("yesterday", "not a date"),
    ],
)
def test_parse_date_refuses_bad_dates(raw, message):
    with pytest.raises(CellError, match=message):
        parsing.parse_date(raw)


def test_detect_date_order_decides_from_any_unambiguous_value():
    assert parsing.detect_date_order(["1/2/2024", "3/25/2024"]) == "mdy"
    assert parsing.detect_date_order(["1/2/2024", "25/3/2024"]) == "dmy"
    assert parsing.detect_date_order(["1/2/2024", "3/4/2024"]) == ""
    assert parsing.detect_date_order(["2024-01-02"]) == "ymd"


@pytest.mark.parametrize("value", ["+1 555 0100", "=HYPERLINK(1)", "-x", "@me", "\tx"])
def test_unprotect_cell_undoes_exactly_the_export_guard(value):
    assert unprotect_cell(safe_cell(value)) == value
    assert parsing.text(safe_cell(value)) == value.strip()


def test_unprotect_cell_keeps_other_apostrophes():
    assert unprotect_cell("'quoted'") == "'quoted'"
    assert unprotect_cell("'-12") == "'-12"  # the export never prefixes a plain number


def test_domain_of_normalises_websites():
    assert parsing.domain_of("https://www.Acme.com/about") == "acme.com"
    assert parsing.domain_of("acme.com") == "acme.com"
    assert parsing.domain_of("") == ""
