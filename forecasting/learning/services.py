"""The nightly training (a write): for each active pipeline, learn a model from the trailing
24 months, back-test the three probability sources over the past year, store both on a
:class:`~forecasting.models.WinModel` row, and hand the open deals' scores and explanations to
the pipeline layer (:func:`pipeline.services.replace_scores`), which the board and the deal page
read. A pipeline with too little history gets an "insufficient" row and no scores."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from forecasting.learning import backtest, features
from forecasting.learning import model as learn
from forecasting.models import WinModel
from forecasting.periods import add_months, finished_months, month_start, month_starts, today
from pipeline import services as pipeline_services
from pipeline.models import Pipeline, Stage

HISTORY_MONTHS = 24
BACKTEST_MONTHS = 12


def history_dates(on: dt.date, months: int) -> list[dt.date]:
    """The as-of dates of the month-starts of the ``months`` months up to ``on`` (each the
    day before its month-start, whose end is the month-start's midnight)."""
    first = add_months(month_start(on), -months)
    return [m - dt.timedelta(days=1) for m in month_starts(first, month_start(on))]


def stage_names(pipeline_id: int) -> dict[int, str]:
    return dict(Stage.objects.filter(pipeline_id=pipeline_id).values_list("pk", "name"))


def fit_current(frame: features.Frame, *, now: dt.datetime) -> tuple[dict | None, dict]:
    """The model of what is known ``now`` (or None with too little history) and its counts."""
    rows, labels, closed, won = backtest.training_set(frame, cutoff=now)
    counts = {"closed": closed, "won": won, "samples": len(rows)}
    if not backtest.enough_history(closed, won):
        return None, counts
    return learn.fit(rows, labels), counts


def score_open(*, pipeline_id: int, params: dict | None, trained_at, now) -> int:
    """Score every open deal of the pipeline as of now and store the scores (none without a
    model, which clears the pipeline's scores)."""
    rows = []
    if params is not None:
        live = features.frame(pipeline_id=pipeline_id, dates=[today()], closings=False)
        names = stage_names(pipeline_id)
        for deal, (p, base, factors) in zip(
            live.columns["deal"], learn.explain(params, live, names), strict=True
        ):
            rows.append(
                {
                    "opportunity_id": int(deal),
                    "probability_exact": p * 100.0,
                    "base_probability": base * 100.0,
                    "factors": factors,
                }
            )
    return pipeline_services.replace_scores(
        pipeline_id=pipeline_id, trained_at=trained_at, scored_at=now, rows=rows
    )


def train_pipeline(*, pipeline: Pipeline, with_backtest: bool = True) -> WinModel:
    """Train, back-test and score one pipeline; returns the stored model row."""
    now = timezone.now()
    on = today()
    months = HISTORY_MONTHS + (BACKTEST_MONTHS if with_backtest else 0)
    frame = features.frame(pipeline_id=pipeline.pk, dates=history_dates(on, months))
    fitted, counts = fit_current(frame, now=now)
    result = {}
    if fitted is not None and with_backtest:
        result = backtest.run(
            frame, pipeline_id=pipeline.pk, months=finished_months(BACKTEST_MONTHS, on), now=now
        )
    with transaction.atomic():
        row = WinModel.objects.create(
            pipeline=pipeline,
            trained_at=now,
            trained_on=on,
            status=WinModel.Status.TRAINED if fitted else WinModel.Status.INSUFFICIENT,
            closed_deals=counts["closed"],
            samples=counts["samples"],
            params=fitted["params"] if fitted else {},
            validation=fitted["validation"] if fitted else {"won": counts["won"]},
            backtest=result,
        )
        beats = bool((result.get("summary") or {}).get("model_beats_configured"))
        pipeline_services.set_model_eligibility(pipeline_id=pipeline.pk, eligible=beats)
        score_open(
            pipeline_id=pipeline.pk,
            params=fitted["params"] if fitted else None,
            trained_at=now,
            now=now,
        )
    return row


def train_all(*, with_backtest: bool = True) -> dict[str, str]:
    """The nightly job: every active pipeline, each in its own transaction."""
    out = {}
    for pipeline in Pipeline.objects.filter(is_active=True):
        row = train_pipeline(pipeline=pipeline, with_backtest=with_backtest)
        out[pipeline.name] = row.status
    return out
