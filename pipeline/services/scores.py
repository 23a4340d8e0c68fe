"""The model scores of a pipeline's open deals: replaced as a whole by the nightly training
(the forecasting app computes them; this layer only stores them)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db import transaction

from pipeline.models import DealScore, Opportunity, Stage


def replace_scores(
    *, pipeline_id: int, trained_at: dt.datetime, scored_at: dt.datetime, rows: Iterable[dict]
) -> int:
    """Replace the scores of the pipeline's deals with ``rows`` (each ``opportunity_id``,
    ``probability_exact`` 0–100, ``base_probability``, ``factors``), in one transaction.
    Rows of deals that are no longer open in the pipeline are ignored; a pipeline without a
    model passes no rows, which clears its scores."""
    rows = list(rows)
    open_ids = set(
        Opportunity.objects.filter(
            pipeline_id=pipeline_id,
            stage__kind=Stage.Kind.OPEN,
            pk__in=[r["opportunity_id"] for r in rows],
        ).values_list("pk", flat=True)
    )
    scores = [
        DealScore(
            opportunity_id=r["opportunity_id"],
            probability=min(100, max(0, round(r["probability_exact"]))),
            probability_exact=float(r["probability_exact"]),
            base_probability=float(r["base_probability"]),
            factors=r["factors"],
            model_trained_at=trained_at,
            scored_at=scored_at,
        )
        for r in rows
        if r["opportunity_id"] in open_ids
    ]
    with transaction.atomic():
        DealScore.objects.filter(opportunity__pipeline_id=pipeline_id).delete()
        DealScore.objects.bulk_create(scores, batch_size=2000)
    return len(scores)
