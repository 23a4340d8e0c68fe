"""The model scores of a pipeline's open deals: replaced as a whole by the nightly training
(the forecasting app computes them; this layer only stores them)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction

from accounts import visibility
from pipeline import board_cache
from pipeline.models import DealScore, Opportunity, Pipeline, ProbabilitySource, Stage


def replace_scores(
    *, pipeline_id: int, trained_at: dt.datetime, scored_at: dt.datetime, rows: Iterable[dict]
) -> int:
    """Replace the scores of the pipeline's deals with ``rows`` (each ``opportunity_id``,
    ``probability_exact`` 0–100, ``base_probability``, ``factors``), in one transaction.
    Rows of deals that are no longer open in the pipeline are ignored; a pipeline without a
    model passes no rows, which clears its scores.

    A fixed number of statements whatever the number of deals: one read of the open deals, one
    delete, and the new rows in one ``COPY … FROM STDIN`` on PostgreSQL (``bulk_create`` in
    batches elsewhere). Scores have no history and no signals, so nothing is skipped."""
    open_ids = set(
        Opportunity.objects.filter(
            pipeline_id=pipeline_id, stage__kind=Stage.Kind.OPEN
        ).values_list("pk", flat=True)
    )
    values = [
        (
            int(r["opportunity_id"]),
            min(100, max(0, round(r["probability_exact"]))),
            float(r["probability_exact"]),
            float(r["base_probability"]),
            r["factors"],
        )
        for r in rows
        if r["opportunity_id"] in open_ids
    ]
    with transaction.atomic():
        # Through the deals' ids, not a join: a delete with a join reads the scores twice.
        deals = Opportunity.objects.filter(pipeline_id=pipeline_id).values("pk")
        DealScore.objects.filter(opportunity_id__in=deals).delete()
        _insert(values, trained_at=trained_at, scored_at=scored_at)
        board_cache.changed()
    return len(values)


_COLUMNS = (
    "opportunity_id",
    "probability",
    "probability_exact",
    "base_probability",
    "factors",
    "model_trained_at",
    "scored_at",
)


def _insert(values: list[tuple], *, trained_at: dt.datetime, scored_at: dt.datetime) -> None:
    """Write score rows ``(deal id, probability, exact, base, factors)``. COPY takes each
    row's values as they are (psycopg adapts them once per value; a multi-row ``INSERT``
    through the client-side cursor spent most of its time quoting the factors into the
    statement's text)."""
    if not values:
        return
    if connection.vendor != "postgresql":
        DealScore.objects.bulk_create(
            [
                DealScore(
                    opportunity_id=pk, probability=p, probability_exact=exact,
                    base_probability=base, factors=factors,
                    model_trained_at=trained_at, scored_at=scored_at,
                )
                for pk, p, exact, base, factors in values
            ],
            batch_size=5000,
        )  # fmt: skip
        return
    quote = connection.ops.quote_name
    columns = ", ".join(quote(DealScore._meta.get_field(c).column) for c in _COLUMNS)
    sql = f"COPY {quote(DealScore._meta.db_table)} ({columns}) FROM STDIN"
    encoder = DealScore._meta.get_field("factors").encoder
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for pk, p, exact, base, factors in values:
            copy.write_row(
                (pk, p, exact, base, json.dumps(factors, cls=encoder), trained_at, scored_at)
            )


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
