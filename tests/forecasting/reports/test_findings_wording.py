"""The findings above each report write their percentages as every table does (``50.0%``,
the one ``pct`` style), over the hand-computed world of ``world.py``."""

import re

from forecasting.reports import funnel, pipeline_created, scorecards, stages, win_rate
from pipeline import services
from tests.forecasting.reports.world import at, travel

SPACED_PERCENT = re.compile(r"\d[\s\u00a0\u202f]%")


def _assert_plain(findings):
    assert findings and not [f for f in findings if SPACED_PERCENT.search(f)], findings


def test_funnel_findings(world, scope_for):
    findings = funnel.funnel(scope_for(world.manager), group="source").findings
    assert findings == [
        "The weakest step is opportunity → won: 50.0% convert.",
        "Most deals drop out at Qualification: 2 of 6 that entered it reached no later stage "
        "(33.3%).",
    ]


def test_stages_finding(world, scope_for):
    findings = stages.stages(scope_for(world.manager, pipeline=world.pipeline)).findings
    assert findings[0] == "Proposal loses the most deals: 1 of 2 that entered it (50.0%)."
    _assert_plain(findings)


def test_win_rate_finding(world, scope_for):
    findings = win_rate.win_rate(scope_for(world.manager)).findings
    assert findings == ["Win rate over the range: 50.0% (1 won, 1 lost)."]


def test_lost_reasons_finding(world, scope_for):
    findings = pipeline_created.pipeline_by_month(scope_for(world.manager)).findings
    assert findings == ["Most lost deals cite “Price”: 1 of 1 (100.0%)."]


def test_scorecards_finding(world, scope_for):
    findings = scorecards.scorecards(scope_for(world.admin)).findings
    assert findings == [
        f"{world.rep} has the lowest win rate: 50.0% against 75.0% on average per rep."
    ]


def test_scorecard_finding_against_the_team(world, scope_for):
    # Two more calls: the rep logged 3 activities against 2 per rep on the team (+50%).
    with travel(at(3, 27)):
        for subject in ("Pricing call", "Legal call"):
            services.log_activity(by=world.rep, kind="call", subject=subject, opportunity=world.f)
    findings = scorecards.scorecard(scope_for(world.manager), world.rep).findings
    assert "Activities logged is 50% above the team average — a strength." in findings
    _assert_plain(findings)
