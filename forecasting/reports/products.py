"""Report 8, products: won revenue, pipeline and win rate by product and by product category,
and deal size by product for the scorecards.

Definitions (money in the reporting currency by :mod:`pipeline.conversion`):

* A deal **sells** a product when it has a line item of it.
* **Won revenue** of a product: the sum of its line totals on deals won in the date range
  (closed date in range), each line converted at the rate of its deal's closed date.
* **Pipeline** of a product: the sum of its line totals on deals open now (whatever the date
  range), converted at today's rates.
* **Win rate**: won ÷ (won + lost) among the deals selling the product that closed in the
  range; a deal selling a product on two lines counts once.
* **Average won deal** (deal size): won revenue ÷ won deals selling the product.
* By **category** the same, grouped by the product's category ("No category" when empty); a
  deal selling two products of one category counts once there.
* Deals without line items form the row "No products" (their amounts), so the won revenue
  and pipeline columns add up to what the other reports show for the same filters.

Each line is converted and rounded on its own, so a deal's lines may add up to a cent more
or less than its converted amount. Aggregates run in SQL: one grouped query per table and
one for the deals without products.
"""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Count, Exists, F, OuterRef, Q, Sum

from forecasting import charts
from forecasting.reports.links import deals_url
from forecasting.reports.scope import NO_CATEGORY, NO_PRODUCT, ReportScope
from forecasting.reports.tables import Column, Report, Table, mean, ratio_pct
from pipeline import conversion
from pipeline.models import LineItem, Stage
from pipeline.templatetags.opportune import pct

WON, LOST, OPEN = Stage.Kind.WON, Stage.Kind.LOST, Stage.Kind.OPEN
ZERO = Decimal("0")

GROUPS = {"product": "Product", "category": "Category"}

COLUMNS = [
    Column("won_amount", "Won revenue", "money"),
    Column("won", "Won", "int"),
    Column("lost", "Lost", "int"),
    Column("win_rate", "Win rate", "pct"),
    Column("avg_won", "Average won deal", "money"),
    Column("open_amount", "Pipeline", "money"),
    Column("open", "Open deals", "int"),
]


def _line_amount(scope: ReportScope):
    """A line total in the reporting currency, by its deal's rule (pipeline.conversion)."""
    return conversion.reporting_amount(
        amount=F("total"),
        currency=F("opportunity__currency"),
        kind=F("opportunity__stage__kind"),
        closed_date=conversion.closed_date("opportunity__"),
        rates=scope.rates(),
        closed_rate=F("opportunity__closed_rate"),
    )


def _conditions(scope: ReportScope, prefix: str):
    closed = Q(
        **{
            f"{prefix}closed_on__gte": scope.start,
            f"{prefix}closed_on__lte": scope.end,
        }
    )
    won = closed & Q(**{f"{prefix}stage__kind": WON})
    lost = closed & Q(**{f"{prefix}stage__kind": LOST})
    open_ = Q(**{f"{prefix}stage__kind": OPEN})
    return won, lost, open_


def _figures(r: dict) -> dict:
    won, lost = r.get("won") or 0, r.get("lost") or 0
    won_amount = r.get("won_amount") or ZERO
    return {
        "won_amount": won_amount,
        "won": won,
        "lost": lost,
        "win_rate": ratio_pct(won, won + lost),
        "avg_won": mean(won_amount, won),
        "open_amount": r.get("open_amount") or ZERO,
        "open": r.get("open") or 0,
    }


def _links(scope: ReportScope, **extra) -> dict:
    won = deals_url(scope, "won", **extra)
    return {
        "won_amount": won,
        "won": won,
        "lost": deals_url(scope, "lost", **extra),
        "open_amount": deals_url(scope, "open", **extra),
        "open": deals_url(scope, "open", **extra),
    }


def _lines(scope: ReportScope, *, won_only: bool = False):
    """The line items of the deals any figure counts: deals open now, and deals closed in the
    range (won ones only when ``won_only``); the others' lines would be read for nothing."""
    if not scope.source:
        # On the lines' own join to their deal, which the sums read the deal's columns
        # through anyway: no second pass over the deals.
        won, lost, open_ = _conditions(scope, "opportunity__")
        lines = scope.of_visible_deals(LineItem.objects.all())
        lines = scope.narrow_by_product(lines, "opportunity__")
        return lines.filter(won if won_only else (won | lost | open_))
    won, lost, open_ = _conditions(scope, "")
    deals = scope.deals().filter(won if won_only else (won | lost | open_))
    return LineItem.objects.filter(opportunity__in=deals.values("pk"))


def _line_aggregates(scope: ReportScope, *, won_only: bool = False) -> dict:
    won, lost, open_ = _conditions(scope, "opportunity__")
    amount = _line_amount(scope)
    if won_only:  # every line read is of a won deal (_lines)
        return {"won_amount": Sum(amount), "won": Count("opportunity", distinct=True)}
    return {
        "won_amount": Sum(amount, filter=won),
        "won": Count("opportunity", distinct=True, filter=won),
        "lost": Count("opportunity", distinct=True, filter=lost),
        "open_amount": Sum(amount, filter=open_),
        "open": Count("opportunity", distinct=True, filter=open_),
    }


def _without_products(scope: ReportScope) -> dict:
    """The deals in scope with no line items, as one row of figures (one query)."""
    won, lost, open_ = _conditions(scope, "")
    amount = scope.amount()
    has_lines = Exists(LineItem.objects.filter(opportunity=OuterRef("pk")))
    return (
        scope.deals()
        .filter(~has_lines)
        .aggregate(
            won_amount=Sum(amount, filter=won),
            won=Count("pk", filter=won),
            lost=Count("pk", filter=lost),
            open_amount=Sum(amount, filter=open_),
            open=Count("pk", filter=open_),
        )
    )


def by_product_rows(scope: ReportScope, *, won_only: bool = False) -> list[dict]:
    """One row per product sold by a deal in scope (figures as in the module docstring),
    largest won revenue first; with ``won_only``, of the deals won in the range alone (their
    won figures are the same, the others are zero)."""
    grouped = (
        _lines(scope, won_only=won_only)
        .values("product", "product__name", "product__code", "product__category")
        .annotate(**_line_aggregates(scope, won_only=won_only))
        .order_by()
    )
    rows = []
    for r in grouped:
        row = {
            "group": r["product__name"],
            "code": r["product__code"],
            "category": r["product__category"] or NO_CATEGORY,
            **_figures(r),
        }
        row["_links"] = _links(scope, product=r["product"])
        rows.append(row)
    rows.sort(key=lambda row: (-row["won_amount"], -row["open_amount"], row["group"]))
    return rows


def by_category_rows(scope: ReportScope) -> list[dict]:
    grouped = (
        _lines(scope).values("product__category").annotate(**_line_aggregates(scope)).order_by()
    )
    rows = []
    for r in grouped:
        row = {"group": r["product__category"] or NO_CATEGORY, **_figures(r)}
        row["_links"] = _links(scope, category=r["product__category"] or NO_CATEGORY)
        rows.append(row)
    rows.sort(key=lambda row: (-row["won_amount"], -row["open_amount"], row["group"]))
    return rows


def _unsold_row(scope: ReportScope) -> dict | None:
    if scope.product is not None and scope.product != NO_PRODUCT:
        return None  # every deal in scope sells the filtered product
    r = _without_products(scope)
    if not (r["won"] or r["lost"] or r["open"]):
        return None
    row = {"group": "No products", "code": "", "category": "", **_figures(r)}
    row["_links"] = _links(scope, product=NO_PRODUCT)
    return row


def products(scope: ReportScope, *, group: str = "product") -> Report:
    """The products report: by product (with code and category) or by category."""
    if group == "category":
        rows = by_category_rows(scope)
        columns = [Column("group", "Category"), *COLUMNS]
    else:
        group = "product"
        rows = by_product_rows(scope)
        columns = [
            Column("group", "Product"),
            Column("code", "Code"),
            Column("category", "Category"),
            *COLUMNS,
        ]
    unsold = _unsold_row(scope)
    if unsold is not None:
        rows.append(unsold)
    table = Table(
        key=f"by_{group}",
        caption=f"Won revenue, pipeline and win rate by {GROUPS[group].lower()}",
        columns=columns,
        rows=rows,
        empty="No deals in this scope. Widen the date range or clear a filter.",
    )
    findings = []
    sold = [r for r in rows if r["group"] != "No products"]
    if sold and sold[0]["won_amount"]:
        top = sold[0]
        findings.append(
            f"{top['group']} brought the most won revenue in the range "
            f"({top['won']} deal{'s' if top['won'] != 1 else ''})."
        )
    rated = [r for r in sold if r["win_rate"] is not None and (r["won"] + r["lost"]) >= 3]
    if len(rated) > 1:
        best = max(rated, key=lambda r: r["win_rate"])
        findings.append(f"{best['group']} has the highest win rate: {pct(best['win_rate'], 1)}.")
    chart = charts.products(rows, group=GROUPS[group].lower())
    return Report(tables=[table], chart=chart, findings=findings)


def deal_size_table(scope: ReportScope) -> Table:
    """The scorecards' "deal size by product": per product, the won deals selling it, their
    revenue from it and the average won deal (the same figures as :func:`products`)."""
    rows = [
        {
            "group": r["group"],
            "won": r["won"],
            "won_amount": r["won_amount"],
            "avg_won": r["avg_won"],
            "_links": {k: v for k, v in r["_links"].items() if k in ("won", "won_amount")},
        }
        for r in by_product_rows(scope, won_only=True)
        if r["won"]
    ]
    rows.sort(key=lambda r: (-(r["avg_won"] or ZERO), r["group"]))
    return Table(
        key="deal_size",
        caption="Deal size by product (won deals in the range)",
        columns=[
            Column("group", "Product"),
            Column("won", "Won deals", "int"),
            Column("won_amount", "Won revenue", "money"),
            Column("avg_won", "Average won deal", "money"),
        ],
        rows=rows,
        empty="No won deal with products in this scope.",
    )
