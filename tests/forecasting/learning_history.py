"""Synthetic deal histories for the win-probability model's tests, written in bulk with their
own timestamps (stage transitions, field history, activities) so that a few hundred deals
over two and a half years load in a second."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from django.utils import timezone

from pipeline.models import Activity, Opportunity, Stage, StageTransition

FIRST_ID = 50_000_000


def build(*, pipeline, owners, n: int, seed: int, win_chance, days_back: int = 900):
    """``n`` closed deals plus some open ones in ``pipeline``. Half the deals are "active"
    (an activity every 5 days of their life), half "idle" (one at creation). A closed deal
    is won with ``win_chance(active)``; every amount is 10,000. Each lives 20–90 days: its
    first open stage, then the second half-way, then won or lost; its expected close date is
    its closing date. Returns the created opportunities' ids."""
    rng = random.Random(seed)
    stages = list(pipeline.stages.order_by("position"))
    open_stages = [s for s in stages if s.kind == Stage.Kind.OPEN]
    won = next(s for s in stages if s.kind == Stage.Kind.WON)
    lost = next(s for s in stages if s.kind == Stage.Kind.LOST)
    now = timezone.now()
    deals, moves, history, activities = [], [], [], []
    plans = []
    for i in range(n):
        owner = owners[i % len(owners)]
        active = rng.random() < 0.5
        created = now - dt.timedelta(days=rng.uniform(5, days_back), hours=rng.uniform(0, 12))
        life = dt.timedelta(days=rng.uniform(20, 90))
        closed_at = created + life
        is_closed = closed_at < now
        outcome = None
        if is_closed:
            outcome = won if rng.random() < win_chance(active) else lost
        mid = created + life / 2
        stage = outcome or (open_stages[1] if mid < now else open_stages[0])
        expected = timezone.localtime(closed_at).date()
        amount = Decimal(10000)
        deals.append(
            Opportunity(
                # Ids of their own, not the sequence's next: the model's folds follow the deal
                # id, so the same seed gives the same folds whatever ran before.
                pk=FIRST_ID + seed * 10_000 + i,
                name=f"Deal {i}",
                owner=owner,
                pipeline=pipeline,
                stage=stage,
                amount=amount,
                expected_close_date=expected,
                closed_on=expected if outcome else None,
                created_at=created,
                stage_entered_at=closed_at if outcome else (mid if mid < now else created),
            )
        )
        plans.append((owner, active, created, mid, closed_at, outcome, amount, expected))
    Opportunity.objects.bulk_create(deals)
    hist_model = Opportunity.history.model
    for deal, (owner, active, created, mid, closed_at, outcome, amount, expected) in zip(
        deals, plans, strict=True
    ):
        path = [(None, open_stages[0], created)]
        if mid < now:
            path.append((open_stages[0], open_stages[1], mid))
        if outcome:
            path.append((open_stages[1], outcome, closed_at))
        for from_stage, to_stage, at in path:
            moves.append(
                StageTransition(
                    opportunity=deal,
                    from_stage=from_stage,
                    to_stage=to_stage,
                    changed_by=owner,
                    changed_at=at,
                    amount=amount,
                    probability=to_stage.probability,
                )
            )
        history.append(
            hist_model(
                id=deal.pk,
                amount=amount,
                probability=None,
                expected_close_date=expected,
                forecast_category="",
                owner_id=owner.pk,
                history_date=created,
                history_type="+",
                history_user_id=owner.pk,
            )
        )
        end = min(closed_at, now)
        times = [created + dt.timedelta(minutes=5)]
        if active:
            t = created + dt.timedelta(days=5)
            while t < end:
                times.append(t)
                t += dt.timedelta(days=5)
        for t in times:
            activities.append(
                Activity(
                    kind=Activity.Kind.CALL,
                    subject="Call",
                    owner=owner,
                    opportunity=deal,
                    occurred_at=t,
                    created_at=t,
                )
            )
    StageTransition.objects.bulk_create(moves)
    hist_model.objects.bulk_create(history)
    Activity.objects.bulk_create(activities)
    return [d.pk for d in deals]
