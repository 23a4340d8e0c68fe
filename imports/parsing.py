"""Reading uploaded files: CSV in any common encoding and delimiter, and XLSX.

Everything a user can get wrong in a file becomes a :class:`FileRefused` with a message that
says what is wrong and what to do; a single bad cell becomes a :class:`CellError` for its
row. Values are parsed here (dates, money, booleans), not in the import service, so the
wizard, the preview and ``manage.py import_records`` read files identically.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
import zipfile
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from charset_normalizer import from_bytes
from django.core.exceptions import ValidationError

from pipeline.exports import FORMULA_PREFIXES, unprotect_cell
from pipeline.services import validation
from pipeline.validators import DATE_RANGE_MESSAGE, EARLIEST_DATE, LATEST_DATE

MAX_BYTES = 50 * 1024 * 1024
MAX_ROWS = 200_000
MAX_COLUMNS = 200

DATE_ORDERS = (("ymd", "ISO (2024-03-31)"), ("mdy", "M/D/YYYY"), ("dmy", "D/M/YYYY"))


class FileRefused(Exception):
    """The whole file cannot be read; nothing is imported."""


class CellError(ValueError):
    """One value cannot be read; its row is refused with this message."""


@dataclass
class Table:
    headers: list[str]
    rows: list[list]  # cells as str (CSV) or str / number / datetime (XLSX)
    encoding: str = ""
    delimiter: str = ""
    # 1-based file row numbers (header = 1) of rows with more cells than headers
    long_rows: set[int] = field(default_factory=set)


# --- files -----------------------------------------------------------------------------------


def read_table(data: bytes, file_name: str = "") -> Table:
    """Headers and rows of an uploaded file (CSV or XLSX)."""
    if len(data) > MAX_BYTES:
        raise FileRefused("The file is larger than 50 MB; split it into smaller files.")
    if not data.strip():
        raise FileRefused("The file is empty; export the sheet again with its header row.")
    if data[:4] == b"PK\x03\x04":
        return _read_xlsx(data)
    text, encoding = decode(data)
    return _read_csv(text, encoding)


def decode(data: bytes) -> tuple[str, str]:
    """The text of a CSV and the encoding it was written in: a byte-order mark decides
    (UTF-8, UTF-16), else strict UTF-8, else the best guess of charset-normalizer among the
    encodings spreadsheets write (cp1252 by default)."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="strict"), "UTF-8 (with BOM)"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), "UTF-16"
        except UnicodeDecodeError:
            raise FileRefused("The file says it is UTF-16 but is not readable as such.") from None
    if b"\x00" in data[:4096]:
        # UTF-16 without a byte-order mark has a zero byte in every ASCII character.
        for enc in ("utf-16-le", "utf-16-be"):
            try:
                text = data.decode(enc)
            except UnicodeDecodeError:
                continue
            if "\x00" not in text and _looks_like_text(text):
                return text, "UTF-16"
        raise FileRefused(
            "This is not a text file (it holds binary data). Upload a CSV or an XLSX file."
        )
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    results = from_bytes(data[:200_000], cp_isolation=["cp1252", "cp1250", "mac_roman"])
    guess = results.best()
    encoding = guess.encoding if guess is not None else "cp1252"
    # Spreadsheets on Windows write cp1252; a short file fits several code pages about as
    # well, so cp1252 wins unless another fits clearly better.
    for match in results:
        if "cp1252" in match.could_be_from_charset and (
            guess is None or match.chaos <= guess.chaos + 0.1
        ):
            encoding = "cp1252"
            break
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        text, encoding = data.decode("latin-1"), "latin_1"
    if not _looks_like_text(text):
        raise FileRefused(
            "This is not a text file (it holds binary data). Upload a CSV or an XLSX file."
        )
    return text, {"cp1252": "Windows-1252"}.get(encoding, encoding)


def _looks_like_text(text: str) -> bool:
    sample = text[:4096]
    if not sample:
        return False
    controls = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\r\n\t")
    return controls <= len(sample) // 100


def _read_csv(text: str, encoding: str) -> Table:
    if not _looks_like_text(text):
        raise FileRefused(
            "This is not a text file (it holds binary data). Upload a CSV or an XLSX file."
        )
    delimiter = sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader, None)
    except csv.Error as e:
        raise FileRefused(f"The header row cannot be read as CSV ({e}).") from None
    table = _start_table(header)
    table.encoding, table.delimiter = encoding, delimiter
    width = len(table.headers)
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if len(table.rows) >= MAX_ROWS:
                raise FileRefused(f"The file has more than {MAX_ROWS:,} rows; split it.")
            if len(row) > width and any(c.strip() for c in row[width:]):
                table.long_rows.add(len(table.rows))
            table.rows.append(row[:width] + [""] * (width - len(row)))
    except csv.Error as e:
        raise FileRefused(f"Row {reader.line_num} cannot be read as CSV ({e}).") from None
    _require_rows(table)
    return table


def sniff_delimiter(text: str) -> str:
    """Comma, semicolon or tab: what the first lines are split by most consistently."""
    sample = text[:20_000]
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t").delimiter
    except csv.Error:
        first = sample.splitlines()[0] if sample.splitlines() else ""
        counts = {d: first.count(d) for d in (",", ";", "\t")}
        best = max(counts, key=counts.get)
        return best if counts[best] else ","


def _start_table(header) -> Table:
    if header is None:
        raise FileRefused("The file is empty; export the sheet again with its header row.")
    if len(header) > MAX_COLUMNS:
        raise FileRefused(
            f"The file has {len(header):,} columns; at most {MAX_COLUMNS} can be imported. "
            "Remove the columns you do not need."
        )
    headers = [str(h if h is not None else "").strip() for h in header]
    while headers and not headers[-1]:
        headers.pop()
    if not any(headers):
        raise FileRefused("The first row must name the columns; it is empty.")
    seen = set()
    for i, h in enumerate(headers):
        name = h or f"Column {i + 1}"
        while name.lower() in seen:
            name += " (2)"
        seen.add(name.lower())
        headers[i] = name
    return Table(headers=headers, rows=[])


def _require_rows(table: Table) -> None:
    if not table.rows:
        raise FileRefused("The file has a header row but no data rows.")


def _read_xlsx(data: bytes) -> Table:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError) as e:
        raise FileRefused(
            "This is a ZIP archive but not an Excel workbook (.xlsx). Upload a CSV or an "
            f"XLSX file. ({type(e).__name__})"
        ) from None
    try:
        sheet = book.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        table = _start_table(next(rows, None))
        table.encoding = "XLSX"
        width = len(table.headers)
        for row in rows:
            cells = ["" if c is None else c for c in row]
            if not any(str(c).strip() for c in cells):
                continue
            if len(table.rows) >= MAX_ROWS:
                raise FileRefused(f"The sheet has more than {MAX_ROWS:,} rows; split it.")
            if len(cells) > width and any(str(c).strip() for c in cells[width:]):
                table.long_rows.add(len(table.rows))
            table.rows.append(cells[:width] + [""] * (width - len(cells)))
    finally:
        book.close()
    _require_rows(table)
    return table


# --- cells -----------------------------------------------------------------------------------


def text(value) -> str:
    """A text cell as stored: trimmed, with the protective ``'`` of our own exports removed
    (``'+1 555 0100`` → ``+1 555 0100``). A formula in a text column stays text."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return unprotect_cell(str(value).strip()).strip()


def _refuse_formula(raw: str, what: str) -> None:
    if raw.startswith("="):
        raise CellError(f"A formula is not {what}; put the value itself in the cell.")


_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ][\d:.]+(?:Z|[+-]\d{2}:?\d{2})?)?")
_SLASHED = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(?: [\d:.]+(?: ?[AaPp][Mm])?)?")


def date_parts(value: str) -> tuple[int, int] | None:
    """The first two numbers of a slashed date (to detect M/D or D/M), else None."""
    m = _SLASHED.fullmatch(value.strip())
    return (int(m.group(1)), int(m.group(2))) if m else None


def detect_date_order(values) -> str:
    """``mdy`` or ``dmy`` when the slashed dates of a column decide it, ``ymd`` when every
    date is ISO, else "" (ambiguous: the user is asked)."""
    mdy = dmy = slashed = False
    for value in values:
        parts = date_parts(str(value))
        if parts is None:
            continue
        slashed = True
        if parts[0] > 12:
            dmy = True
        if parts[1] > 12:
            mdy = True
    if not slashed:
        return "ymd"
    if mdy and not dmy:
        return "mdy"
    if dmy and not mdy:
        return "dmy"
    return ""


def parse_date(value, order: str = "") -> dt.date | None:
    """A business date from an ISO, M/D/YYYY or D/M/YYYY text (``order`` says which of the
    last two) or an Excel date; empty gives None."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        day = value.date()
    elif isinstance(value, dt.date):
        day = value
    elif isinstance(value, int | float):
        raise CellError("Enter a date such as 2024-03-31, not a number.")
    else:
        raw = unprotect_cell(str(value).strip())
        if not raw:
            return None
        _refuse_formula(raw, "a date")
        try:
            if m := _ISO.fullmatch(raw):
                day = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            elif m := _SLASHED.fullmatch(raw):
                a, b, year = int(m.group(1)), int(m.group(2)), int(m.group(3))
                if order not in ("mdy", "dmy"):
                    if a > 12:
                        order = "dmy"
                    elif b > 12:
                        order = "mdy"
                    else:
                        raise CellError(
                            f"“{raw}” could be day/month or month/day; choose how the file "
                            "writes dates on the mapping step."
                        )
                month, day_ = (a, b) if order == "mdy" else (b, a)
                day = dt.date(year, month, day_)
            else:
                raise CellError(f"“{raw}” is not a date; write it as 2024-03-31 or 3/31/2024.")
        except CellError:
            raise
        except ValueError:
            raise CellError(f"“{raw}” is not a date of the calendar.") from None
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        raise CellError(DATE_RANGE_MESSAGE)
    return day


_CURRENCY = re.compile(r"(?i)[\s\u00a0\u202f]|[$€£¥₹]|\b(?:usd|eur|gbp|chf|jpy|cad|aud)\b")


def parse_money(value) -> Decimal | None:
    """An amount from ``$1,234.56``, ``1.234,56 €``, ``1 234,56`` or ``1234``; empty gives
    None. Negative, non-finite and scientific amounts are refused; the limits of a deal's
    amount are checked by :func:`check_amount`."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise CellError("Enter an amount such as 1234.56.")
    if isinstance(value, int):
        return check_amount(Decimal(value))
    if isinstance(value, float):
        return check_amount(Decimal(repr(value)))
    raw = unprotect_cell(str(value).strip())
    if not raw:
        return None
    _refuse_formula(raw, "an amount")
    s = _CURRENCY.sub("", raw)
    if s.startswith("(") and s.endswith(")") or s.startswith("-") or s.endswith("-"):
        raise CellError("The amount cannot be negative.")
    if not re.fullmatch(r"[\d.,']+", s) or not re.search(r"\d", s):
        raise CellError(f"“{raw}” is not an amount; write it as 1234.56 or $1,234.56.")
    s = s.replace("'", "")
    if "," in s and "." in s:
        decimal_sep = "," if s.rfind(",") > s.rfind(".") else "."
    elif "," in s:
        decimal_sep = "" if re.fullmatch(r"\d{1,3}(,\d{3})+", s) else ","
    elif "." in s:
        decimal_sep = "" if re.fullmatch(r"\d{1,3}(\.\d{3}){2,}", s) else "."
    else:
        decimal_sep = ""
    thousands = {",": ".", ".": ",", "": ",."}[decimal_sep]
    for sep in thousands:
        s = s.replace(sep, "")
    if decimal_sep:
        s = s.replace(decimal_sep, ".")
    try:
        amount = Decimal(s)
    except InvalidOperation:
        raise CellError(f"“{raw}” is not an amount; write it as 1234.56.") from None
    return check_amount(amount)


def check_amount(amount: Decimal) -> Decimal:
    """The limits of a deal's amount, exactly as the services apply them."""
    try:
        return validation.parse_money(amount)
    except ValidationError as e:
        raise CellError(" ".join(e.messages)) from None


def parse_int(value, *, low: int = 0, high: int = 2_000_000_000, what: str = "a whole number"):
    if value is None or value == "":
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    raw = unprotect_cell(str(value).strip())
    if not raw:
        return None
    _refuse_formula(raw, what)
    raw = raw.rstrip("%").strip().replace(",", "")
    if not re.fullmatch(r"\d+", raw):
        raise CellError(f"“{value}” is not {what}.")
    number = int(raw)
    if not low <= number <= high:
        raise CellError(f"{number} is out of range ({low}–{high}).")
    return number


TRUE = {"1", "yes", "y", "true", "x", "✓", "ja", "oui", "si"}
FALSE = {"", "0", "no", "n", "false", "nein", "non"}


def parse_bool(value) -> bool:
    raw = text(value).lower()
    if raw in TRUE:
        return True
    if raw in FALSE:
        return False
    raise CellError(f"“{value}” is not yes or no.")


@lru_cache(maxsize=100_000)
def domain_of(website: str) -> str:
    """``https://www.Acme.com/about`` → ``acme.com`` (the key companies are matched by)."""
    w = website.strip().lower()
    if not w:
        return ""
    w = re.sub(r"^[a-z]+://", "", w)
    w = w.split("/")[0].split("?")[0].split(":")[0]
    if w.startswith("www."):
        w = w[4:]
    return w


__all__ = [
    "FORMULA_PREFIXES",
    "CellError",
    "FileRefused",
    "Table",
    "check_amount",
    "date_parts",
    "decode",
    "detect_date_order",
    "domain_of",
    "parse_bool",
    "parse_date",
    "parse_int",
    "parse_money",
    "read_table",
    "text",
]
