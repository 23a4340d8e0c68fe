"""Benchmark: the win-probability model on PostgreSQL (training, scoring, back-test).

Runs on ``DATABASE_URL`` (meant for a copy of the 100,000-deal demo; it is written to: model
rows and deal scores are added) or, when unset, on a fresh demo database of ``--deals`` deals.
For every active pipeline it measures, one pass each:

* training: the features of the trailing 24 month-starts and the fit, calibration and
  validation of the model (``train_s``, summed over the pipelines);
* scoring: the features of every open deal as of now, their probabilities and explanations,
  stored through the pipeline layer (``score_s``);
* the back-test over the past 12 month-starts (36 months of features, 12 trainings;
  ``backtest_s``), unless ``--no-backtest`` (to time training and scoring alone; the
  back-test's figures are then null).

The last line is one JSON object: ``train_s``, ``score_s``, ``backtest_s``, ``peak_rss_mb``,
and the back-test's figures over all pipelines: ``brier_model`` / ``brier_stage`` /
``brier_empirical`` (mean per deal-month) and ``forecast_mape_model`` / ``forecast_mape_stage``
/ ``forecast_mape_empirical`` (mean absolute percentage error of the monthly forecasts, the
pipelines' forecasts and actuals added per month), plus per-pipeline details.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

from _common import demo_database, setup_django


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument(
        "--no-backtest", action="store_true", help="measure training and scoring only"
    )
    args = parser.parse_args()
    url = demo_database("opportune_bench_backtest", args.deals, reuse=True)
    setup_django(url)

    from django.utils import timezone

    from forecasting.learning import backtest, features, services
    from forecasting.periods import finished_months, today
    from pipeline.models import Opportunity, Pipeline

    print(f"deals: {Opportunity.objects.count()}", flush=True)
    on, now = today(), timezone.now()
    train_s = score_s = backtest_s = 0.0
    per_pipeline = {}
    months: dict[str, dict[str, float]] = {}
    pooled = {s: [0.0, 0] for s in backtest.SOURCES}
    for pipeline in Pipeline.objects.filter(is_active=True):
        started = time.perf_counter()
        frame = features.frame(
            pipeline_id=pipeline.pk, dates=services.history_dates(on, services.HISTORY_MONTHS)
        )
        fitted, counts = services.fit_current(frame, now=now)
        train_s += time.perf_counter() - started
        started = time.perf_counter()
        stored = services.score_open(
            pipeline_id=pipeline.pk,
            params=fitted["params"] if fitted else None,
            trained_at=now,
            now=now,
        )
        score_s += time.perf_counter() - started
        info = {"rows": len(frame), **counts, "scored": stored}
        print(f"{pipeline.name}: {info}", flush=True)
        if fitted is None or args.no_backtest:
            per_pipeline[pipeline.name] = info
            continue
        info["validation"] = {k: v for k, v in fitted["validation"].items() if k != "calibration"}
        started = time.perf_counter()
        months_back = services.HISTORY_MONTHS + services.BACKTEST_MONTHS
        full = features.frame(
            pipeline_id=pipeline.pk, dates=services.history_dates(on, months_back)
        )
        result = backtest.run(
            full,
            pipeline_id=pipeline.pk,
            months=finished_months(services.BACKTEST_MONTHS, on),
            now=now,
        )
        backtest_s += time.perf_counter() - started
        info["summary"] = result["summary"]
        per_pipeline[pipeline.name] = info
        print(f"{pipeline.name} back-test: {json.dumps(result['summary'])}", flush=True)
        for row in result["months"]:
            month = months.setdefault(row["month"], {"actual": 0.0})
            month["actual"] += row["actual"]
            for source in backtest.SOURCES:
                month[source] = month.get(source, 0.0) + row[source]["forecast"]
        for source in backtest.SOURCES:
            s = result["summary"][source]
            if s["brier"] is not None:
                pooled[source][0] += s["brier"] * s["deals"]
                pooled[source][1] += s["deals"]

    def mape(source):
        errors = [
            abs(m[source] - m["actual"]) / m["actual"] for m in months.values() if m["actual"]
        ]
        return round(100 * sum(errors) / len(errors), 2) if errors else None

    def brier(source):
        total, n = pooled[source]
        return round(total / n, 4) if n else None

    print(
        json.dumps(
            {
                "train_s": round(train_s, 2),
                "score_s": round(score_s, 2),
                "backtest_s": round(backtest_s, 2),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "brier_model": brier("model"),
                "brier_stage": brier("configured"),
                "brier_empirical": brier("empirical"),
                "forecast_mape_model": mape("model"),
                "forecast_mape_stage": mape("configured"),
                "forecast_mape_empirical": mape("empirical"),
                "pipelines": per_pipeline,
            }
        )
    )


if __name__ == "__main__":
    main()
