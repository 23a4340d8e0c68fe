"""A report's table: its columns, rows and total, rendered as HTML and exported as CSV from
the same object, so the CSV always holds exactly the table shown.

Rows are plain dicts of raw values (``Decimal`` money, ``int`` counts, percentages as
numbers 0–100, ``float`` days); a row may carry ``_links`` (column key → URL of the deals
behind that number) and ``_flags`` (badge words for the row). Formatting uses the project's
one money/percent helpers (``pipeline.templatetags.opportune``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.utils import timezone
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

from pipeline.templatetags.opportune import money, money_short, pct


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: str = (
        "text"  # text | longtext | int | num | money | pct | days | date | month | rate | flags
    )
    help: str = ""
    # What the page shows for an empty value (the CSV leaves it empty).
    empty: str = "—"

    @property
    def numeric(self) -> bool:
        return self.kind not in ("text", "longtext", "date", "month", "flags")


def format_value(value, kind: str) -> str:
    if kind == "flags":
        return ", ".join(value or ())
    if value is None or value == "":
        return "—"
    if kind == "money":
        return money(value)
    if kind == "money_short":
        return money_short(value)
    if kind == "pct":
        return pct(value, 1)
    if kind in ("days", "whole_days"):
        # Whole days, as people count them, an average too ("126 days", not "125.7"); the
        # CSV keeps an average's tenth.
        return f"{Decimal(str(value)).quantize(Decimal(1), rounding=ROUND_HALF_UP):,}"
    if kind == "int":
        return f"{int(value):,}"
    if kind == "num":  # a count, or a per-rep average of counts
        d = Decimal(str(value))
        if d == d.to_integral_value():
            return f"{int(d):,}"
        return f"{d.quantize(Decimal('0.1'), rounding=ROUND_HALF_UP):,}"
    if kind == "rate":  # money per day
        return money(value)
    if kind == "month" and isinstance(value, dt.date):
        return value.strftime("%b %Y")
    if kind == "date" and isinstance(value, dt.date):
        return f"{value:%b} {value.day}, {value.year}"  # the app's one date style
    return str(value)


def csv_value(value, kind: str) -> str:
    """Raw values for spreadsheets: plain decimals, ISO dates, percentages to 0.1."""
    if value is None:
        return ""
    if kind == "flags":
        return "; ".join(value)
    if kind in ("money", "rate"):
        return str(Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
    if kind == "num":
        d = Decimal(str(value))
        if d == d.to_integral_value():
            return str(int(d))
        return str(d.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))
    if kind in ("pct", "days"):
        return str(Decimal(str(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))
    if kind == "whole_days":
        return str(Decimal(str(value)).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if kind == "month" and isinstance(value, dt.date):
        return value.strftime("%Y-%m")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


@dataclass(frozen=True)
class Cell:
    text: str
    url: str | None
    numeric: bool
    column: Column
    badges: tuple = ()


@dataclass
class Table:
    key: str
    caption: str
    columns: list[Column]
    rows: list[dict] = field(default_factory=list)
    total: dict | None = None
    # A per-row average shown above the total (the scorecards' per-rep average).
    average: dict | None = None
    empty: str = "Nothing matches these filters. Widen the date range or clear a filter."
    sort_urls: dict = field(default_factory=dict)  # column key -> URL sorting by it
    sorted_by: str = ""  # "key" ascending or "-key" descending

    @property
    def header(self) -> list[tuple[Column, str | None, str | None]]:
        """(column, sort URL, aria-sort value) for each column."""
        out = []
        key, desc = self.sorted_by.lstrip("-"), self.sorted_by.startswith("-")
        for c in self.columns:
            aria = None
            if c.key == key:
                aria = "descending" if desc else "ascending"
            out.append((c, self.sort_urls.get(c.key), aria))
        return out

    def _cells(self, row: dict) -> list[Cell]:
        links = row.get("_links", {})
        return [
            Cell(
                format_value(row.get(c.key), c.kind)
                if row.get(c.key) not in (None, "") or c.kind == "flags"
                else c.empty,
                links.get(c.key),
                c.numeric,
                c,
                tuple(row.get(c.key) or ()) if c.kind == "flags" else (),
            )
            for c in self.columns
        ]

    @property
    def body(self) -> list[list[Cell]]:
        return [self._cells(r) for r in self.rows]

    @property
    def footer(self) -> list[Cell] | None:
        return self._cells(self.total) if self.total is not None else None

    @property
    def footers(self) -> list[list[Cell]]:
        """The rows under the body: the average (if any), then the total (if any)."""
        return [self._cells(r) for r in (self.average, self.total) if r is not None]

    # The rows' markup, written here rather than by template loops: a report's tables are
    # most of its page, and Django's template engine spent a few milliseconds per table
    # resolving each cell's attributes. ``_table.html`` places it.
    @property
    def body_html(self) -> SafeString:
        """The ``<tbody>`` rows: the first cell of each a row header, numbers right-aligned
        (``num``), long text wrapping, badges for flags and a link where a cell has one."""
        out = []
        for row in self.body:
            parts = ["<tr>"]
            for i, cell in enumerate(row):
                if i == 0:
                    parts.append(
                        '<th scope="row" class="num">' if cell.numeric else '<th scope="row">'
                    )
                elif cell.numeric:
                    parts.append('<td class="num">')
                elif cell.column.kind == "longtext":
                    parts.append('<td class="wrap">')
                else:
                    parts.append("<td>")
                if cell.badges:
                    parts.extend(
                        f'<span class="badge badge-{conditional_escape(str(b).lower())}">'
                        f"{conditional_escape(b)}</span>"
                        for b in cell.badges
                    )
                else:
                    parts.append(_cell_text(cell))
                parts.append("</th>" if i == 0 else "</td>")
            parts.append("</tr>\n      ")
            out.append("".join(parts))
        return mark_safe("".join(out))  # nosec B308 B703: every value above is escaped

    @property
    def footers_html(self) -> SafeString:
        """The ``<tfoot>`` rows (:attr:`footers`)."""
        out = []
        for footer in self.footers:
            parts = ["<tr>"]
            for i, cell in enumerate(footer):
                if i == 0:
                    parts.append('<th scope="row">')
                else:
                    parts.append('<td class="num">' if cell.numeric else "<td>")
                parts.append(_cell_text(cell))
                parts.append("</th>" if i == 0 else "</td>")
            parts.append("</tr>")
            out.append("".join(parts))
        return mark_safe("".join(out))  # nosec B308 B703: every value above is escaped

    def csv_rows(self) -> list[list[str]]:
        out = [[c.label for c in self.columns]]
        for row in [*self.rows, *(r for r in (self.average, self.total) if r is not None)]:
            out.append([csv_value(row.get(c.key), c.kind) for c in self.columns])
        return out


def _cell_text(cell: Cell) -> str:
    text = conditional_escape(cell.text)
    if cell.url:
        return f'<a href="{conditional_escape(cell.url)}">{text}</a>'
    return text


def ratio_pct(part, whole) -> Decimal | None:
    """``part / whole`` as a percentage (0–100, Decimal), ``None`` when ``whole`` is 0."""
    if not whole:
        return None
    return Decimal(part) * 100 / Decimal(whole)


def mean(total, count) -> Decimal | None:
    if not count:
        return None
    return Decimal(str(total)) / Decimal(count)


# --- row shaping shared by the reports ------------------------------------------------------

OWNER_LABEL_FIELDS = ("owner__first_name", "owner__last_name", "owner__username")


def owner_label(row: dict) -> str:
    """The owner's name of a ``values()`` row holding :data:`OWNER_LABEL_FIELDS`: first and
    last name, or the username when both are empty."""
    first, last, username = (row[f] for f in OWNER_LABEL_FIELDS)
    return f"{first} {last}".strip() or username


def to_date(value) -> dt.date | None:
    """A truncated month or a timestamp from the database as a local date."""
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return value


@dataclass
class Report:
    """What a report page renders: tables (the first is the main one), a chart config from
    :mod:`forecasting.charts` and short findings (sentences answering the page's question)."""

    tables: list[Table]
    chart: dict | None = None
    findings: list[str] = field(default_factory=list)
    extra: dict = field(default_factory=dict)

    @property
    def table(self) -> Table:
        return self.tables[0]

    def get_table(self, key: str | None) -> Table | None:
        if not key:
            return self.table
        return next((t for t in self.tables if t.key == key), None)
