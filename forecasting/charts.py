"""Every chart of the forecast pages and the reports, as the configuration
``static/js/charts.js`` draws (a plain dict rendered with ``json_script``).

A chart is ``{"type": "bar" | "line", "labels": [...], "datasets": [...]}`` plus options:
``money`` (axis and tooltips as amounts, in ``currency``), ``percent``, ``horizontal``,
``stacked``, ``links`` (one URL per label: a click opens the deals behind it) and
``options`` (passed through to Chart.js). A dataset is ``{"label", "data"}`` with an optional
``color``, ``type`` (a line over bars), ``dashed`` and Chart.js keys. Values are floats
rounded to the cent (``None`` is a gap); the tables beside the charts hold the exact
figures.
"""

from __future__ import annotations

GREEN, BLUE, AMBER, PURPLE, GREY, RED = (
    "#1f8a4c",
    "#3457d5",
    "#d68a00",
    "#8a4fd1",
    "#6b7280",
    "#c0392b",
)
LOSS = "#b42318"


def number(value) -> float | None:
    """A chart value: a float rounded to two places, or ``None``."""
    return None if value is None else round(float(value), 2)


def currency() -> str:
    """The configured currency symbol, for money charts."""
    from pipeline.templatetags.opportune import _symbol

    return _symbol().strip()


def series(label: str, data, **extra) -> dict:
    return {"label": label, "data": data, **extra}


def chart(kind: str, labels, datasets, *, money=False, links=None, **options) -> dict:
    config = {"type": kind, "labels": list(labels), "datasets": datasets, **options}
    if money:
        config["money"] = True
    if links is not None:
        config["links"] = links
    return config


def money_chart(kind: str, labels, datasets, **options) -> dict:
    """A chart of amounts in the configured currency (the forecast pages)."""
    return chart(kind, labels, datasets, money=True, currency=currency(), **options)


# --- forecast pages -------------------------------------------------------------------------


def forecast_months(months: list[dict]) -> dict:
    """The dashboard's year: closed won and weighted forecast per month against quota."""
    return money_chart(
        "bar",
        [f"{m['month']:%b}" for m in months],
        [
            series("Closed won", [number(m["figures"].won) for m in months], color=GREEN),
            series(
                "Weighted forecast",
                [number(m["figures"].weighted_forecast) for m in months],
                color=BLUE,
            ),
            series(
                "Quota",
                [number(m["figures"].quota) for m in months],
                type="line",
                color=GREY,
                dashed=True,
            ),
        ],
        links=[m["weighted_url"] for m in months],
    )


def forecast_trend(trend: list[dict], quota) -> dict:
    """The period's forecasts in each stored snapshot, with the quota as a flat line."""
    datasets = [
        series("Closed won", [number(t["won"]) for t in trend], color=GREEN),
        series("Commit", [number(t["commit_forecast"]) for t in trend], color=PURPLE),
        series("Best case", [number(t["best_case_forecast"]) for t in trend], color=AMBER),
        series("Weighted", [number(t["weighted_forecast"]) for t in trend], color=BLUE),
    ]
    if quota is not None:
        datasets.append(
            series("Quota", [number(quota)] * len(trend), color=GREY, dashed=True, pointRadius=0)
        )
    return money_chart("line", [f"{t['taken_on']:%b} {t['taken_on'].day}" for t in trend], datasets)


WATERFALL_COLORS = {
    "start": GREY,
    "new": GREEN,
    "pulled_in": GREEN,
    "pushed_out": RED,
    "amount_change": AMBER,
    "won": BLUE,
    "lost": RED,
    "end": GREY,
}


def waterfall(bars: list[dict]) -> dict:
    """What changed: each bar floats from its low to its high amount."""
    colors = [WATERFALL_COLORS[b["key"]] for b in bars]
    return money_chart(
        "bar",
        [b["label"] for b in bars],
        [
            series(
                "Open pipeline",
                [[number(b["low"]), number(b["high"])] for b in bars],
                backgroundColor=colors,
                borderColor=colors,
            )
        ],
        links=[b["url"] for b in bars],
        options={"plugins": {"legend": {"display": False}}},
    )


def accuracy(months, cells) -> dict:
    """Each finished month's weighted forecast on its first day beside what was won."""
    return money_chart(
        "bar",
        [f"{m:%b %Y}" for m in months],
        [
            series("Weighted forecast on the 1st", [number(c.forecast) for c in cells], color=BLUE),
            series("Actual closed won", [number(c.actual) for c in cells], color=GREEN),
        ],
    )


# --- reports --------------------------------------------------------------------------------


def funnel(steps, values, links, *, label: str = "Leads created in the range") -> dict:
    return chart(
        "bar",
        steps,
        [series(label, values)],
        horizontal=True,
        links=links,
    )


def stage_conversion(rows: list[dict]) -> dict:
    return chart(
        "bar",
        [r["stage"] for r in rows],
        [
            series("Conversion", [number(r["conversion"]) for r in rows]),
            series("Loss rate", [number(r["loss_rate"]) for r in rows], color=LOSS),
            series("Win rate from here", [number(r["win_rate"]) for r in rows]),
        ],
        percent=True,
    )


def win_rate(rows: list[dict]) -> dict:
    return chart(
        "line",
        [r["month"] for r in rows],
        [series("Win rate", [number(r["win_rate"]) for r in rows])],
        percent=True,
    )


def sales_cycle(rows: list[dict]) -> dict:
    return chart(
        "bar",
        [r["month"] for r in rows],
        [series("Sales cycle (days)", [number(r["avg_cycle"]) for r in rows])],
    )


def pipeline_created(rows: list[dict]) -> dict:
    return chart(
        "bar",
        [r["month"] for r in rows],
        [
            series("Pipeline created", [number(r["created_amount"]) for r in rows]),
            series("Revenue won", [number(r["won_amount"]) for r in rows]),
        ],
        money=True,
    )


def lost_reasons(reasons: list[dict]) -> dict:
    return chart(
        "bar",
        [r["reason"] for r in reasons],
        [series("Deals lost", [r["lost"] for r in reasons])],
        horizontal=True,
        links=[r["_links"]["lost"] for r in reasons],
    )


def flagged_by_owner(owner_rows: list[dict]) -> dict:
    return chart(
        "bar",
        [r["owner"] for r in owner_rows],
        [series("Flagged amount", [number(r["amount"]) for r in owner_rows])],
        money=True,
        horizontal=True,
        stacked=False,
        links=[r["_links"]["amount"] for r in owner_rows],
    )


def scorecards(rows: list[dict]) -> dict:
    return chart(
        "bar",
        [r["rep"] for r in rows],
        [
            series("Win rate", [number(r["win_rate"]) for r in rows]),
            series("Quota attainment", [number(r["attainment"]) for r in rows]),
        ],
        percent=True,
        links=[r["_links"]["rep"] for r in rows],
    )


def products(rows: list[dict]) -> dict:
    """The products report: won revenue and pipeline per product or category."""
    return chart(
        "bar",
        [r["group"] for r in rows],
        [
            series("Won revenue", [number(r["won_amount"]) for r in rows]),
            series("Pipeline", [number(r["open_amount"]) for r in rows]),
        ],
        money=True,
        horizontal=True,
        stacked=False,
        links=[r["_links"]["won_amount"] for r in rows],
    )


def backtest_brier(months: list[dict]) -> dict:
    """The back-test's Brier score per month for each probability source (lower is better)."""
    colors = {"model": PURPLE, "configured": GREY, "empirical": AMBER}
    labels = {"model": "Win model", "configured": "Configured stage %", "empirical": "Empirical"}
    keys = [s["key"] for s in months[0]["sources"]] if months else []
    return chart(
        "line",
        [f"{m['month']:%b %Y}" for m in months],
        [
            series(
                labels[k],
                [_brier(next(s["brier"] for s in m["sources"] if s["key"] == k)) for m in months],
                color=colors[k],
            )
            for k in keys
        ],
    )


def _brier(value) -> float | None:
    """A Brier score for a chart: four places (two would flatten the differences)."""
    return None if value is None else round(float(value), 4)
