"""Every chart of the forecast pages and the reports, as the configuration
``static/js/charts.js`` draws (a plain dict rendered with ``json_script``).

A chart is ``{"type": "bar" | "line", "labels": [...], "datasets": [...]}`` plus:

- ``title``: what the chart shows, rendered as the heading above it;
- ``caption``: one sentence in plain words under it (how to read it);
- ``summary``: the text alternative of the picture (the canvas's ``aria-label``): the
  title, each series' lowest and highest value, and where the exact figures are;
- ``axes``: ``{"category": ..., "value": ...}``, the axis titles;
- ``ticks``: shorter labels for the category axis (the full ``labels`` stay in tooltips);
- ``money`` (axis and tooltips as amounts, in ``currency``, the reporting currency),
  ``percent``, ``decimals`` and ``unit`` (how tooltips print plain numbers),
  ``horizontal``, ``stacked``, ``links`` (one URL per label: a click opens the deals behind
  it) and ``options`` (passed through to Chart.js).

A dataset is ``{"label", "data"}`` with an optional ``color``, ``type`` (a line over bars),
``dashed`` and Chart.js keys. Values are floats rounded to the cent (``None`` is a gap); the
tables beside the charts hold the exact figures. Counts and monthly figures are discrete:
they are bars, or lines drawn as steps or straight segments (never smoothed curves).
"""

from __future__ import annotations

from pipeline.currency import reporting_currency

GREEN, BLUE, AMBER, PURPLE, GREY, RED = (
    "#1f8a4c",
    "#3457d5",
    "#d68a00",
    "#8a4fd1",
    "#6b7280",
    "#c0392b",
)
LOSS = "#b42318"
# A time axis with many points (weekly snapshots) shows a few level labels, never tilted.
FEW_LEVEL_TICKS = {"autoSkip": True, "maxRotation": 0, "minRotation": 0, "maxTicksLimit": 8}


def number(value) -> float | None:
    """A chart value: a float rounded to two places, or ``None``."""
    return None if value is None else round(float(value), 2)


def currency() -> str:
    """The symbol of the reporting currency, for money charts (``$``, ``CHF ``)."""
    from pipeline.templatetags.opportune import _symbol

    return _symbol()


def amount_axis() -> str:
    return f"Amount ({reporting_currency()})"


def series(label: str, data, **extra) -> dict:
    return {"label": label, "data": data, **extra}


def chart(
    kind: str,
    labels,
    datasets,
    *,
    title: str,
    caption: str,
    axes: dict,
    money=False,
    links=None,
    where: str = "The table below",
    **options,
) -> dict:
    config = {
        "type": kind,
        "labels": list(labels),
        "datasets": datasets,
        "title": title,
        "caption": caption,
        "axes": axes,
        **options,
    }
    if money:
        config["money"] = True
        config["currency"] = currency()
    if links is not None:
        config["links"] = links
    config["summary"] = describe(config, where=where)
    return config


def money_chart(kind: str, labels, datasets, **options) -> dict:
    """A chart of amounts in the reporting currency."""
    return chart(kind, labels, datasets, money=True, **options)


def month_ticks(labels: list[str]) -> list:
    """``["Jan 2026", "Feb 2026", …]`` → ``[["Jan", "2026"], "Feb", …]``: the month on the
    axis, its year under the first month and under each January."""
    ticks = []
    for i, label in enumerate(labels):
        month, _, year = str(label).partition(" ")
        ticks.append([month, year] if year and (i == 0 or month == "Jan") else month)
    return ticks


# --- the text alternative -------------------------------------------------------------------


def _formatter(config: dict):
    from pipeline.templatetags.opportune import money_short, pct

    if config.get("money"):
        return money_short
    if config.get("percent"):
        return lambda v: pct(v, config.get("decimals", 1))
    unit = f" {config['unit']}" if config.get("unit") else ""
    places = config.get("decimals", 0)
    return lambda v: f"{v:,.{places}f}{unit}"


def _value(v):
    """A dataset value; a floating bar ``[low, high]`` counts as its height."""
    if isinstance(v, list | tuple):
        return None if None in v else v[1] - v[0]
    return v


def describe(config: dict, *, where: str = "The table below") -> str:
    """The chart in words, for screen readers: its title, and for each series the label
    where it is lowest and where it is highest."""
    fmt = _formatter(config)
    labels = config["labels"]
    parts = []
    for ds in config["datasets"]:
        points = [(str(lab), _value(v)) for lab, v in zip(labels, ds["data"], strict=False)]
        points = [(lab, v) for lab, v in points if v is not None]
        if not points:
            continue
        low = min(points, key=lambda p: p[1])
        high = max(points, key=lambda p: p[1])
        if low[1] == high[1]:
            parts.append(f"{ds['label']}: {fmt(low[1])} throughout")
        else:
            parts.append(
                f"{ds['label']}: lowest {fmt(low[1])} ({low[0]}), "
                f"highest {fmt(high[1])} ({high[0]})"
            )
    body = "; ".join(parts) + "." if parts else "No figures to show."
    return f"{config['title']}. {body} {where} has every figure."


# --- forecast pages -------------------------------------------------------------------------


def forecast_months(months: list[dict], year: int) -> dict:
    """The dashboard's year: closed won per month, the weighted forecast of this month and
    the months ahead, against the quota. A finished month shows closed won only: its weighted
    figure is won plus the open deals still dated in it (overdue), not a forecast."""
    return money_chart(
        "bar",
        [f"{m['month']:%b %Y}" for m in months],
        [
            series("Closed won", [number(m["figures"].won) for m in months], color=GREEN),
            series(
                "Weighted forecast",
                [None if m["past"] else number(m["figures"].weighted_forecast) for m in months],
                color=BLUE,
            ),
            series(
                "Quota",
                [number(m["figures"].quota) for m in months],
                type="line",
                color=GREY,
                dashed=True,
                stepped="middle",
                pointRadius=0,
            ),
        ],
        title=f"Forecast vs quota by month, {year}",
        caption=(
            "Green bars are what was won each month, blue bars the weighted forecast of this "
            "month and the months ahead, and the dashed line the quota; finished months show "
            "closed won only."
        ),
        axes={"category": "Month", "value": amount_axis()},
        ticks=[f"{m['month']:%b}" for m in months],
        links=[m["weighted_url"] for m in months],
    )


def forecast_trend(trend: list[dict], quota, period_label: str) -> dict:
    """The period's forecasts in each stored snapshot, with the quota as a flat line. A
    figure holds from one snapshot to the next, so the lines are steps."""
    datasets = [
        series("Closed won", [number(t["won"]) for t in trend], color=GREEN),
        series("Commit", [number(t["commit_forecast"]) for t in trend], color=PURPLE),
        series("Best case", [number(t["best_case_forecast"]) for t in trend], color=AMBER),
        series("Weighted", [number(t["weighted_forecast"]) for t in trend], color=BLUE),
    ]
    for ds in datasets:
        ds["stepped"] = True
    if quota is not None:
        datasets.append(
            series("Quota", [number(quota)] * len(trend), color=GREY, dashed=True, pointRadius=0)
        )
    return money_chart(
        "line",
        [f"{t['taken_on']:%b} {t['taken_on'].day}, {t['taken_on']:%Y}" for t in trend],
        datasets,
        title=f"How {period_label}'s forecast moved",
        caption=(
            f"Each step is one snapshot (weekly and on the 1st of each month) of what was "
            f"already won and forecast for {period_label} on that day"
            f"{', against the quota (dashed)' if quota is not None else ''}."
        ),
        axes={"category": "Snapshot", "value": amount_axis()},
        ticks=[f"{t['taken_on']:%b} {t['taken_on'].day}" for t in trend],
        where="The table under the chart",
        options={"scales": {"x": {"ticks": FEW_LEVEL_TICKS}}},
    )


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


def waterfall(bars: list[dict], *, title: str, start, end) -> dict:
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
        title=title,
        caption=(
            f"The grey bars are the open pipeline on {start:%b} {start.day} and on {end:%b} "
            f"{end.day}; each bar between is one kind of change: green added to it, red and "
            "blue (won) took from it, amber is amounts edited up or down."
        ),
        axes={"category": "Change", "value": amount_axis()},
        links=[b["url"] for b in bars],
        where="The table beside the chart",
        options={"plugins": {"legend": {"display": False}}},
    )


def accuracy(months, cells) -> dict:
    """Each finished month's weighted forecast on its first day beside what was won."""
    labels = [f"{m:%b %Y}" for m in months]
    return money_chart(
        "bar",
        labels,
        [
            series("Weighted forecast on the 1st", [number(c.forecast) for c in cells], color=BLUE),
            series("Actual closed won", [number(c.actual) for c in cells], color=GREEN),
        ],
        title="Forecast on the 1st vs actual",
        caption=(
            "For each finished month, the blue bar is the weighted forecast made on its first "
            "day and the green bar what was actually won: the closer the two, the better the "
            "forecast."
        ),
        axes={"category": "Month", "value": amount_axis()},
        ticks=month_ticks(labels),
        where="The table beside the chart",
    )


def calibration(buckets: list[dict]) -> dict:
    """Closed deals grouped by the probability they carried: how many were actually won."""
    return chart(
        "bar",
        [f"{b['p']:.0f}%" for b in buckets],
        [
            series("Actual win rate", [number(b["rate"]) for b in buckets], color=GREEN),
            series(
                "Probability carried",
                [number(b["p"]) for b in buckets],
                type="line",
                color=GREY,
                dashed=True,
                pointRadius=3,
            ),
        ],
        title="Calibration: stated probability vs actual win rate",
        caption=(
            "Each bar is the share of closed deals that were won among those that carried "
            "that probability; where the forecast is well calibrated, the bar reaches the "
            "dashed line."
        ),
        axes={"category": "Probability the deal carried", "value": "Deals won (%)"},
        percent=True,
        where="The table beside the chart",
        options={"scales": {"y": {"max": 100}}},
    )


# --- reports --------------------------------------------------------------------------------


def funnel(
    steps,
    values,
    links,
    *,
    label: str = "Leads created in the range",
    title: str = "Leads reaching each step",
    caption: str = (
        "How many of the leads created in the range reached each step; the drop between two "
        "bars is where leads fall out."
    ),
    unit: str = "leads",
    category: str = "Step",
) -> dict:
    return chart(
        "bar",
        steps,
        [series(label, values)],
        title=title,
        caption=caption,
        axes={"category": category, "value": unit.capitalize()},
        unit=unit,
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
        title="Conversion, loss and win rate by stage",
        caption=(
            "Of the deals that entered each stage: the share that moved on to a later stage, "
            "the share lost there, and the share of those closed since that were won."
        ),
        axes={"category": "Stage", "value": "Share of deals (%)"},
        percent=True,
    )


def win_rate(rows: list[dict]) -> dict:
    labels = [r["month"] for r in rows]
    return chart(
        "bar",
        labels,
        [series("Win rate", [number(r["win_rate"]) for r in rows])],
        title="Win rate by month closed",
        caption="Of the deals closed each month, the share that was won.",
        axes={"category": "Month closed", "value": "Win rate (%)"},
        ticks=month_ticks(labels),
        percent=True,
    )


def sales_cycle(rows: list[dict]) -> dict:
    labels = [r["month"] for r in rows]
    return chart(
        "bar",
        labels,
        [series("Sales cycle", [number(r["avg_cycle"]) for r in rows], color=PURPLE)],
        title="Average sales cycle by month closed",
        caption="How many days, on average, the deals won each month took from creation to won.",
        axes={"category": "Month closed", "value": "Days"},
        ticks=month_ticks(labels),
        unit="days",
    )


def pipeline_created(rows: list[dict]) -> dict:
    labels = [r["month"] for r in rows]
    return money_chart(
        "bar",
        labels,
        [
            series("Pipeline created", [number(r["created_amount"]) for r in rows]),
            series("Revenue won", [number(r["won_amount"]) for r in rows], color=GREEN),
        ],
        title="Pipeline created and revenue won by month",
        caption=(
            "Blue bars are the amount of the deals created each month, green bars the revenue "
            "won that month (from deals created at any time)."
        ),
        axes={"category": "Month", "value": amount_axis()},
        ticks=month_ticks(labels),
    )


def lost_reasons(reasons: list[dict]) -> dict:
    return chart(
        "bar",
        [r["reason"] for r in reasons],
        [series("Deals lost", [r["lost"] for r in reasons], color=GREY)],
        title="Why deals were lost",
        caption="How many deals lost in the range gave each reason; click a bar for those deals.",
        axes={"category": "Lost reason", "value": "Deals lost"},
        unit="deals",
        horizontal=True,
        links=[r["_links"]["lost"] for r in reasons],
    )


def flagged_by_owner(owner_rows: list[dict]) -> dict:
    return money_chart(
        "bar",
        [r["owner"] for r in owner_rows],
        [series("Flagged amount", [number(r["amount"]) for r in owner_rows], color=RED)],
        title="Flagged open pipeline by owner",
        caption=(
            "The amount of each owner's open deals that are rotting, idle, overdue or slipping; "
            "click a bar for those deals."
        ),
        axes={"category": "Owner", "value": amount_axis()},
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
            series("Quota attainment", [number(r["attainment"]) for r in rows], color=GREEN),
        ],
        title="Win rate and quota attainment by rep",
        caption=(
            "For each rep, the share of their closed deals that were won and how much of their "
            "quota the revenue won covers; click a rep for their scorecard."
        ),
        axes={"category": "Rep", "value": "Percent"},
        percent=True,
        links=[r["_links"]["rep"] for r in rows],
    )


def products(rows: list[dict], *, group: str = "product") -> dict:
    """The products report: won revenue and pipeline per product or category."""
    return money_chart(
        "bar",
        [r["group"] for r in rows],
        [
            series("Won revenue", [number(r["won_amount"]) for r in rows], color=GREEN),
            series("Pipeline", [number(r["open_amount"]) for r in rows], color=BLUE),
        ],
        title=f"Won revenue and open pipeline by {group}",
        caption=(
            f"For each {group}, the revenue won in the range (green) and the amount still open "
            "(blue); click a bar for the deals won."
        ),
        axes={"category": group.capitalize(), "value": amount_axis()},
        horizontal=True,
        stacked=False,
        links=[r["_links"]["won_amount"] for r in rows],
    )


def backtest_brier(months: list[dict], pipeline_name: str) -> dict:
    """The back-test's Brier score per month for each probability source (lower is better)."""
    colors = {"model": PURPLE, "configured": GREY, "empirical": AMBER}
    labels = {"model": "Win model", "configured": "Configured stage %", "empirical": "Empirical"}
    keys = [s["key"] for s in months[0]["sources"]] if months else []
    month_labels = [f"{m['month']:%b %Y}" for m in months]
    return chart(
        "line",
        month_labels,
        [
            series(
                labels[k],
                [_brier(next(s["brier"] for s in m["sources"] if s["key"] == k)) for m in months],
                color=colors[k],
                tension=0,
                pointRadius=3,
            )
            for k in keys
        ],
        title=f"Brier score by month, {pipeline_name} (lower is better)",
        caption=(
            "Each line is one way of giving deals a probability; the lower its point in a "
            "month, the closer its predictions came to what happened (a coin toss scores 0.25)."
        ),
        axes={"category": "Month-start", "value": "Brier score"},
        ticks=month_ticks(month_labels),
        decimals=3,
        # From zero the three lines would sit on top of each other.
        options={"scales": {"y": {"beginAtZero": False}}},
    )


def _brier(value) -> float | None:
    """A Brier score for a chart: four places (two would flatten the differences)."""
    return None if value is None else round(float(value), 4)
