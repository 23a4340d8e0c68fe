"""Monte Carlo forecast ranges: how much closed-won revenue a period may end with.

Each open deal is a Bernoulli trial with p = its effective probability / 100 (whole
percentages, so the draw ``randint(0, 100) < probability`` is exact). One trial draws every
deal once; a period's outcome in a trial is its closed-won revenue plus the amounts of the
deals won in that trial. ``TRIALS`` (10,000) trials, seeded, vectorised with NumPy.

Deals arrive as an iterator of ``(owner, pipeline, amount, probability)`` rows sorted by
owner and pipeline; they are simulated in blocks of ``BLOCK`` deals, so memory is bounded by
``BLOCK × TRIALS`` whatever the number of deals. Each block's wins are summed in float32 (at
most ``BLOCK`` amounts, far below the sampling noise of the percentiles) and the blocks in
float64. The result keeps one vector of ``TRIALS``
sums per (owner, pipeline) "leaf"; a team's or everyone's outcome in trial *t* is the sum of
its leaves' outcomes in trial *t* (the deals are independent, so that is a draw of the whole
scope), and a quarter's is the sum of its months'.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from itertools import islice

import numpy as np

TRIALS = 10_000
BLOCK = 32
SLICE = 655
ACCEPT = SLICE * 100  # 65,500
CENTS = Decimal("0.01")


@dataclass
class LeafSimulation:
    trials: int
    leaves: dict[tuple[int, int], np.ndarray] = field(default_factory=dict)
    counts: dict[tuple[int, int], int] = field(default_factory=dict)

    def total(self, keys: Iterable[tuple[int, int]]) -> tuple[np.ndarray | None, int]:
        """Per-trial sum over ``keys`` (None when none of them has open deals) and the number
        of open deals behind it."""
        vector = None
        count = 0
        for key in keys:
            leaf = self.leaves.get(key)
            if leaf is None:
                continue
            count += self.counts[key]
            vector = leaf.copy() if vector is None else vector + leaf
        return vector, count


def _blocks(rows: Iterator, size: int):
    while True:
        block = list(islice(rows, size))
        if not block:
            return
        yield block


def _bernoulli(rng: np.random.Generator, probs: np.ndarray, trials: int) -> np.ndarray:
    """A ``(trials, len(probs))`` boolean matrix: entry ``[t, i]`` is True with probability
    ``probs[i] / 100`` exactly.

    Uniform 16-bit draws are cheap; a draw below 65,500 (= 655 × 100) is uniform over 100
    equal slices, so ``draw < 655 × probability`` has probability ``probability / 100``
    exactly. The 0.05% of draws at 65,500 or above are drawn again.
    """
    size = trials * len(probs)
    # Raw 64-bit generator output split into four 16-bit draws: half the cost of integers().
    draws = rng.bit_generator.random_raw((size + 3) // 4).view(np.uint16)[:size]
    draws = draws.reshape(trials, len(probs))
    redo = draws >= ACCEPT
    while redo.any():
        draws[redo] = rng.integers(0, 65536, size=int(redo.sum()), dtype=np.uint16)
        redo = draws >= ACCEPT
    return draws < (probs.astype(np.uint16) * SLICE)[None, :]


def simulate_leaves(rows: Iterable, *, trials: int = TRIALS, seed: int) -> LeafSimulation:
    """Simulate ``trials`` outcomes of every (owner, pipeline) leaf of ``rows``."""
    rng = np.random.default_rng(seed)
    result = LeafSimulation(trials=trials)
    for block in _blocks(iter(rows), BLOCK):
        owners = np.fromiter((r[0] for r in block), dtype=np.int64, count=len(block))
        pipelines = np.fromiter((r[1] for r in block), dtype=np.int64, count=len(block))
        amounts = np.fromiter((float(r[2] or 0) for r in block), dtype=np.float64, count=len(block))
        probs = np.fromiter((int(r[3] or 0) for r in block), dtype=np.int64, count=len(block))
        wins = _bernoulli(rng, np.clip(probs, 0, 100), trials).astype(np.float32)
        # Rows arrive sorted by leaf: sum each run of equal (owner, pipeline) at once.
        change = np.flatnonzero((np.diff(owners) != 0) | (np.diff(pipelines) != 0)) + 1
        starts = np.concatenate(([0], change))
        ends = np.concatenate((change, [len(block)]))
        for start, end in zip(starts, ends, strict=True):
            key = (int(owners[start]), int(pipelines[start]))
            # float32 within a block of at most BLOCK deals, float64 across blocks.
            sums = (wins[:, start:end] @ amounts[start:end].astype(np.float32)).astype(np.float64)
            if key in result.leaves:
                result.leaves[key] += sums
                result.counts[key] += int(end - start)
            else:
                result.leaves[key] = sums
                result.counts[key] = int(end - start)
    return result


@dataclass(frozen=True)
class RangeSummary:
    mean: Decimal
    p10: Decimal
    p50: Decimal
    p90: Decimal
    chance: float | None


def _money(value: float) -> Decimal:
    return Decimal(repr(float(value))).quantize(CENTS, rounding=ROUND_HALF_UP)


def summarise(vector: np.ndarray | None, *, closed: Decimal, quota: Decimal | None) -> RangeSummary:
    """P10/P50/P90 and mean of closed + simulated wins, and the share of trials reaching
    ``quota`` (None without a quota)."""
    if vector is None:
        chance = None if quota is None else float(closed >= quota)
        return RangeSummary(closed, closed, closed, closed, chance)
    totals = vector + float(closed)
    p10, p50, p90 = np.percentile(totals, [10, 50, 90])
    chance = None
    if quota is not None:
        chance = float(np.count_nonzero(totals >= float(quota))) / len(totals)
    return RangeSummary(_money(totals.mean()), _money(p10), _money(p50), _money(p90), chance)
