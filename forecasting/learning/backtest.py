"""The honest back-test of the three probability sources (DESIGN.md §3).

For each of the finished month-starts ``m`` of the past year: train a model only on what was
known at ``m`` (deals whose first closing came before ``m`` and in the 24 months before it,
with their features at month-starts before ``m``), predict every deal of the pipeline open at
``m`` (features as of ``m``), and compare with what happened:

* per deal, the Brier score and the log loss of each source's probability against the deal's
  outcome, over the deals open at ``m`` that have closed since;
* per month, the period forecast Σ p × amount over the deals open at ``m`` expected to close
  in ``m``'s month, against the amount actually won in that month (closed-won date in it).

Sources: *configured* (the deal's override, else the stage's configured percentage), *empirical*
(the override, else the stage's trailing win rate as of ``m``, see
:func:`forecasting.winrates.stage_win_counts`, falling back to the configured percentage) and
*model* (the override, else the model trained at ``m``; the configured percentage in a month
whose history was too short to train one). "Model" may become a pipeline's source only while
it beats *configured* on both the mean Brier score (by more than the noise: two standard errors
of the paired per-deal difference) and the mean absolute error of the period forecasts
(:func:`model_beats_configured`).
"""

from __future__ import annotations

import calendar
import datetime as dt
from decimal import Decimal

import numpy as np
from django.db.models import Sum
from django.db.models.functions import TruncMonth

from forecasting.learning import model as learn
from forecasting.learning.features import Frame
from forecasting.periods import add_months, start_of_day
from forecasting.winrates import EMPIRICAL_MIN_CLOSED, stage_win_counts
from pipeline import conversion
from pipeline.models import Opportunity, Stage

TRAINING_DAYS = 730
MIN_CLOSED_DEALS = 50
MIN_EACH_OUTCOME = 10
SOURCES = ("model", "configured", "empirical")
SIGNIFICANT_Z = 2.0


def training_set(frame: Frame, *, cutoff: dt.datetime) -> tuple[Frame, np.ndarray, int, int]:
    """Rows known at ``cutoff``: deals first closed in the 24 months before it, at as-of
    dates before it. Returns (rows, labels, closed deals, won deals)."""
    at, won = frame.closing_arrays()
    ts = cutoff.timestamp()
    before = frame.columns["on"] < cutoff.date().toordinal()
    mask = (at < ts) & (at >= ts - TRAINING_DAYS * 86400) & before
    rows = frame.take(mask)
    labels = won[mask]
    deals = rows.columns["deal"]
    closed = len(np.unique(deals))
    won_deals = len(np.unique(deals[labels == 1]))
    return rows, labels, closed, won_deals


def enough_history(closed: int, won: int) -> bool:
    return (
        closed >= MIN_CLOSED_DEALS and won >= MIN_EACH_OUTCOME and closed - won >= MIN_EACH_OUTCOME
    )


def _with_override(frame: Frame, p: np.ndarray) -> np.ndarray:
    override = frame.columns["override"]
    return np.where(override >= 0, override / 100.0, p)


def _empirical(frame: Frame, *, on: dt.date, pipeline_id: int) -> np.ndarray:
    counts = stage_win_counts(on=on, pipeline_ids=[pipeline_id])
    configured = dict(
        Stage.objects.filter(pipeline_id=pipeline_id).values_list("pk", "probability")
    )
    rates = {pk: c.won / c.closed for pk, c in counts.items() if c.closed >= EMPIRICAL_MIN_CLOSED}
    stage = frame.columns["stage"].astype(int)
    base = np.array([rates.get(s, configured.get(s, 0) / 100.0) for s in stage])
    return _with_override(frame, base)


def actual_won(pipeline_id: int, months: list[dt.date]) -> dict[dt.date, Decimal]:
    """Amount won per month (closed-won date in it), one grouped query."""
    if not months:
        return {}
    rows = (
        Opportunity.objects.filter(
            pipeline_id=pipeline_id,
            stage__kind=Stage.Kind.WON,
            closed_on__gte=months[0],
            closed_on__lt=add_months(months[-1], 1),
        )
        .annotate(m=TruncMonth("closed_on"))
        .values("m")
        .annotate(total=Sum(conversion.closed_amount()))  # reporting currency
        .order_by()
    )
    out = {}
    for r in rows:
        m = r["m"].date() if isinstance(r["m"], dt.datetime) else r["m"]
        out[m] = r["total"] or Decimal(0)
    return out


def run(frame: Frame, *, pipeline_id: int, months: list[dt.date], now: dt.datetime) -> dict:
    """The back-test over ``months`` (month-starts), from a frame that holds every deal open
    at each of them (as-of the day before) and the month-starts of the 24 months before."""
    actual = actual_won(pipeline_id, months)
    closing_at, won = frame.closing_arrays()
    now_ts = now.timestamp()
    rows_out = []
    pooled = {s: ([], []) for s in SOURCES}  # (outcomes, probabilities)
    for m in months:
        cutoff = start_of_day(m)
        on = m - dt.timedelta(days=1)
        test_mask = frame.columns["on"] == on.toordinal()
        test = frame.take(test_mask)
        train, labels, closed, won_deals = training_set(frame, cutoff=cutoff)
        configured = test.columns["prob"] / 100.0
        trained = enough_history(closed, won_deals) and len(test) > 0
        if trained:
            fitted = learn.fit(train, labels)
            model_p = _with_override(test, learn.predict(fitted["params"], test))
        else:
            model_p = configured
        probs = {
            "model": model_p,
            "configured": configured,
            "empirical": _empirical(test, on=on, pipeline_id=pipeline_id)
            if len(test)
            else configured,
        }
        known = closing_at[test_mask] < now_ts
        y = won[test_mask][known]
        days = test.columns["days_to_close"]
        in_month = (days >= 0) & (days < calendar.monthrange(m.year, m.month)[1])
        amount = test.columns["amount"]
        row = {
            "month": m.isoformat(),
            "open": int(len(test)),
            "scored": int(known.sum()),
            "model_trained": bool(trained),
            "training_deals": int(closed),
            "actual": float(actual.get(m, Decimal(0))),
        }
        for source, p in probs.items():
            s = learn.scores(y, p[known])
            row[source] = {
                "brier": s["brier"],
                "log_loss": s["log_loss"],
                "forecast": float(np.sum(p[in_month] * amount[in_month])),
            }
            pooled[source][0].append(y)
            pooled[source][1].append(p[known])
        rows_out.append(row)
    return {"months": rows_out, "summary": summarise(rows_out, pooled)}


def summarise(rows: list[dict], pooled: dict) -> dict:
    summary = {}
    for source in SOURCES:
        ys, ps = pooled[source]
        y = np.concatenate(ys) if ys else np.zeros(0)
        p = np.concatenate(ps) if ps else np.zeros(0)
        s = learn.scores(y, p)
        errors = [abs(r[source]["forecast"] - r["actual"]) for r in rows]
        pct = [abs(r[source]["forecast"] - r["actual"]) / r["actual"] for r in rows if r["actual"]]
        summary[source] = {
            "brier": s["brier"],
            "log_loss": s["log_loss"],
            "deals": s["n"],
            "mae": float(np.mean(errors)) if errors else None,
            "mape": float(np.mean(pct) * 100) if pct else None,
        }
    summary["months_modelled"] = sum(1 for r in rows if r["model_trained"])
    summary["brier_gain_z"] = brier_gain_z(pooled)
    summary["model_beats_configured"] = model_beats_configured(summary)
    return summary


def brier_gain_z(pooled: dict) -> float | None:
    """How many standard errors the model's per-deal Brier score lies below the configured
    percentages' (paired over the same deals): a gain within the noise is no gain."""
    ys, model_ps = pooled["model"]
    _, configured_ps = pooled["configured"]
    if not ys:
        return None
    y = np.concatenate(ys)
    if len(y) < 2:
        return None
    gain = (np.concatenate(configured_ps) - y) ** 2 - (np.concatenate(model_ps) - y) ** 2
    se = float(np.std(gain, ddof=1) / np.sqrt(len(gain)))
    mean = float(np.mean(gain))
    if se == 0:
        return None if mean == 0 else (1e9 if mean > 0 else -1e9)
    return mean / se


def model_beats_configured(summary: dict) -> bool:
    """The mean Brier score lower than the configured percentages' by at least
    ``SIGNIFICANT_Z`` standard errors, and the mean absolute error of the period forecasts
    lower too, with a model trained in at least one month."""
    model, configured = summary.get("model") or {}, summary.get("configured") or {}
    needed = (model.get("brier"), configured.get("brier"), model.get("mae"), configured.get("mae"))
    if not summary.get("months_modelled") or any(v is None for v in needed):
        return False
    z = summary.get("brier_gain_z")
    return (
        model["brier"] < configured["brier"]
        and z is not None
        and z >= SIGNIFICANT_Z
        and model["mae"] < configured["mae"]
    )
