"""Reading a report table back out of a page, to compare it with the CSV export."""

import csv
import io
from html.parser import HTMLParser


class _TableParser(HTMLParser):
    def __init__(self, key):
        super().__init__()
        self.key = key
        self.depth = 0  # > 0 while inside the wanted table
        self.rows: list[list[str]] = []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and attrs.get("data-table") == self.key:
            self.depth = 1
        elif self.depth and tag == "tr":
            self.rows.append([])
        elif self.depth and tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag):
        if self.depth and tag in ("td", "th") and self.cell is not None:
            # The sort arrows are decoration (aria-hidden), not part of the label.
            text = "".join(self.cell).replace("▼", "").replace("▲", "")
            self.rows[-1].append(" ".join(text.split()))
            self.cell = None
        elif self.depth and tag == "table":
            self.depth = 0

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


def html_table(content: bytes, key: str) -> list[list[str]]:
    parser = _TableParser(key)
    parser.feed(content.decode())
    return parser.rows


def csv_table(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode())))


def normalise_html(cell: str) -> str:
    """``$10,000`` → ``10000``, ``50.0%`` → ``50.0``, ``—`` → empty, and a deal's "No
    company" → empty (what an empty value reads as on the page; the CSV leaves it empty)."""
    cell = cell.replace("$", "").replace(",", "").replace("%", "").strip()
    return "" if cell in ("—", "No company") else cell


def same_value(html_cell: str, csv_cell: str) -> bool:
    """The page rounds money to whole units; the CSV keeps cents."""
    h = normalise_html(html_cell)
    if h == csv_cell:
        return True
    import datetime as dt

    try:  # the page's date style ("Mar 15, 2026"), the CSV's ISO date
        return dt.datetime.strptime(html_cell.strip(), "%b %d, %Y").date().isoformat() == csv_cell
    except ValueError:
        pass
    try:
        from decimal import ROUND_HALF_UP, Decimal

        c = Decimal(csv_cell)
        return Decimal(h) == c.quantize(Decimal(1) if "." not in h else c, ROUND_HALF_UP)
    except Exception:
        return h == csv_cell.replace("; ", "")
