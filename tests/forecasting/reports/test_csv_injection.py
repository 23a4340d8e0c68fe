"""CSV downloads never hand a spreadsheet a formula: a cell that starts with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return is prefixed with ``'`` (OWASP's rule), while numbers
stay numbers."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from pipeline.exports import safe_cell
from tests.factories import OpportunityFactory
from tests.forecasting.reports.helpers import csv_table
from tests.forecasting.reports.world import NOW, travel

HOSTILE = [
    '=HYPERLINK("http://x")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
]


@pytest.mark.parametrize("name", HOSTILE)
def test_safe_cell_prefixes_formula_text(name):
    assert safe_cell(name) == "'" + name


@pytest.mark.parametrize(
    "value",
    [Decimal("-1200.50"), -7, 0, 12, Decimal("10000.00"), "-1200.50", "+5", "-3", "12.5"],
)
def test_safe_cell_keeps_numbers_numeric(value):
    assert safe_cell(value) == value


@pytest.mark.parametrize("value", ["Acme", "", "a=b", "50%", "2026-03-01", "-", "--5", "-1e5"])
def test_safe_cell_leaves_plain_text_or_refuses_lookalikes(value):
    expected = "'" + value if value[:1] in "=+-@\t\r" and value else value
    assert safe_cell(value) == expected


def test_safe_cell_writes_none_as_empty():
    assert safe_cell(None) == ""


@pytest.fixture
def hostile_deals(world):
    with travel(dt.datetime(2026, 2, 1, 12, tzinfo=dt.UTC)):
        for i, name in enumerate(HOSTILE):
            OpportunityFactory(
                owner=world.rep,
                pipeline=world.pipeline,
                name=name,
                amount=Decimal(1000 + i),
                expected_close_date=dt.date(2026, 3, 1),
            )
    return world


def test_report_csv_neutralises_every_formula_prefix(client, hostile_deals):
    world = hostile_deals
    client.force_login(world.manager)
    with travel(NOW):
        export = client.get(
            reverse("forecasting:report_deals"),
            {"start": "2026-01-01", "end": "2026-03-31", "kind": "created", "export": "csv"},
        )
    assert export.status_code == 200
    rows = csv_table(export.content)
    names = {r[0] for r in rows[1:]}
    for name in HOSTILE:
        stored = name.strip()  # the service trims names: a tab or CR prefix leaves "=1+1"
        assert "'" + stored in names
        assert stored not in names
    header = rows[0]
    amount = header.index("Amount")
    # Money stays a plain number (not prefixed, not quoted as text).
    assert all(r[amount][:1].isdigit() for r in rows[1:])


def test_report_csv_keeps_negative_numbers_unprefixed():
    """A negative figure (a pipeline that shrank) is a number, not a formula."""
    from forecasting.reports.export import csv_response
    from forecasting.reports.tables import Column, Table

    table = Table(
        key="t",
        caption="t",
        columns=[Column("who", "Who"), Column("delta", "Change", "money")],
        rows=[
            {"who": "-1200.50", "delta": Decimal("-1200.5")},
            {"who": "=1+1", "delta": 3},
            {"who": "\t@x", "delta": None},
            {"who": "\r-x", "delta": Decimal("0")},
        ],
    )
    rows = csv_table(csv_response(table, filename="t").content)
    assert rows[1] == ["-1200.50", "-1200.50"]
    assert rows[2] == ["'=1+1", "3.00"]
    assert rows[3] == ["'\t@x", ""]
    assert rows[4] == ["'\r-x", "0.00"]
