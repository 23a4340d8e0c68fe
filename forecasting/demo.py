"""Demo quotas for ``seed_demo``: each rep's monthly quota is their average monthly closed-won
revenue over the demo's history, rounded up to the next 5,000, so attainment varies around
100 % the way it does in a real team. Deterministic: derived from the seeded deals."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_CEILING, Decimal

from django.db import transaction
from django.db.models import Sum

from accounts.models import User
from forecasting.models import Quota
from forecasting.services import add_months, month_start
from pipeline.models import Opportunity, Stage

STEP = Decimal("5000")


@transaction.atomic
def seed_quotas(*, start: dt.date, end: dt.date) -> int:
    """Create rep quotas for every month from ``start`` to ``end`` (inclusive) where none is
    set; returns the number created."""
    first, last = month_start(start), month_start(end)
    months = []
    m = first
    while m <= last:
        months.append(m)
        m = add_months(m, 1)
    if not months:
        return 0
    won = dict(
        Opportunity.objects.filter(stage__kind=Stage.Kind.WON)
        .values("owner")
        .annotate(total=Sum("amount"))
        .values_list("owner", "total")
        .order_by()
    )
    history_months = Decimal(max(len(months) - 6, 1))
    existing = set(
        Quota.objects.filter(month__in=months, user__isnull=False).values_list("user_id", "month")
    )
    rows = []
    for rep in User.objects.filter(role=User.Role.REP, is_active=True).order_by("pk"):
        average = won.get(rep.pk, Decimal(0)) / history_months
        amount = max((average / STEP).to_integral_value(ROUND_CEILING) * STEP, STEP)
        rows += [
            Quota(user=rep, month=month, amount=amount)
            for month in months
            if (rep.pk, month) not in existing
        ]
    Quota.objects.bulk_create(rows, batch_size=1000)
    return len(rows)
