"""Report 2, stage conversion and time in stage (DESIGN.md §3).

For each open stage, the deals that entered it in the range. A deal's visit ends at its next
transition; it *moved on* when that next stage is a later open stage (skipping stages
counts) or the won stage, was *lost* when it is a lost stage, *moved back* when it is an
earlier open stage, and is *still there* when there is no next transition. A deal that
entered a stage more than once (reopened, moved back) counts once, with its best outcome
(moved on > lost > moved back > still there). *Time in stage* is told in two parts, each
with its median and mean over deals: *finished stays* run from entering the stage to the
next transition (a deal that left the stage twice counts the sum of its stays), and the
*current age* of the deals open in the stage now runs from entering it to now. The
*empirical stage win rate* is, of the deals that entered the stage in the range and are
closed now, the share won."""

from __future__ import annotations

from django.db import connection
from django.db.models import F

from forecasting import charts
from forecasting.reports.links import deals_url
from forecasting.reports.scope import ReportScope
from forecasting.reports.sql import median_sql, planner_settings
from forecasting.reports.tables import Column, Report, Table, format_value, ratio_pct
from pipeline.models import Stage
from pipeline.templatetags.opportune import pct

WON, LOST, OPEN = Stage.Kind.WON, Stage.Kind.LOST, Stage.Kind.OPEN


OUTCOME_MOVED, OUTCOME_LOST, OUTCOME_BACK, OUTCOME_STILL = 3, 2, 1, 0
OUTCOMES = {"moved": OUTCOME_MOVED, "lost": OUTCOME_LOST, "back": OUTCOME_BACK, "still": 0}


FINAL_WON, FINAL_LOST, FINAL_OPEN = 2, 1, 0

FINISHED_HELP = "Stays that ended: from entering the stage to the next move"
OPEN_HELP = "Deals in the stage now: from entering it to now"


def _pipeline_stages(scope: ReportScope) -> list[tuple[int, str, int]]:
    """(id, kind, position) of every stage of the scope's pipeline."""
    return list(
        Stage.objects.filter(pipeline=scope.pipeline)
        .order_by("position", "id")
        .values_list("pk", "kind", "position")
    )


def _stage_visits_sql(scope: ReportScope, stages=None) -> tuple[str, list, bool]:
    """SQL of one row per (deal, open stage entered in the range): ``opportunity_id,
    to_stage_id, done_days, open_days, outcome, final`` (``done_days``: the days of its
    finished stays, ``open_days``: the age of its current stay, each NULL when it has none;
    ``final``: 2 won, 1 lost, 0 open now), its parameters, and whether the transitions join
    their deal (when they do not, the visits are read in group order from their index).

    Each transition row knows when the deal left the stage and where it went next
    (``left_at``, ``next_stage``, written by the services with the following move), so a
    stay is read from its own row; the deal's current stage gives its final outcome. Stage
    kinds and positions (a handful per pipeline) are written into the SQL as CASE lists.
    A deal that entered a stage twice in the range counts once, with the sum of its finished
    stays and its best outcome.
    """
    stages = _pipeline_stages(scope) if stages is None else stages
    open_ids = [pk for pk, kind, _ in stages if kind == OPEN]
    entries = (
        scope.transitions()
        .filter(changed_at__gte=scope.start_at, to_stage_id__in=open_ids)
        .order_by()
    )
    # The deal's current stage gives the visit's final outcome. Where the rows already join
    # their deal (the visibility rule, the filters), it is read on that join; where they do
    # not (an admin's whole pipeline), the visits are grouped first, straight from the
    # stage/deal index, and only then joined to the deals that are closed.
    joined = any(
        join.table_name == "pipeline_opportunity" for join in entries.query.alias_map.values()
    )
    columns = ["opportunity_id", "to_stage_id", "changed_at", "left_at", "next_stage_id"]
    if joined:
        entries = entries.annotate(final_stage=F("opportunity__stage_id"))
        columns.append("final_stage")
    inner_sql, inner_params = entries.values(*columns).query.sql_with_params()
    now = connection.ops.adapt_datetimefield_value(scope.now)
    end = connection.ops.adapt_datetimefield_value(scope.end_at)
    if connection.vendor == "sqlite":
        done = "(julianday(w.left_at) - julianday(w.changed_at))"
        age = "(julianday(%s) - julianday(w.changed_at))"
    else:
        # date_part() is double precision; EXTRACT() is numeric and several times slower.
        done = "(date_part('epoch', w.left_at - w.changed_at) / 86400.0)"
        age = "(date_part('epoch', %s - w.changed_at) / 86400.0)"

    def ids(kind):
        found = [str(int(pk)) for pk, k, _ in stages if k == kind]
        return f"({', '.join(found)})" if found else "(NULL)"

    def position(column):
        whens = " ".join(f"WHEN {int(pk)} THEN {int(pos)}" for pk, _, pos in stages)
        return f"(CASE {column} {whens} END)" if whens else "NULL"

    def final(column):
        return (
            f"CASE WHEN {column} IN {ids(WON)} THEN {FINAL_WON} "
            f"WHEN {column} IN {ids(LOST)} THEN {FINAL_LOST} ELSE {FINAL_OPEN} END"
        )

    sql = f"""
        SELECT w.opportunity_id, w.to_stage_id,
               MAX(CASE WHEN w.left_at IS NULL THEN {age} END) AS open_days,
               SUM(CASE WHEN w.left_at IS NOT NULL THEN {done} END) AS done_days,
               MAX(CASE
                   WHEN w.next_stage_id IS NULL THEN {OUTCOME_STILL}
                   WHEN w.next_stage_id IN {ids(WON)} THEN {OUTCOME_MOVED}
                   WHEN w.next_stage_id IN {ids(LOST)} THEN {OUTCOME_LOST}
                   WHEN {position("w.next_stage_id")} > {position("w.to_stage_id")}
                       THEN {OUTCOME_MOVED}
                   ELSE {OUTCOME_BACK} END) AS outcome
               {f", MAX({final('w.final_stage')}) AS final" if joined else ""}
        FROM ({inner_sql}) w
        WHERE w.changed_at < %s AND w.to_stage_id IN {ids(OPEN)}
        GROUP BY w.to_stage_id, w.opportunity_id
    """  # nosec B608: SQL text is column names and ints built here; every value is a parameter
    if not joined:
        sql = f"""
            SELECT g.*, {final("d.stage_id")} AS final
            FROM ({sql}) g
            LEFT JOIN pipeline_opportunity d
                ON d.id = g.opportunity_id AND d.closed_on IS NOT NULL
        """  # nosec B608: SQL text is column names and ints built here; every value is a parameter
    return sql, [now, *inner_params, end], joined


def stage_visit_deal_ids_sql(
    scope: ReportScope, *, stage_id: int, outcome: str | None
) -> tuple[str, list]:
    """SQL selecting the ids of the deals counted in one cell of the stage report."""
    visits, params, _ = _stage_visits_sql(scope)
    sql = f"SELECT v.opportunity_id FROM ({visits}) v WHERE v.to_stage_id = %s"  # nosec B608: SQL text is column names and ints built here; every value is a parameter
    params = [*params, stage_id]
    if outcome in OUTCOMES:
        sql += " AND v.outcome = %s"
        params.append(OUTCOMES[outcome])
    elif outcome == "closed":
        sql += f" AND v.final IN ({FINAL_WON}, {FINAL_LOST})"
    elif outcome == "won":
        sql += f" AND v.final = {FINAL_WON}"
    return sql, params


def stages(scope: ReportScope) -> Report:
    """Per open stage of the scope's pipeline: deals that entered it in the range, where they
    went next, days spent in it (median, mean) and the empirical win rate from it."""
    all_stages = list(Stage.objects.filter(pipeline=scope.pipeline).order_by("position", "id"))
    stage_list = [s for s in all_stages if s.kind == OPEN]
    visits, params, joined = _stage_visits_sql(
        scope, [(s.pk, s.kind, s.position) for s in all_stages]
    )
    sql = f"""
        SELECT v.to_stage_id, COUNT(*),
               SUM(CASE WHEN v.outcome = {OUTCOME_MOVED} THEN 1 ELSE 0 END),
               SUM(CASE WHEN v.outcome = {OUTCOME_LOST} THEN 1 ELSE 0 END),
               SUM(CASE WHEN v.outcome = {OUTCOME_BACK} THEN 1 ELSE 0 END),
               SUM(CASE WHEN v.outcome = {OUTCOME_STILL} THEN 1 ELSE 0 END),
               SUM(CASE WHEN v.final = {FINAL_WON} THEN 1 ELSE 0 END),
               SUM(CASE WHEN v.final IN ({FINAL_WON}, {FINAL_LOST}) THEN 1 ELSE 0 END),
               AVG(v.done_days), {median_sql(connection, "v.done_days")},
               AVG(v.open_days), {median_sql(connection, "v.open_days")}
        FROM ({visits}) v
        GROUP BY v.to_stage_id
    """  # nosec B608: SQL text is column names and ints built here; every value is a parameter
    # An admin's whole pipeline (no join to the deals) reads its visits in group order from
    # the (stage, deal) index; planner_settings(stream=True) keeps PostgreSQL from hashing them.
    with (
        planner_settings(by_deal=scope.owner is not None, stream=not joined),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, params)
        by_stage = {row[0]: row[1:] for row in cursor.fetchall()}
    rows = []
    for s in stage_list:
        empty = (0, 0, 0, 0, 0, 0, 0, None, None, None, None)
        entered, moved, lost, back, still, won, closed, *days = by_stage.get(s.pk, empty)
        avg_days, median_days, avg_age, median_age = days

        def link(outcome=None, _s=s):
            extra = {"stage": _s.pk}
            if outcome:
                extra["outcome"] = outcome
            return deals_url(scope, "entered", **extra)

        rows.append(
            {
                "stage": s.name,
                "stage_id": s.pk,
                "entered": entered,
                "moved_on": moved,
                "lost": lost,
                "moved_back": back,
                "still": still,
                "conversion": ratio_pct(moved, entered),
                "loss_rate": ratio_pct(lost, entered),
                "median_days": median_days,
                "mean_days": avg_days,
                "open_median_days": median_age,
                "open_mean_days": avg_age,
                "closed": closed,
                "win_rate": ratio_pct(won, closed),
                "rot_after_days": s.rot_after_days,
                "_links": {
                    "entered": link(),
                    "moved_on": link("moved"),
                    "lost": link("lost"),
                    "moved_back": link("back"),
                    "still": link("still"),
                    "closed": link("closed"),
                },
            }
        )
    table = Table(
        key="stages",
        caption=f"Stage conversion and time in stage — {scope.pipeline}",
        columns=[
            Column("stage", "Stage"),
            Column("entered", "Deals entered", "int"),
            Column("moved_on", "Moved on", "int", "to a later open stage or won"),
            Column("conversion", "Conversion", "pct"),
            Column("lost", "Lost from here", "int"),
            Column("loss_rate", "Loss rate", "pct"),
            Column("moved_back", "Moved back", "int"),
            Column("still", "Still there", "int"),
            Column("median_days", "Finished stays: median days", "days", FINISHED_HELP),
            Column("mean_days", "Finished stays: mean days", "days", FINISHED_HELP),
            Column("open_median_days", "Open now: median age (days)", "days", OPEN_HELP),
            Column("open_mean_days", "Open now: mean age (days)", "days", OPEN_HELP),
            Column("rot_after_days", "Rots after (days)", "int"),
            Column("closed", "Closed since", "int"),
            Column("win_rate", "Win rate from here", "pct"),
        ],
        rows=rows,
        empty="This pipeline has no open stages.",
    )
    chart = charts.stage_conversion(rows)
    findings = []
    with_losses = [r for r in rows if r["lost"]]
    if with_losses:
        worst = max(with_losses, key=lambda r: (r["lost"], r["loss_rate"] or 0))
        findings.append(
            f"{worst['stage']} loses the most deals: {worst['lost']} of {worst['entered']} "
            f"that entered it ({pct(worst['loss_rate'], 1)})."
        )
    slow = [r for r in rows if r["median_days"] is not None]
    if slow:
        slowest = max(slow, key=lambda r: r["median_days"])
        findings.append(
            f"Deals stay longest in {slowest['stage']}: median "
            f"{format_value(slowest['median_days'], 'days')} days before they leave it."
        )
    aging = [r for r in rows if r["open_median_days"] is not None]
    if aging:
        oldest = max(aging, key=lambda r: r["open_median_days"])
        findings.append(
            f"The deals open in {oldest['stage']} have been there longest: median "
            f"{format_value(oldest['open_median_days'], 'days')} days so far."
        )
    return Report(tables=[table], chart=chart, findings=findings)
