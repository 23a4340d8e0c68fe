"""A report table's rows are written in Python (``Table.body_html`` / ``footers_html``): the
markup the template used to write, with every value escaped."""

from decimal import Decimal

from django.template.loader import render_to_string

from forecasting.reports.tables import Column, Table


def _table(**extra) -> Table:
    return Table(
        key="t",
        caption="Caption",
        columns=[
            Column("name", "Deal"),
            Column("amount", "Amount", "money"),
            Column("note", "Note", "longtext"),
            Column("flags", "Flags", "flags"),
        ],
        rows=[
            {
                "name": "<script>alert(1)</script> & Co",
                "amount": Decimal("1234.5"),
                "note": 'a "quoted" note',
                "flags": ["Rotting", "Idle"],
                "_links": {"name": "/deals/?q=a&b=<c>", "amount": "/x/?kind=won"},
            },
            {"name": "Plain", "amount": None, "note": "", "flags": []},
        ],
        **extra,
    )


def test_body_rows_escape_text_and_links_and_mark_cells():
    html = _table().body_html
    first, second = html.split("</tr>")[:2]
    assert first.startswith('<tr><th scope="row">')
    assert (
        '<a href="/deals/?q=a&amp;b=&lt;c&gt;">&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co</a>'
        in first
    )
    assert '<td class="num"><a href="/x/?kind=won">$1,235</a></td>' in first
    assert '<td class="wrap">a &quot;quoted&quot; note</td>' in first
    assert (
        '<td><span class="badge badge-rotting">Rotting</span>'
        '<span class="badge badge-idle">Idle</span></td>' in first
    )
    assert "<script>" not in html
    # Empty values show the column's dash; an empty flags cell stays empty.
    assert '<td class="num">—</td>' in second
    assert second.endswith("<td></td>")


def test_footer_rows_hold_average_then_total():
    table = _table(
        average={"name": "Per-rep average", "amount": Decimal("10")},
        total={"name": "Total <all>", "amount": Decimal("20")},
    )
    rows = table.footers_html.split("</tr>")[:-1]
    assert len(rows) == 2
    assert rows[0].startswith('<tr><th scope="row">Per-rep average</th><td class="num">$10</td>')
    assert rows[1].startswith('<tr><th scope="row">Total &lt;all&gt;</th>')


def test_table_partial_places_the_rows():
    table = _table(total={"name": "Total", "amount": Decimal("1")})
    html = render_to_string("forecasting/reports/_table.html", {"table": table, "csv": None})
    assert "<tbody>\n      <tr>" in html
    assert "<tfoot><tr>" in html
    assert html.count("<tr>") == 1 + 2 + 1  # the header, two rows, the total
