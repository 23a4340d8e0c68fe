import datetime as dt
from decimal import Decimal

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from forecasting import montecarlo, services
from forecasting.models import ForecastRange
from tests.forecasting.conftest import MARCH, TODAY


@given(
    deals=st.lists(
        st.tuples(st.integers(5_000, 50_000), st.integers(10, 90)), min_size=200, max_size=300
    ),
    seed=st.integers(0, 2**31),
)
@settings(max_examples=15, deadline=None)
def test_simulate_leaves_mean_within_one_percent_of_weighted(deals, seed):
    """A book of a team's size (200–300 open deals): the mean of 10,000 trials lands within
    1 % of Σ amount × probability (its standard error is at most about 0.25 %)."""
    rows = [(1, 1, Decimal(a), p) for a, p in deals]
    sim = montecarlo.simulate_leaves(rows, seed=seed)
    vector, count = sim.total([(1, 1)])
    weighted = sum(a * p / 100 for a, p in deals)
    assert count == len(deals) and len(vector) == montecarlo.TRIALS >= 10_000
    assert abs(vector.mean() - weighted) <= 0.01 * weighted


def test_simulate_leaves_is_seeded_and_exact_at_zero_and_hundred():
    rows = [(1, 1, Decimal("100"), 100), (1, 1, Decimal("50"), 0), (2, 1, Decimal("10"), 40)]
    a = montecarlo.simulate_leaves(rows, seed=7)
    b = montecarlo.simulate_leaves(rows, seed=7)
    assert np.array_equal(a.leaves[(2, 1)], b.leaves[(2, 1)])
    assert set(a.leaves[(1, 1)]) == {100.0}  # certain win, certain loss
    assert set(a.leaves[(2, 1)]) <= {0.0, 10.0}


def test_summarise_percentiles_and_chance_to_reach_quota():
    vector = np.array([0.0] * 50 + [100.0] * 50)
    s = montecarlo.summarise(vector, closed=Decimal("20"), quota=Decimal("100"))
    assert (s.p10, s.p90, s.mean) == (Decimal("20.00"), Decimal("120.00"), Decimal("70.00"))
    assert s.chance == 0.5
    fixed = montecarlo.summarise(None, closed=Decimal("5"), quota=Decimal("4"))
    assert (fixed.p10, fixed.p50, fixed.chance) == (Decimal("5"), Decimal("5"), 1.0)


def test_snapshot_stores_ranges_per_rep_team_and_everyone(book, rep, rep2, team):
    from forecasting.models import Quota

    Quota.objects.create(user=rep, month=MARCH, amount=Decimal("20000"))
    services.take_snapshot(taken_on=TODAY)
    month = ForecastRange.objects.filter(taken_on=TODAY, period_kind="month", period=MARCH)
    mine = month.get(owner=rep, pipeline=None)
    # Closed 8,000 plus Bernoulli wins of A (10 %), B (75 %), C (50 %): weighted 26,500.
    assert mine.won_amount == Decimal("8000") and mine.open_count == 3
    assert abs(mine.mean - Decimal("26500")) <= Decimal("265")
    assert Decimal("8000") <= mine.p10 <= mine.p50 <= mine.p90 <= Decimal("43000")
    assert mine.quota == Decimal("20000") and 0 < mine.chance_to_reach_quota < 1
    assert mine.trials == 10_000
    everyone = month.get(owner=None, team=None, pipeline=None)
    assert everyone.open_count == 4
    assert abs(everyone.mean - Decimal("38500")) <= Decimal("385")
    assert month.get(team=team, pipeline=None).open_count == 4
    quarters = ForecastRange.objects.filter(
        taken_on=TODAY, period_kind="quarter", owner=rep2, pipeline=None
    )
    counts = {q.period: q.open_count for q in quarters}
    # F closes in March (this quarter), G in April: the next quarter has its range too.
    assert counts == {dt.date(2026, 1, 1): 1, dt.date(2026, 4, 1): 1}
    april = ForecastRange.objects.get(
        taken_on=TODAY, period_kind="month", period=dt.date(2026, 4, 1), owner=rep2, pipeline=None
    )
    assert april.open_count == 1
