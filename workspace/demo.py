"""The whole demo: the pipeline's deterministic demo data (:mod:`pipeline.demo`) plus what the
forecasting layer adds to it, quotas in the same transaction and, afterwards, the forecast
snapshots back-filled over the demo's history."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

from forecasting.models import Quota
from forecasting.services import backfill_snapshots
from pipeline import demo
from pipeline.demo import HISTORY_DAYS, DemoBuilder


def build_quotas(builder: DemoBuilder) -> None:
    """Monthly quotas per rep, from 24 months back to 6 months ahead: a little above what
    the rep's team historically closes per rep and month, so attainment varies."""
    won_total = builder.won_amount()
    months = HISTORY_DAYS / 30.4
    per_rep = won_total / Decimal(len(builder.reps)) / Decimal(months) if won_total else 0
    base = max(Decimal(1000), Decimal(per_rep) * Decimal("1.1"))
    first = builder.today.replace(day=1)
    quotas = []
    for offset in range(-24, 7):
        y, m = divmod(first.month - 1 + offset, 12)
        month = dt.date(first.year + y, m + 1, 1)
        for i, rep in enumerate(builder.reps):
            factor = Decimal(80 + (i * 13) % 45) / Decimal(100)
            amount = (base * factor / 1000).quantize(Decimal(1)) * 1000
            quotas.append(Quota(user=rep, month=month, amount=amount))
    Quota.objects.bulk_create(quotas, batch_size=1000)
    builder.progress("wrote the quotas")


def seed(
    *,
    opportunities: int,
    seed: int,
    today: dt.date | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """The pipeline's demo data with the reps' quotas (see :func:`pipeline.demo.seed`)."""
    return demo.seed(
        opportunities=opportunities,
        seed=seed,
        today=today,
        progress=progress,
        extensions=[build_quotas],
    )


# Weekly snapshots cover the last 18 months (what changed, the trend); before that the
# months' first days (what the accuracy page reads) are enough, and keep the back-fill short.
WEEKLY_SNAPSHOT_DAYS = 548


def backfill(*, end: dt.date, progress: Callable[[int, int, dt.date], None] | None = None) -> int:
    """Forecast snapshots on each month's first day over the demo's history, and weekly over
    its last 18 months, ending on ``end`` itself; returns the number of dates."""
    weeks = -(-WEEKLY_SNAPSHOT_DAYS // 7)
    return backfill_snapshots(
        start=end - dt.timedelta(days=HISTORY_DAYS),
        stepped_from=end - dt.timedelta(weeks=weeks),
        end=end,
        progress=progress,
    )
