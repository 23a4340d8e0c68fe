"""Reads of the win-probability models for the pages: each pipeline's latest model row with
its back-test, shaped for the accuracy page's table and chart."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db import connection

from forecasting.learning.backtest import MIN_CLOSED_DEALS, MIN_EACH_OUTCOME, SOURCES
from forecasting.models import WinModel
from pipeline.models import Pipeline

SOURCE_LABELS = {
    "model": "Win model",
    "configured": "Configured stage %",
    "empirical": "Empirical stage rates",
}


@dataclass
class PipelineModel:
    pipeline: Pipeline
    model: WinModel | None
    months: list[dict] = field(default_factory=list)
    summary: list[dict] = field(default_factory=list)

    @property
    def beats_configured(self) -> bool:
        return bool(
            self.model and (self.model.backtest.get("summary") or {}).get("model_beats_configured")
        )

    @property
    def won_deals(self) -> int | None:
        return self.model.validation.get("won") if self.model else None


def latest_models(pipelines) -> dict[int, WinModel]:
    """Each pipeline's latest model row (one query)."""
    rows = WinModel.objects.filter(pipeline__in=list(pipelines)).order_by(
        "pipeline_id", "-trained_at", "-id"
    )
    if connection.vendor == "postgresql":
        return {row.pipeline_id: row for row in rows.distinct("pipeline_id")}
    # SQLite has no DISTINCT ON: the first row of each pipeline, in the same order.
    latest: dict[int, WinModel] = {}
    for row in rows:
        latest.setdefault(row.pipeline_id, row)
    return latest


def _month_rows(backtest: dict) -> list[dict]:
    out = []
    for r in backtest.get("months", []):
        row = {
            "month": dt.date.fromisoformat(r["month"]),
            "open": r["open"],
            "scored": r["scored"],
            "model_trained": r["model_trained"],
            "actual": r["actual"],
            "sources": [],
        }
        for s in SOURCES:
            forecast = r[s]["forecast"]
            error = 100 * (forecast - r["actual"]) / r["actual"] if r["actual"] else None
            row["sources"].append({"key": s, **r[s], "error": error})
        out.append(row)
    return out


def _summary_rows(backtest: dict) -> list[dict]:
    summary = backtest.get("summary") or {}
    return [{"key": s, "label": SOURCE_LABELS[s], **(summary.get(s) or {})} for s in SOURCES]


def backtests(pipelines) -> list[PipelineModel]:
    """The pipelines' models and back-tests, in the pipelines' order."""
    pipelines = list(pipelines)
    models = latest_models(pipelines)
    out = []
    for pipeline in pipelines:
        model = models.get(pipeline.pk)
        bt = model.backtest if model else {}
        out.append(PipelineModel(pipeline, model, _month_rows(bt), _summary_rows(bt)))
    return out


THRESHOLDS = {"min_closed": MIN_CLOSED_DEALS, "min_each": MIN_EACH_OUTCOME}
