"""Every report figure against the hand computation of the world in ``conftest.py``."""

import datetime as dt
from decimal import Decimal

import pytest

from forecasting.reports import (
    funnel,
    pipeline_created,
    priorities,
    rotting,
    scorecards,
    stages,
    win_rate,
)
from tests.factories import current_version
from tests.forecasting.reports.world import END, START


def _rows(table, key="stage"):
    return {r[key]: r for r in table.rows}


def _approx(value, expected, places=3):
    assert value is not None
    assert round(float(value), places) == pytest.approx(expected, abs=10**-places)


# --- Funnel ---------------------------------------------------------------------------------


def test_funnel_by_source_for_manager(world, scope_for):
    report = funnel.funnel(scope_for(world.manager), group="source")
    rows = _rows(report.table, "group")
    # L1, L2 (web); L3, L4 (referral); L5 is before the range, L6 is the other team's.
    assert set(rows) == {"Web", "Referral"}
    web, referral = rows["Web"], rows["Referral"]
    assert (web["leads"], web["prospects"], web["opportunities"], web["won"]) == (2, 2, 1, 1)
    assert web["won_amount"] == Decimal("10000")
    assert (referral["leads"], referral["prospects"], referral["opportunities"]) == (2, 1, 1)
    assert referral["won"] == 0
    total = report.table.total
    assert (total["leads"], total["prospects"], total["opportunities"], total["won"]) == (
        4,
        3,
        2,
        1,
    )
    assert total["prospect_rate"] == Decimal(75)
    _approx(total["opportunity_rate"], 66.667)
    assert total["win_rate"] == Decimal(50)
    assert total["overall_rate"] == Decimal(25)
    assert report.chart["datasets"][0]["data"] == [4, 3, 2, 1]


def test_funnel_by_rep_and_team(world, scope_for):
    by_rep = _rows(funnel.funnel(scope_for(world.manager), group="rep").table, "group")
    assert by_rep[str(world.rep)]["leads"] == 3
    assert by_rep[str(world.rep)]["won"] == 1
    assert by_rep[str(world.rep2)]["leads"] == 1
    assert by_rep[str(world.rep2)]["opportunities"] == 1
    by_team = funnel.funnel(scope_for(world.admin), group="team").table
    teams = _rows(by_team, "group")
    assert teams["East"]["leads"] == 4
    assert teams["West"]["leads"] == 1
    assert by_team.total["leads"] == 5


def test_funnel_pipeline_filter_applies_to_deals_only(world, scope_for):
    from tests.factories import PipelineFactory

    other = PipelineFactory(name="Renewals")
    total = funnel.funnel(scope_for(world.manager, pipeline=other)).table.total
    assert (total["leads"], total["prospects"], total["opportunities"], total["won"]) == (
        4,
        3,
        0,
        0,
    )


def test_funnel_empty_range_has_no_rows_and_no_rates(world, scope_for):
    report = funnel.funnel(
        scope_for(world.manager, start=dt.date(2024, 1, 1), end=dt.date(2024, 1, 31))
    )
    assert report.table.rows == []
    assert report.table.total["leads"] == 0
    assert report.table.total["win_rate"] is None
    assert report.findings == []


# --- Stage conversion and time in stage -----------------------------------------------------


def test_stages_conversion_and_days_for_manager(world, scope_for):
    report = stages.stages(scope_for(world.manager, pipeline=world.pipeline))
    rows = _rows(report.table)
    assert list(rows) == ["Qualification", "Discovery", "Proposal", "Negotiation"]
    q = rows["Qualification"]
    # Finished stays: A 10 d, B 10 d (skips to Proposal: moved on), C 4 d, F 10 d (then back
    # in it since Mar 20). Open now: D 31 d, F 12 d, G 1 d.
    assert (q["entered"], q["moved_on"], q["lost"], q["moved_back"], q["still"]) == (
        6,
        4,
        0,
        0,
        2,
    )
    _approx(q["conversion"], 66.667)
    _approx(q["median_days"], 10)
    _approx(q["mean_days"], 8.5)
    _approx(q["open_median_days"], 12)
    _approx(q["open_mean_days"], 44 / 3)
    assert (q["closed"], q["win_rate"]) == (2, Decimal(50))
    d = rows["Discovery"]
    # A 20 d (moved on), C 30 d (won: moved on), F 28 d (moved back); B never entered it.
    assert (d["entered"], d["moved_on"], d["moved_back"], d["lost"], d["still"]) == (
        3,
        2,
        1,
        0,
        0,
    )
    _approx(d["median_days"], 28)
    _approx(d["mean_days"], 26)
    assert (d["open_median_days"], d["open_mean_days"]) == (None, None)
    assert (d["closed"], d["win_rate"]) == (1, Decimal(100))
    p = rows["Proposal"]
    assert (p["entered"], p["moved_on"], p["lost"]) == (2, 1, 1)
    assert p["loss_rate"] == Decimal(50)
    _approx(p["median_days"], 20)
    _approx(p["mean_days"], 20)
    n = rows["Negotiation"]
    # C re-entered after being reopened from Won on Mar 10; still there: 22 days, and no
    # finished stay.
    assert (n["entered"], n["still"], n["closed"], n["win_rate"]) == (1, 1, 0, None)
    assert (n["median_days"], n["mean_days"]) == (None, None)
    _approx(n["open_median_days"], 22)
    _approx(n["open_mean_days"], 22)
    assert report.findings[0].startswith("Proposal loses the most deals: 1 of 2")
    assert report.findings[1] == (
        "Deals stay longest in Discovery: median 28 days before they leave it."
    )
    assert report.findings[2] == (
        "The deals open in Negotiation have been there longest: median 22 days so far."
    )


def test_stages_for_an_admin_count_every_team_with_the_same_rules(world, scope_for):
    """An admin's whole pipeline is read without joining each visit to its deal (the
    visits are grouped first, then joined to the closed deals): the same figures, with
    the other team's deal E (created Jan 5 in Qualification, won Feb 1) added."""
    rows = _rows(stages.stages(scope_for(world.admin, pipeline=world.pipeline)).table)
    q = rows["Qualification"]
    assert (q["entered"], q["moved_on"], q["lost"], q["moved_back"], q["still"]) == (
        7,
        5,
        0,
        0,
        2,
    )
    # Finished stays: A 10, B 10, C 4, F 10 and E 27 days; open now as for the manager.
    _approx(q["median_days"], 10)
    _approx(q["mean_days"], 61 / 5)
    _approx(q["open_median_days"], 12)
    assert (q["closed"], q["win_rate"]) == (3, Decimal(200) / 3)
    manager = _rows(stages.stages(scope_for(world.manager, pipeline=world.pipeline)).table)
    for name in ("Discovery", "Proposal", "Negotiation"):
        assert rows[name] == manager[name]


def test_stages_range_start_limits_entries(world, scope_for):
    rows = _rows(
        stages.stages(
            scope_for(world.manager, pipeline=world.pipeline, start=dt.date(2026, 2, 1))
        ).table
    )
    # From Feb 1: C (left after 4 d), D (open 31 d), F (left after 10 d, open again 12 d),
    # G (open 1 d) entered Qualification.
    assert rows["Qualification"]["entered"] == 4
    _approx(rows["Qualification"]["median_days"], 7)  # middle of 4, 10
    _approx(rows["Qualification"]["open_median_days"], 12)  # middle of 1, 12, 31
    assert rows["Proposal"]["entered"] == 1  # A on Feb 9; B entered on Jan 25


def test_stages_rep_sees_own_deals_only(world, scope_for):
    rows = _rows(stages.stages(scope_for(world.rep, pipeline=world.pipeline)).table)
    # rep: A, B, F, G.
    assert rows["Qualification"]["entered"] == 4
    assert rows["Negotiation"]["entered"] == 0
    assert rows["Negotiation"]["median_days"] is None
    assert rows["Negotiation"]["conversion"] is None


def test_stages_empty_range(world, scope_for):
    rows = _rows(
        stages.stages(
            scope_for(
                world.manager,
                pipeline=world.pipeline,
                start=dt.date(2025, 1, 1),
                end=dt.date(2025, 1, 31),
            )
        ).table
    )
    assert all(r["entered"] == 0 and r["median_days"] is None for r in rows.values())
    assert all(r["open_median_days"] is None for r in rows.values())


def test_stage_drilldown_ids_match_counts(world, scope_for):
    from forecasting.reports.drilldown import drilldown

    scope = scope_for(world.manager, pipeline=world.pipeline)
    discovery = world.pipeline.stages.get(name="Discovery")
    _, qs = drilldown(scope, {"kind": "entered", "stage": str(discovery.pk), "outcome": "back"})
    assert list(qs.values_list("name", flat=True)) == ["F"]
    _, qs = drilldown(scope, {"kind": "entered", "stage": str(discovery.pk)})
    assert sorted(qs.values_list("name", flat=True)) == ["A", "C", "F"]


# --- Win rate, cycle, velocity ---------------------------------------------------------------


def test_win_rate_by_month_and_velocity(world, scope_for):
    report = win_rate.win_rate(scope_for(world.manager))
    rows = _rows(report.table, "month")
    assert list(rows) == ["Jan 2026", "Feb 2026", "Mar 2026"]
    jan, feb, mar = rows["Jan 2026"], rows["Feb 2026"], rows["Mar 2026"]
    assert (jan["won"], jan["lost"], jan["win_rate"], jan["velocity"]) == (0, 0, None, None)
    assert (feb["won"], feb["lost"], feb["win_rate"]) == (0, 1, Decimal(0))
    # C was won on Mar 7 but reopened: it is not a closed deal.
    assert (mar["won"], mar["lost"], mar["win_rate"]) == (1, 0, Decimal(100))
    assert mar["avg_won"] == Decimal(10000)
    assert mar["avg_cycle"] == Decimal(50)  # Jan 10 → Mar 1
    assert mar["median_cycle"] == 50
    assert feb["median_cycle"] is None
    # Open at month end: Jan: A, B; Feb: A, C, F; Mar: C, D, F, G.
    assert [jan["open"], feb["open"], mar["open"]] == [2, 3, 4]
    assert mar["velocity"] == Decimal(800)  # 4 × 100 % × 10,000 / 50
    total = report.table.total
    assert (total["won"], total["lost"], total["win_rate"]) == (1, 1, Decimal(50))
    assert total["open"] == 4
    assert total["velocity"] == Decimal(400)  # 4 × 50 % × 10,000 / 50


def test_win_rate_admin_includes_other_team(world, scope_for):
    rows = _rows(win_rate.win_rate(scope_for(world.admin)).table, "month")
    assert (rows["Feb 2026"]["won"], rows["Feb 2026"]["lost"]) == (1, 1)
    assert rows["Feb 2026"]["avg_cycle"] == Decimal(27)  # Jan 5 → Feb 1
    # Range: A 50 days, E 27 days → median 38.5.
    assert win_rate.win_rate(scope_for(world.admin)).table.total["median_cycle"] == 38.5


def test_win_rate_no_closed_deals(world, scope_for):
    report = win_rate.win_rate(scope_for(world.rep2))
    assert report.table.total["win_rate"] is None
    assert report.table.total["avg_cycle"] is None
    assert report.table.total["velocity"] is None
    assert report.findings == []


def test_velocity_formula():
    assert win_rate.velocity(10, Decimal(25), Decimal(8000), Decimal(40)) == Decimal(500)
    assert win_rate.velocity(10, None, Decimal(8000), Decimal(40)) is None
    assert win_rate.velocity(10, Decimal(25), Decimal(8000), 0) is None


# --- Pipeline created, revenue won, lost reasons ---------------------------------------------


def test_pipeline_by_month_and_lost_reasons(world, scope_for):
    report = pipeline_created.pipeline_by_month(scope_for(world.manager))
    rows = _rows(report.table, "month")
    assert (rows["Jan 2026"]["created"], rows["Jan 2026"]["created_amount"]) == (2, 30000)
    assert (rows["Feb 2026"]["created"], rows["Feb 2026"]["created_amount"]) == (2, 38000)
    assert (rows["Mar 2026"]["created"], rows["Mar 2026"]["created_amount"]) == (2, 45000)
    assert (rows["Mar 2026"]["won"], rows["Mar 2026"]["won_amount"]) == (1, 10000)
    assert (rows["Feb 2026"]["lost"], rows["Feb 2026"]["lost_amount"]) == (1, 20000)
    total = report.table.total
    assert (total["created"], total["created_amount"], total["won_amount"]) == (6, 113000, 10000)
    reasons = report.get_table("reasons")
    assert [(r["reason"], r["lost"], r["share"], r["amount"]) for r in reasons.rows] == [
        ("Price", 1, Decimal(100), Decimal(20000))
    ]


def test_pipeline_source_filter(world, scope_for):
    total = pipeline_created.pipeline_by_month(scope_for(world.manager, source="web")).table.total
    # Only A came from a web lead in scope (D's lead is web too, created in March).
    assert total["created"] == 2
    assert total["created_amount"] == Decimal(15000)


# --- Rotting and slipping --------------------------------------------------------------------


def test_rotting_flags_and_slips(world, scope_for):
    report = rotting.rotting(scope_for(world.manager))
    summary = report.extra["summary"]
    assert summary == {
        "rotting": 2,
        "idle": 1,
        "overdue": 1,
        "slipped": 2,
        "flagged": 2,
        "flagged_amount": Decimal("35000.00"),
        "open": 4,
    }
    rows = _rows(report.get_table("deals"), "deal")
    assert list(rows) == ["C", "D"]  # sorted by amount, largest first
    c, d = rows["C"], rows["D"]
    assert c["flags"] == ["Rotting", "Overdue", "Slipped"]
    _approx(c["days_in_stage"], 22)
    _approx(c["idle_days"], 2)
    assert (c["overdue_days"], c["pushes"], c["pushed_days"]) == (17, 1, 15)
    assert d["flags"] == ["Rotting", "Idle", "Slipped"]
    # Apr 15 → Apr 1 was pulled in, Apr 1 → May 1 pushed out 30 days.
    assert (d["pushes"], d["pushed_days"], d["overdue_days"]) == (1, 30, None)
    _approx(d["idle_days"], 31)


def test_rotting_idle_setting_and_flag_filter(world, scope_for):
    scope = scope_for(world.manager, idle_days=2)
    assert rotting.rotting(scope).extra["summary"]["idle"] == 3  # C (2 d), D, F (7 d)
    rows = rotting.rotting(scope, flag="idle").get_table("deals").rows
    assert sorted(r["deal"] for r in rows) == ["C", "D", "F"]
    rows = rotting.rotting(scope_for(world.manager), flag="overdue").get_table("deals").rows
    assert [r["deal"] for r in rows] == ["C"]


def test_rotting_sorting(world, scope_for):
    rows = rotting.rotting(scope_for(world.manager), sort="-pushed_days").get_table("deals").rows
    assert [r["deal"] for r in rows] == ["D", "C"]
    rows = rotting.rotting(scope_for(world.manager), sort="deal").get_table("deals").rows
    assert [r["deal"] for r in rows] == ["C", "D"]
    rows = rotting.rotting(scope_for(world.manager), sort="bogus").get_table("deals").rows
    assert [r["deal"] for r in rows] == ["C", "D"]


def test_rotting_by_owner(world, scope_for):
    owners = rotting.rotting(scope_for(world.manager)).get_table("owners")
    assert [(r["owner"], r["flagged"], r["amount"]) for r in owners.rows] == [
        (str(world.rep2), 2, Decimal(35000))
    ]


def test_rotting_matches_model_is_rotting(world, scope_for, at_now):
    from pipeline.models import Opportunity

    flagged = {
        r["deal"]
        for r in rotting.rotting(scope_for(world.admin), flag="rotting").get_table("deals").rows
    }
    expected = {
        o.name for o in Opportunity.objects.select_related("stage") if o.is_rotting(now=at_now)
    }
    assert flagged == expected == {"C", "D"}


# --- Scorecards -----------------------------------------------------------------------------


def test_scorecards_reps_beside_average(world, scope_for):
    report = scorecards.scorecards(scope_for(world.manager))
    rows = _rows(report.table, "rep")
    rep, rep2 = rows[str(world.rep)], rows[str(world.rep2)]
    assert (rep["won"], rep["lost"], rep["win_rate"]) == (1, 1, Decimal(50))
    assert rep["avg_cycle"] == Decimal(50)
    assert rep["avg_won"] == Decimal(10000)
    assert rep["activities"] == 1  # the call on F (tasks count once done)
    assert (rep["open_count"], rep["open_amount"]) == (2, Decimal(48000))
    assert rep["quota"] == Decimal(30000)
    _approx(rep["attainment"], 33.333)
    assert (rep2["won"], rep2["lost"], rep2["win_rate"], rep2["attainment"]) == (0, 0, None, None)
    assert (rep2["open_count"], rep2["open_amount"], rep2["activities"]) == (2, 35000, 1)
    # The per-rep average: each column's mean over the reps that have a figure in it.
    avg = report.table.average
    assert avg["rep"] == "Per-rep average"
    assert (avg["won"], avg["lost"], avg["won_amount"]) == (Decimal("0.5"), Decimal("0.5"), 5000)
    assert avg["win_rate"] == Decimal(50)  # rep2 closed nothing: no rate, left out
    assert (avg["activities"], avg["open_count"], avg["open_amount"]) == (1, 2, 41500)
    assert avg["quota"] == Decimal(30000)  # rep2 has no quota: left out
    _approx(avg["attainment"], 33.333)
    # The total: counts and amounts added up, rates pooled.
    total = report.table.total
    assert total["rep"] == "Total of reps shown"
    assert (total["won"], total["lost"], total["win_rate"]) == (1, 1, Decimal(50))
    assert (total["won_amount"], total["activities"]) == (10000, 2)
    assert (total["open_count"], total["open_amount"], total["quota"]) == (4, 83000, 30000)
    _approx(total["attainment"], 33.333)  # 10,000 / 30,000
    assert str(world.manager) not in rows


def test_scorecards_rep_sees_only_self_without_average(world, scope_for):
    report = scorecards.scorecards(scope_for(world.rep))
    assert [r["rep"] for r in report.table.rows] == [str(world.rep)]
    assert report.table.total is None
    assert report.table.average is None


def test_scorecard_page_for_one_rep(world, scope_for):
    report = scorecards.scorecard(scope_for(world.manager), world.rep)
    own, team = report.table.rows
    assert own["win_rate"] == Decimal(50)
    assert team["rep"] == "East: per-rep average"
    assert team["win_rate"] == Decimal(50)
    # A rep looking at their own card gets no team figures (they may only see their own).
    assert len(scorecards.scorecard(scope_for(world.rep), world.rep).table.rows) == 1


# --- Priorities ------------------------------------------------------------------------------


def test_priorities_ranked_by_documented_score(world, scope_for):
    items = priorities.priorities(scope_for(world.rep), owner=world.rep)
    got = [(i["kind"], i["title"], i["score"]) for i in items]
    # Qualify budget: overdue task on a lead: 25 + 35. F: 40 × 800/4,000 + 25 × (90-19)/90
    # + 20 × 7/14 + 15 (next step overdue). G: 40 + 20 × 1/14. Call back (due today, on F):
    # 40 × 0.2 + 25. The task due Apr 20 is beyond the 7-day horizon.
    assert got == [
        ("task", "Qualify budget", 60.0),
        ("deal", "F", round(8 + 25 * 71 / 90 + 10 + 15, 1)),
        ("deal", "G", round(40 + 20 / 14, 1)),
        ("task", "Call back", 33.0),
    ]
    assert [i["rank"] for i in items] == [1, 2, 3, 4]
    assert "next step overdue" in items[1]["reasons"]


def test_priorities_only_own_items_and_limit(world, scope_for):
    items = priorities.priorities(scope_for(world.rep2), owner=world.rep2, limit=1)
    assert [i["title"] for i in items] == ["C"]  # C outranks D (overdue close, bigger)


def test_priorities_empty(db, rep, scope_for):
    assert priorities.priorities(scope_for(rep), owner=rep) == []


def test_default_range_is_twelve_months():
    from forecasting.reports.scope import default_range

    assert default_range(dt.date(2026, 4, 15)) == (dt.date(2025, 5, 1), dt.date(2026, 4, 15))
    assert default_range(dt.date(2026, 12, 31)) == (dt.date(2026, 1, 1), dt.date(2026, 12, 31))


def test_range_constants_cover_world():
    assert START < END


def test_scorecards_average_attainment_ignores_reps_without_quota(world, scope_for):
    from forecasting.models import Quota
    from pipeline import services

    # rep2 wins D (5,000) in March but has no quota: the attainment stays rep's 10,000
    # against rep's 30,000 quota.
    from tests.forecasting.reports.world import at, travel

    with travel(at(3, 28)):
        services.close_won(opportunity=world.d, version=current_version(world.d), by=world.manager)
    assert not Quota.objects.filter(user=world.rep2).exists()
    table = scorecards.scorecards(scope_for(world.manager)).table
    avg, total = table.average, table.total
    _approx(avg["attainment"], 33.333)
    _approx(total["attainment"], 33.333)
    assert total["won_amount"] == Decimal(15000)
    assert avg["won_amount"] == Decimal(7500)
    # rep won 1 of 2 (50 %), rep2 1 of 1 (100 %): the average of the reps' rates is 75 %,
    # the pooled rate 2 of 3.
    assert avg["win_rate"] == Decimal(75)
    _approx(total["win_rate"], 66.667)
    # Cycles: A 50 days, D 27 days; average won 10,000 and 5,000.
    assert (avg["avg_cycle"], avg["avg_won"]) == (Decimal("38.5"), Decimal(7500))
    assert (total["won"], avg["won"]) == (2, 1)


# --- Deal funnel ----------------------------------------------------------------------------


def test_deal_funnel_counts_skipped_stages_as_passed_and_reopened_by_furthest(world, scope_for):
    report = funnel.funnel(scope_for(world.manager), group="source")
    table = report.get_table("deal_funnel")
    rows = _rows(table)
    assert list(rows) == ["Qualification", "Discovery", "Proposal", "Negotiation"]
    # Deals created in the range that the manager sees (the furthest stage reached):
    # A won (5), B skipped Discovery to Proposal then lost (3), C won then reopened to
    # Negotiation (5), D (1), F Discovery then back to Qualification (2), G (1).
    got = {
        name: (r["entered"], r["next"], r["dropped"], r["closed"], r["won"])
        for name, r in rows.items()
    }
    assert got == {
        "Qualification": (6, 4, 2, 2, 1),
        "Discovery": (4, 3, 1, 2, 1),  # B passed Discovery by skipping it
        "Proposal": (3, 2, 1, 2, 1),
        "Negotiation": (2, 2, 0, 1, 1),  # A skipped it to Won; C was won and reopened
    }
    _approx(rows["Qualification"]["drop_rate"], 33.333)
    assert rows["Discovery"]["drop_rate"] == Decimal(25)
    assert rows["Negotiation"]["drop_rate"] == Decimal(0)
    _approx(rows["Proposal"]["win_rate"], 33.333)
    assert report.extra["chart2"]["labels"] == [*rows, "Won"]
    assert report.extra["chart2"]["datasets"][0]["data"] == [6, 4, 3, 2, 2]
    assert "Most deals drop out at Qualification: 2 of 6" in report.findings[-1]
    assert table.caption == "Deal funnel — New business (deals created in the range)"


def test_deal_funnel_follows_the_visibility_rule_and_counts_deals_without_leads(world, scope_for):
    rep = _rows(funnel.funnel(scope_for(world.rep)).get_table("deal_funnel"))
    # rep's deals: A, B, F, G; B, F and G came from no lead.
    assert [r["entered"] for r in rep.values()] == [4, 3, 2, 1]
    admin = _rows(funnel.funnel(scope_for(world.admin)).get_table("deal_funnel"))
    # The admin also sees E (outsider): created in Qualification, won.
    assert [r["entered"] for r in admin.values()] == [7, 5, 4, 3]
    assert admin["Negotiation"]["won"] == 2


def test_deal_funnel_empty_range_says_so(world, scope_for):
    report = funnel.funnel(
        scope_for(world.manager, start=dt.date(2025, 1, 1), end=dt.date(2025, 1, 31))
    )
    table = report.get_table("deal_funnel")
    assert table.rows == []
    assert table.empty.startswith("No deals were created in New business in this range.")
    assert report.extra["chart2"] is None


def test_deal_funnel_drilldown_lists_the_deals_of_each_cell(world, scope_for):
    from forecasting.reports.drilldown import drilldown

    scope = scope_for(world.manager)
    rows = _rows(funnel.funnel(scope).get_table("deal_funnel"))
    discovery = world.pipeline.stages.get(name="Discovery")
    names = {}
    for outcome in ("entered", "next", "dropped", "closed", "won"):
        title, qs = drilldown(scope, {"kind": "deal_funnel", "stage": discovery.pk,
                                      "outcome": outcome})  # fmt: skip
        names[outcome] = sorted(qs.values_list("name", flat=True))
        assert len(names[outcome]) == rows["Discovery"][outcome]
    assert names == {
        "entered": ["A", "B", "C", "F"],
        "next": ["A", "B", "C"],
        "dropped": ["F"],
        "closed": ["A", "B"],
        "won": ["A"],
    }
    assert title == "Deals created that entered Discovery and were won"
    # The rep's drill-down holds only the rep's deals.
    _, qs = drilldown(scope_for(world.rep), {"kind": "deal_funnel", "stage": discovery.pk})
    assert sorted(qs.values_list("name", flat=True)) == ["A", "B", "F"]
    # The links of the table open the same listing.
    assert "kind=deal_funnel" in rows["Discovery"]["_links"]["dropped"]
    assert "outcome=dropped" in rows["Discovery"]["_links"]["dropped"]


def test_scope_transitions_are_those_of_the_scopes_deals(world, scope_for):
    """ReportScope.transitions reads the deal rule on the transitions' own join to their
    deal: the same rows as the transitions of scope.deals(), for every viewer and narrowing."""
    from pipeline.models import StageTransition

    w = world
    scopes = [
        scope_for(w.manager),
        scope_for(w.manager, team=w.team),
        scope_for(w.manager, owner=w.rep2),
        scope_for(w.manager, pipeline=w.pipeline),
        scope_for(w.rep),
        scope_for(w.outsider),
        scope_for(w.admin, owner=w.outsider),
        scope_for(w.manager, source="web"),
    ]
    for scope in scopes:
        expected = StageTransition.objects.filter(opportunity__in=scope.deals().values("pk"))
        assert set(scope.transitions()) == set(expected)
    assert set(scope_for(w.rep2).transitions()) == set(
        StageTransition.objects.filter(opportunity__owner=w.rep2)
    )
    assert scope_for(w.rep2).transitions().exists()
