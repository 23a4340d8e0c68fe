"""A manager answers the weekly questions from the report pages in a real browser: which
stage loses most deals, which rep needs help, what is rotting; a rep starts from their
priorities. Uses the hand-computed world of the report tests."""

import pytest

from tests.e2e.conftest import login
from tests.forecasting.reports.world import build_world

RANGE = "start=2026-01-01&end=2026-03-31"


@pytest.fixture
def world(team, manager, rep, rep2, outsider, admin_user, pipeline, lost_reason):
    return build_world(
        team=team, manager=manager, rep=rep, rep2=rep2, outsider=outsider,
        admin_user=admin_user, pipeline=pipeline, lost_reason=lost_reason,
    )  # fmt: skip


def _chart_drawn(page) -> bool:
    return page.evaluate(
        "() => [...document.querySelectorAll('canvas[data-chart]')]"
        ".every(c => c._chart && c.width > 0)"
    )


@pytest.mark.django_db(transaction=True)
def test_reports_manager_finds_the_leaking_stage_and_its_deals(new_page, world, artifacts_dir):
    page = new_page()
    login(page, "manager")
    assert page.get_by_role("heading", name="Your team at a glance").is_visible()
    page.get_by_role("link", name="Which stage loses most deals").click()
    page.wait_for_url("**/forecasting/reports/stages/**")
    page.goto(f"/forecasting/reports/stages/?{RANGE}")
    findings = page.get_by_role("region", name="Key findings")
    assert "Proposal loses the most deals: 1 of 2" in findings.inner_text()
    assert _chart_drawn(page)
    table = page.locator("table[data-table=stages]")
    proposal = table.get_by_role("row").filter(has_text="Proposal")
    assert "50.0%" in proposal.inner_text()
    page.screenshot(path=str(artifacts_dir / "reports-stages.png"), full_page=True)
    # The "Lost from here" count links to the deals behind it.
    proposal.locator("a[href*='outcome=lost']").click()
    page.wait_for_url("**/forecasting/reports/deals/**")
    deals = page.locator("table[data-table=deals] tbody")
    assert deals.get_by_role("row").count() == 1
    assert "B" in deals.get_by_role("row").first.inner_text()


@pytest.mark.django_db(transaction=True)
def test_reports_manager_compares_reps_and_opens_a_scorecard(new_page, world, artifacts_dir):
    page = new_page()
    login(page, "manager")
    page.goto(f"/forecasting/reports/scorecards/?{RANGE}")
    assert _chart_drawn(page)
    table = page.locator("table[data-table=scorecards]")
    footer = table.locator("tfoot")
    assert footer.get_by_role("row").nth(0).inner_text().startswith("Per-rep average")
    assert footer.get_by_role("row").nth(1).inner_text().startswith("Total of reps shown")
    table.get_by_role("link", name=str(world.rep)).click()
    page.wait_for_url(f"**/forecasting/reports/scorecards/{world.rep.pk}/**")
    assert page.get_by_role("heading", name=f"Scorecard: {world.rep}").is_visible()
    assert "East: per-rep average" in page.locator("table[data-table=scorecard]").inner_text()
    page.screenshot(path=str(artifacts_dir / "reports-scorecard.png"), full_page=True)


@pytest.mark.django_db(transaction=True)
def test_reports_rotting_filters_live_in_the_url(new_page, world, artifacts_dir):
    page = new_page()
    login(page, "manager")
    page.goto("/forecasting/reports/rotting/")
    page.get_by_label("No activity for (days)").fill("30")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**idle=30**")
    page.get_by_role("navigation", name="Show").get_by_role("link", name="Overdue").click()
    page.wait_for_url("**flag=overdue**")
    rows = page.locator("table[data-table=deals] tbody tr")
    assert rows.count() >= 1
    assert page.locator("table[data-table=deals] .badge-overdue").count() == rows.count()
    # Sorting is a link too; the header says how the column is sorted.
    page.locator("table[data-table=deals] thead").get_by_role("link", name="Times pushed").click()
    page.wait_for_url("**sort=-pushes**")
    header = page.locator("table[data-table=deals] th[aria-sort]")
    assert header.get_attribute("aria-sort") == "descending"
    page.screenshot(path=str(artifacts_dir / "reports-rotting.png"), full_page=True)
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV of open deals that are").click()
    assert download.value.suggested_filename.endswith(".csv")


@pytest.mark.django_db(transaction=True)
def test_reports_bad_filter_is_explained_next_to_the_field(new_page, world):
    page = new_page()
    login(page, "manager")
    page.goto("/forecasting/reports/funnel/?start=2026-03-01&end=2026-01-01")
    alert = page.get_by_role("alert")
    assert "end date is before the start date" in alert.inner_text()
    assert page.get_by_label("From").input_value() == "2026-03-01"


@pytest.mark.django_db(transaction=True)
def test_home_rep_sees_todays_priorities(new_page, world, artifacts_dir):
    page = new_page(viewport={"width": 390, "height": 844})
    login(page, "rep")
    section = page.get_by_role("region", name="Today's priorities")
    assert section.get_by_role("listitem").count() >= 1
    page.screenshot(path=str(artifacts_dir / "home-rep-phone.png"), full_page=True)
    page.get_by_role("link", name="See all and how they are ranked").click()
    assert page.get_by_text("How this is ranked").is_visible()


@pytest.mark.django_db(transaction=True)
def test_percent_charts_write_ticks_and_tooltips_as_the_tables_do(new_page, world):
    """The win-rate chart's value axis reads 0%, 20%, …, and a tooltip 60.4%: no space
    before the sign, and never -0% for a figure that rounds to zero."""
    page = new_page()
    login(page, "manager")
    page.goto(f"/forecasting/reports/win-rate/?{RANGE}")
    assert _chart_drawn(page)
    ticks = page.evaluate(
        "() => document.querySelector('canvas[data-chart=chart-main]')._chart.scales.y.ticks"
        ".map(t => t.label)"
    )
    assert ticks[0] == "0%" and "100%" in ticks, ticks
    shown = page.evaluate(
        """() => {
            const cfg = window.OpportuneCharts.build({
                percent: true, labels: ["Jan"], datasets: [{label: "Win rate", data: [60.44]}],
            });
            const tick = cfg.options.scales.y.ticks.callback;
            const tip = (v) => cfg.options.plugins.tooltip.callbacks.label(
                {raw: v, parsed: {y: v}, dataset: {label: "Win rate"}});
            return {ticks: [0, -0.2, 52, -3].map(tick), tips: [60.44, -0.04, 0].map(tip)};
        }"""
    )
    assert shown["ticks"] == ["0%", "0%", "52%", "-3%"]
    assert shown["tips"] == ["Win rate: 60.4%", "Win rate: 0.0%", "Win rate: 0.0%"]
