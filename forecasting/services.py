"""Every write of the forecasting app: snapshots and forecast ranges (the nightly job),
quotas and managers' adjustments.

Snapshots
---------
``take_snapshot(taken_on=D)`` rebuilds the :class:`~forecasting.models.ForecastSnapshot` rows
of date ``D`` (per period × owner × pipeline) and the :class:`~forecasting.models.ForecastRange`
rows stored with them, in one transaction: delete the date's rows, then one
``INSERT … SELECT`` whose ``SELECT`` is an ORM aggregate grouped by period, owner and pipeline
(never a loop over opportunities in Python). Taking a date twice gives the same rows; an error
half-way rolls back to the previous rows. On PostgreSQL a transaction-level advisory lock keyed
by the date serialises two runs for the same date, and the transaction may raise ``work_mem``.

Chunked runs
------------
With many pipelines or many open deals (``settings.OPPORTUNE_SNAPSHOT_CHUNK_PIPELINES`` /
``OPPORTUNE_SNAPSHOT_CHUNK_DEALS``, see :func:`snapshot_chunk_pipelines`) the nightly task
splits a date into one chunk per pipeline, run in parallel by the workers:
:func:`start_snapshot_run` opens the date's :class:`~forecasting.models.SnapshotRun`,
:func:`take_pipeline_snapshot` rebuilds one pipeline's rows of the date (delete, then the same
``INSERT … SELECT`` restricted to that pipeline, in one transaction) and :func:`finish_snapshot_run`
(the chord's callback) stores the forecast ranges and marks the run finished. The chunks of a
date share the date's advisory lock and each takes its own (date, pipeline) lock, so chunks run
side by side while a whole-date rebuild waits for them (and they for it). Every path writes
rows through :func:`_rebuild_snapshot_rows`, so the chunked rows are exactly the one-task rows,
and a chunk retried after a failure rebuilds only its own pipeline.

What a snapshot describes
-------------------------
The pipeline as it stood at the end of ``D`` (:mod:`forecasting.dealstate`): the live
tables for today (the nightly job, ``manage.py snapshot_forecasts``), deals reconstructed
from history for a past date (``backfill_snapshots``, seed_demo). The sums are
:func:`forecasting.aggregates.snapshot_aggregates`, in the reporting currency by the rule of
:mod:`pipeline.conversion`; deals left out for want of an exchange rate are logged as a
warning by :func:`log_missing_rates` (currencies, deal counts and dates).

Forecast ranges
---------------
For ``D``'s quarter, the next quarter and their months, a Monte Carlo over the open deals
(:mod:`forecasting.montecarlo`) gives P10/P50/P90 of closed-won revenue and the chance of
reaching quota, per rep, per team and for everyone, per pipeline and for all pipelines. Deals
stream from one query ordered by month and are simulated in small blocks, so memory stays flat
in the number of deals. A quarter gets its ranges from the nightly runs while it is the
current or the next quarter; the work is proportional to those two quarters' open deals.
"""

from __future__ import annotations

import datetime as dt
import logging
import zlib
from collections.abc import Callable
from decimal import Decimal
from itertools import groupby
from operator import itemgetter

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import DateField, FloatField
from django.db.models.functions import Cast
from django.utils import timezone

from accounts import visibility
from accounts.models import Team, User
from forecasting import events, montecarlo
from forecasting.aggregates import SNAPSHOT_COLUMNS, snapshot_aggregates
from forecasting.dealstate import deals_at
from forecasting.models import (
    ForecastAdjustment,
    ForecastRange,
    ForecastSnapshot,
    PeriodKind,
    Quota,
    SnapshotRun,
)
from forecasting.periods import add_months, month_start, quarter_start, today
from forecasting.quotas import quota_lookup
from forecasting.winrates import empirical_stage_rates
from pipeline import conversion, read_cache
from pipeline.models import Opportunity, Pipeline, Stage
from pipeline.services.validation import parse_money
from pipeline.validators import validate_business_date

ZERO = Decimal("0")
ADVISORY_LOCK_NAMESPACE = 0x0F0CA57  # first key of pg_advisory_xact_lock(int, int)
SNAPSHOT_WORK_MEM = "64MB"

OPEN = Stage.Kind.OPEN


# --- the snapshot ----------------------------------------------------------------------------


def _lock_and_tune(taken_on: dt.date, *, pipeline_id: int | None = None) -> None:
    """PostgreSQL: one writer per date (waits for a concurrent run of the same date) and more
    sort memory for this transaction only.

    With ``pipeline_id`` (a chunk): the date's lock is taken shared, so the chunks of one date
    run side by side but never beside a whole-date rebuild, plus an exclusive lock on
    (date, pipeline), so a chunk and its own retry never overlap."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        if pipeline_id is None:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)",
                [ADVISORY_LOCK_NAMESPACE, taken_on.toordinal()],
            )
        else:
            cursor.execute(
                "SELECT pg_advisory_xact_lock_shared(%s, %s)",
                [ADVISORY_LOCK_NAMESPACE, taken_on.toordinal()],
            )
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s)", [_chunk_lock_key(taken_on, pipeline_id)]
            )
        cursor.execute(f"SET LOCAL work_mem = '{SNAPSHOT_WORK_MEM}'")


def _chunk_lock_key(taken_on: dt.date, pipeline_id: int) -> int:
    """A bigint advisory-lock key for (date, pipeline): the namespace in the high bits (the
    single-key space is separate from the two-key one); a hash collision only makes two
    chunks wait for each other."""
    digest = zlib.crc32(f"{taken_on.toordinal()}:{pipeline_id}".encode())
    return (ADVISORY_LOCK_NAMESPACE << 32) | digest


logger = logging.getLogger(__name__)


def log_missing_rates(taken_on: dt.date) -> list[conversion.MissingRate]:
    """Warn in the log about deals the snapshot of ``taken_on`` leaves out for want of an
    exchange rate (``pipeline.conversion``); returns them."""
    missing = conversion.missing_rates(Opportunity.objects.all(), on=taken_on)
    for m in missing:
        logger.warning("Snapshot of %s: %s", taken_on.isoformat(), m.message)
    return missing


def _insert_snapshot_rows(
    taken_on: dt.date, rates: dict[int, int], *, pipeline_id: int | None = None
) -> int:
    queryset = None if pipeline_id is None else Opportunity.objects.filter(pipeline_id=pipeline_id)
    grouped = (
        deals_at(on=taken_on, rates=rates, queryset=queryset)
        .values("s_period", "s_owner", "s_pipeline")
        .annotate(**snapshot_aggregates())
        .order_by()
    )
    select_sql, params = grouped.query.sql_with_params()
    qn = connection.ops.quote_name
    table = ForecastSnapshot._meta.db_table
    columns = ["taken_on", "period", "owner_id", "pipeline_id", *SNAPSHOT_COLUMNS]
    sources = ["s_period", "s_owner", "s_pipeline", *SNAPSHOT_COLUMNS]
    sql = (
        f"INSERT INTO {table} ({', '.join(qn(c) for c in columns)}) "  # nosec B608: table and column names come from the model; every value is a parameter
        f"SELECT %s, {', '.join('g.' + qn(c) for c in sources)} FROM ({select_sql}) g"
    )
    taken = connection.ops.adapt_datefield_value(taken_on)
    with connection.cursor() as cursor:
        cursor.execute(sql, [taken, *params])
        return cursor.rowcount


def _rebuild_snapshot_rows(
    taken_on: dt.date, rates: dict[int, int], *, pipeline_id: int | None = None
) -> int:
    """Delete the snapshot rows of ``taken_on`` (of one pipeline, or all) and insert them
    anew; the caller holds the transaction and the lock. Every snapshot path goes through
    here, so a chunked run writes exactly the rows of a one-task run."""
    existing = ForecastSnapshot.objects.filter(taken_on=taken_on)
    if pipeline_id is not None:
        existing = existing.filter(pipeline_id=pipeline_id)
    existing.delete()
    read_cache.changed()  # the rows are written in bulk, with no model signal
    return _insert_snapshot_rows(taken_on, rates, pipeline_id=pipeline_id)


def _rebuild_ranges(taken_on: dt.date, rates: dict[int, int]) -> int:
    ForecastRange.objects.filter(taken_on=taken_on).delete()
    read_cache.changed()  # ranges are written in bulk, with no model signal
    return simulate_ranges(taken_on=taken_on, rates=rates)


def _snapshot_date(taken_on) -> dt.date:
    if isinstance(taken_on, dt.datetime):
        taken_on = taken_on.date()
    _check_business_date(taken_on, "taken_on")
    if taken_on > today():
        raise ValidationError(
            {"taken_on": f"{taken_on} is in the future; a snapshot describes today or a past day."}
        )
    return taken_on


@transaction.atomic
def take_snapshot(*, taken_on: dt.date, ranges: bool = True) -> int:
    """Rebuild the forecast snapshot of ``taken_on`` and, unless ``ranges`` is False, the
    forecast ranges stored with it, in one transaction; returns the number of snapshot rows.
    Idempotent and atomic; see the module docstring. The date's
    :class:`~forecasting.models.SnapshotRun` records the rebuild in the same transaction."""
    taken_on = _snapshot_date(taken_on)
    started = timezone.now()
    _lock_and_tune(taken_on)
    rates = empirical_stage_rates(on=taken_on)
    rows = _rebuild_snapshot_rows(taken_on, rates)
    if ranges:
        _rebuild_ranges(taken_on, rates)
    log_missing_rates(taken_on)
    SnapshotRun.objects.update_or_create(
        taken_on=taken_on,
        defaults={
            "mode": SnapshotRun.Mode.SINGLE,
            "chunks": 1,
            "chunks_done": 1,
            "chunk_rows": {},
            "rows": rows,
            "started_at": started,
            "finished_at": timezone.now(),
        },
    )
    return rows


# --- chunked runs ----------------------------------------------------------------------------


def snapshot_chunk_pipelines() -> list[int]:
    """The pipelines a run should be split into, one chunk each, or ``[]`` for one task.

    A run is chunked when there are at least two pipelines and either the pipeline count
    reaches ``settings.OPPORTUNE_SNAPSHOT_CHUNK_PIPELINES`` or the open-deal count reaches
    ``settings.OPPORTUNE_SNAPSHOT_CHUNK_DEALS`` (0 turns that test off). Every pipeline is a
    chunk, inactive ones too: their deals are in the one-task snapshot as well."""
    pipeline_ids = list(Pipeline.objects.order_by("pk").values_list("pk", flat=True))
    if len(pipeline_ids) < 2:
        return []
    by_pipelines = settings.OPPORTUNE_SNAPSHOT_CHUNK_PIPELINES
    if by_pipelines and len(pipeline_ids) >= by_pipelines:
        return pipeline_ids
    by_deals = settings.OPPORTUNE_SNAPSHOT_CHUNK_DEALS
    if by_deals and Opportunity.objects.filter(stage__kind=OPEN).count() >= by_deals:
        return pipeline_ids
    return []


def start_snapshot_run(*, taken_on: dt.date, pipeline_ids: list[int]) -> SnapshotRun:
    """Open (or reopen) the run record of a chunked run of ``taken_on``: started now, no
    chunk done. The date's previous rows stay until each chunk replaces its pipeline's."""
    taken_on = _snapshot_date(taken_on)
    if not pipeline_ids:
        raise ValidationError("A chunked snapshot needs at least one pipeline.")
    run, _ = SnapshotRun.objects.update_or_create(
        taken_on=taken_on,
        defaults={
            "mode": SnapshotRun.Mode.CHUNKED,
            "chunks": len(pipeline_ids),
            "chunks_done": 0,
            "chunk_rows": {},
            "rows": 0,
            "started_at": timezone.now(),
            "finished_at": None,
        },
    )
    return run


@transaction.atomic
def take_pipeline_snapshot(*, taken_on: dt.date, pipeline_id: int) -> int:
    """One chunk: rebuild the snapshot rows of ``taken_on`` × ``pipeline_id`` in one
    transaction (the same code as :func:`take_snapshot`, restricted to the pipeline) and
    count the chunk as done on the date's run record; returns the rows written. Running a
    chunk again (a retry, a redelivered task) rebuilds the same rows and counts it once."""
    taken_on = _snapshot_date(taken_on)
    _lock_and_tune(taken_on, pipeline_id=pipeline_id)
    rates = empirical_stage_rates(on=taken_on)
    rows = _rebuild_snapshot_rows(taken_on, rates, pipeline_id=pipeline_id)
    run = SnapshotRun.objects.select_for_update().filter(taken_on=taken_on).first()
    if run is not None and run.mode == SnapshotRun.Mode.CHUNKED:
        run.chunk_rows = {**run.chunk_rows, str(pipeline_id): rows}
        run.chunks_done = len(run.chunk_rows)
        run.rows = sum(run.chunk_rows.values())
        run.save(update_fields=["chunk_rows", "chunks_done", "rows"])
    return rows


@transaction.atomic
def finish_snapshot_run(*, taken_on: dt.date, ranges: bool = True) -> SnapshotRun:
    """The end of a chunked run (the chord's callback, once every chunk succeeded): the
    forecast ranges of the date (they span pipelines), then the run marked finished with the
    date's row count, in one transaction."""
    taken_on = _snapshot_date(taken_on)
    _lock_and_tune(taken_on)
    if ranges:
        _rebuild_ranges(taken_on, empirical_stage_rates(on=taken_on))
    run = SnapshotRun.objects.select_for_update().get(taken_on=taken_on)
    run.rows = ForecastSnapshot.objects.filter(taken_on=taken_on).count()
    log_missing_rates(taken_on)
    run.finished_at = timezone.now()
    run.save(update_fields=["rows", "finished_at"])
    return run


def backfill_dates(
    *, start: dt.date, end: dt.date, step_days: int = 7, stepped_from: dt.date | None = None
) -> list[dt.date]:
    """``start``, ``start + step_days`` … ``<= end``, plus the first day of every month in the
    range (forecast accuracy compares each month with the snapshot taken on its first day).
    With ``stepped_from``, the stepped dates start there instead, and before it only the
    months' first days are taken."""
    if step_days < 1:
        raise ValidationError({"step_days": "The step is at least one day."})
    _check_business_date(start, "start")
    _check_business_date(end, "end")
    dates = set()
    day = max(start, stepped_from) if stepped_from else start
    while day <= end:
        dates.add(day)
        day += dt.timedelta(days=step_days)
    first = month_start(start) if start.day == 1 else add_months(start, 1)
    while first <= end:
        dates.add(first)
        first = add_months(first, 1)
    return sorted(dates)


def backfill_snapshots(
    *,
    start: dt.date,
    end: dt.date,
    step_days: int = 7,
    stepped_from: dt.date | None = None,
    progress: Callable[[int, int, dt.date], None] | None = None,
) -> int:
    """Take a snapshot for each date ``start``, ``start + step_days`` … ``<= end`` and for the
    first day of each month in between (each date in its own transaction); returns the
    number of dates. ``stepped_from`` as in :func:`backfill_dates`. ``progress(done, total,
    day)`` is called after each date.

    Forecast ranges are computed for the last back-filled date of each quarter only: that is
    the range the dashboard shows for a quarter (its latest), and it keeps a back-fill of 18
    months to a few dozen Monte Carlo runs instead of one per date.
    """
    end = min(end, today())
    dates = backfill_dates(start=start, end=end, step_days=step_days, stepped_from=stepped_from)
    last_of_quarter = {quarter_start(day): day for day in dates}
    for done, day in enumerate(dates, start=1):
        take_snapshot(taken_on=day, ranges=last_of_quarter[quarter_start(day)] == day)
        if progress is not None:
            progress(done, len(dates), day)
    return len(dates)


# --- forecast ranges -------------------------------------------------------------------------


def range_periods(taken_on: dt.date) -> tuple[list[dt.date], list[dt.date]]:
    """Months and quarters a snapshot stores ranges for: the quarter of ``taken_on``, the
    next one (what a forecast call near a quarter's end is about), and their six months.
    Each quarter keeps the range of the latest run that covered it, so the work stays
    proportional to two quarters' open deals."""
    q0 = quarter_start(taken_on)
    return [add_months(q0, i) for i in range(6)], [q0, add_months(q0, 3)]


def _seed(taken_on: dt.date, period: dt.date) -> int:
    return zlib.crc32(f"{taken_on.isoformat()}:{period.isoformat()}".encode())


def simulate_ranges(*, taken_on: dt.date, rates: dict[int, int] | None = None) -> int:
    """Monte Carlo ranges of ``taken_on`` (see the module docstring); returns rows written."""
    if rates is None:
        rates = empirical_stage_rates(on=taken_on)
    months, quarters = range_periods(taken_on)
    teams = dict(User.objects.filter(team__isnull=False).values_list("pk", "team_id"))
    team_ids = list(Team.objects.values_list("pk", flat=True))
    user_q, team_q = quota_lookup(months)
    members: dict[int, list[int]] = {}
    for user_id, team_id in teams.items():
        members.setdefault(team_id, []).append(user_id)

    won = {
        (r["period"], r["owner_id"], r["pipeline_id"]): r["won_amount"]
        for r in ForecastSnapshot.objects.filter(taken_on=taken_on, period__in=months).values(
            "period", "owner_id", "pipeline_id", "won_amount"
        )
    }
    state = deals_at(on=taken_on, rates=rates)
    if taken_on >= today():
        # Live: the same deals, found through the close-date index instead of a full scan.
        state = state.filter(
            stage__kind=OPEN,
            expected_close_date__gte=months[0],
            expected_close_date__lt=add_months(months[-1], 1),
        )
    rows = (
        # A deal without an exchange rate has no amount (pipeline.conversion): left out.
        state.filter(s_kind=OPEN, s_period__in=months, s_amount__isnull=False)
        # Plain dates and floats: the simulation works in floats, and no per-row converters.
        .values_list(
            Cast("s_period", DateField()),
            "s_owner",
            "s_pipeline",
            Cast("s_amount", FloatField()),
            "s_prob",
        )
        .order_by("s_period", "s_owner", "s_pipeline", "pk")
    )
    month_sims: dict[dt.date, montecarlo.LeafSimulation] = {}
    # One pass over the open deals, one month at a time.
    for month, group in groupby(rows.iterator(chunk_size=5000), key=itemgetter(0)):
        month = month.date() if isinstance(month, dt.datetime) else month
        month_sims[month] = montecarlo.simulate_leaves(
            (r[1:] for r in group), trials=montecarlo.TRIALS, seed=_seed(taken_on, month)
        )
    for month in months:
        month_sims.setdefault(month, montecarlo.LeafSimulation(trials=montecarlo.TRIALS))

    def month_quota(owner=None, team=None, month=None):
        if owner is not None:
            return user_q.get((owner, month))
        if team is not None:
            if (team, month) in team_q:
                return team_q[(team, month)]
            amounts = [user_q[(u, month)] for u in members.get(team, []) if (u, month) in user_q]
            return sum(amounts, ZERO) if amounts else None
        amounts = [q for t in team_ids if (q := month_quota(team=t, month=month)) is not None] + [
            a for (u, m), a in user_q.items() if m == month and u not in teams
        ]
        return sum(amounts, ZERO) if amounts else None

    out: list[ForecastRange] = []

    def emit(kind, period, period_months):
        sims = [month_sims[m] for m in period_months]
        leaves = set()
        for sim in sims:
            leaves.update(sim.leaves)
        for key in won:
            if key[0] in period_months:
                leaves.add((key[1], key[2]))
        owners = sorted({o for o, _ in leaves})
        pipelines = sorted({p for _, p in leaves})

        def scope(owner_ids, pipeline_id):
            keys = [(o, p) for (o, p) in leaves if o in owner_ids and (pipeline_id in (None, p))]
            vector = None
            count = 0
            for sim in sims:
                v, c = sim.total(keys)
                count += c
                if v is not None:
                    vector = v if vector is None else vector + v
            closed = sum((won.get((m, o, p), ZERO) for m in period_months for (o, p) in keys), ZERO)
            return vector, count, closed

        def add(owner=None, team=None, pipeline_id=None, owner_ids=()):
            vector, count, closed = scope(set(owner_ids), pipeline_id)
            if vector is None and not closed and not count:
                return
            quota = None
            if pipeline_id is None:
                parts = [month_quota(owner=owner, team=team, month=m) for m in period_months]
                parts = [p for p in parts if p is not None]
                quota = sum(parts, ZERO) if parts else None
            summary = montecarlo.summarise(vector, closed=closed, quota=quota)
            out.append(
                ForecastRange(
                    taken_on=taken_on,
                    period_kind=kind,
                    period=period,
                    owner_id=owner,
                    team_id=team,
                    pipeline_id=pipeline_id,
                    won_amount=closed,
                    mean=summary.mean,
                    p10=summary.p10,
                    p50=summary.p50,
                    p90=summary.p90,
                    quota=quota,
                    chance_to_reach_quota=summary.chance,
                    open_count=count,
                    trials=montecarlo.TRIALS,
                    seed=_seed(taken_on, period),
                )
            )

        for pipeline_id in [None, *pipelines]:
            for owner in owners:
                add(owner=owner, pipeline_id=pipeline_id, owner_ids=[owner])
            for team_id in team_ids:
                ids = [o for o in owners if teams.get(o) == team_id]
                if ids:
                    add(team=team_id, pipeline_id=pipeline_id, owner_ids=ids)
            add(pipeline_id=pipeline_id, owner_ids=owners)

    for month in months:
        emit(PeriodKind.MONTH, month, [month])
    for quarter in quarters:
        emit(PeriodKind.QUARTER, quarter, [add_months(quarter, i) for i in range(3)])
    ForecastRange.objects.bulk_create(out, batch_size=500)
    read_cache.changed()  # bulk_create sends no model signal
    return len(out)


# --- quotas and adjustments ------------------------------------------------------------------


def _check_business_date(day: dt.date, field: str) -> None:
    """Refuse a date no sales process has (before 1900, after 2200)."""
    try:
        validate_business_date(day)
    except ValidationError as e:
        raise ValidationError({field: e.messages}) from None


@transaction.atomic
def set_quota(
    *, by, month: dt.date, amount, user: User | None = None, team: Team | None = None
) -> Quota | None:
    """Set (or, with an empty amount, remove) the quota of a rep or a team for a month."""
    if (user is None) == (team is None):
        raise ValidationError("Choose either a rep or a team.")
    if not visibility.can_manage_quotas(by, user=user, team=team):
        raise PermissionDenied("Only the team's manager or an admin sets quotas.")
    _check_business_date(month, "month")
    month = month_start(month)
    lookup = {"user": user, "month": month} if user else {"team": team, "month": month}
    if amount is None or amount == "":
        Quota.objects.filter(**lookup).delete()
        return None
    amount = parse_money(amount)
    quota, _ = Quota.objects.update_or_create(**lookup, defaults={"amount": amount})
    return quota


@transaction.atomic
def set_adjustment(
    *,
    by,
    period_kind: str,
    period: dt.date,
    amount,
    note: str = "",
    user: User | None = None,
    team: Team | None = None,
) -> ForecastAdjustment | None:
    """Record a manager's call on a rep's or a team's number; an empty amount removes it."""
    if (user is None) == (team is None):
        raise ValidationError("Choose either a rep or a team.")
    if not visibility.can_adjust_forecast(by, user=user, team=team):
        raise PermissionDenied("Only the rep's manager or an admin adjusts a forecast.")
    if period_kind not in PeriodKind.values:
        raise ValidationError({"period": "Choose a month or a quarter."})
    _check_business_date(period, "period")
    period = quarter_start(period) if period_kind == PeriodKind.QUARTER else month_start(period)
    lookup = {"period_kind": period_kind, "period": period}
    lookup.update({"user": user} if user else {"team": team})
    if amount is None or amount == "":
        ForecastAdjustment.objects.filter(**lookup).delete()
        return None
    amount = parse_money(amount)
    note = (note or "").strip()
    if len(note) > 2000:
        raise ValidationError({"note": "Keep the note under 2,000 characters."})
    adjustment, _ = ForecastAdjustment.objects.update_or_create(
        **lookup, defaults={"amount": amount, "note": note, "author": by}
    )
    events.adjustment_set.send(sender=None, adjustment=adjustment, by=by)
    return adjustment


@transaction.atomic
def set_quotas(*, by, entries: list[tuple[User | None, Team | None, dt.date, object]]) -> int:
    """Set many quotas at once (the quota grid): all or nothing. ``entries`` are
    ``(user, team, month, amount)``; an empty amount removes the quota. Returns the number
    of entries applied."""
    for user, team, month, amount in entries:
        set_quota(by=by, user=user, team=team, month=month, amount=amount)
    return len(entries)
