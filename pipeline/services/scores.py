"""The model scores of a pipeline's open deals: replaced as a whole by the nightly training
(the forecasting app computes them; this layer only stores them)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from accounts import visibility
from pipeline import board_cache
from pipeline.models import DealScore, Opportunity, Pipeline, ProbabilitySource, Stage


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
            pipeline_id=pipeline_id, stage__kind=Stage.Kind.OPEN
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
        DealScore.objects.bulk_create(scores, batch_size=5000)
        board_cache.changed()
    return len(scores)


def set_model_eligibility(*, pipeline_id: int, eligible: bool) -> None:
    """Record whether the pipeline's latest back-test let its model be the probability
    source (the nightly training calls this). While it is not eligible, a pipeline set to the
    model weighs its deals by the configured percentages."""
    Pipeline.objects.filter(pk=pipeline_id).update(model_eligible=eligible)
    board_cache.changed()


def set_probability_source(*, pipeline: Pipeline, source: str, by) -> Pipeline:
    """An admin chooses where the pipeline's open deals take their probability from; the model
    only while its back-test beats the configured percentages (``Pipeline.clean``)."""
    if not visibility.can_calibrate_stages(by):
        raise PermissionDenied("Only admins choose a pipeline's probability source.")
    with transaction.atomic():
        pipeline = Pipeline.objects.select_for_update().get(pk=pipeline.pk)
        if source not in ProbabilitySource.values:
            raise ValidationError({"probability_source": "Choose configured, empirical or model."})
        pipeline.probability_source = source
        pipeline.full_clean()
        pipeline.save(update_fields=["probability_source"])
        board_cache.changed()
    return pipeline
