"""The rep's journey in a real browser: a lead becomes a deal, the deal is dragged across
the board and closed lost with a reason; the manager sees it, another rep cannot open it."""

import datetime as dt

import pytest
from django.utils import timezone

from pipeline.models import Opportunity
from tests.e2e.conftest import login


def _drag(page, card, target):
    """Drag ``card`` onto ``target`` with real mouse moves (SortableJS listens to them)."""
    card.scroll_into_view_if_needed()
    box = card.bounding_box()
    page.mouse.move(box["x"] + 20, box["y"] + 10)
    page.mouse.down()
    page.mouse.move(box["x"] + 30, box["y"] + 20, steps=5)
    target.scroll_into_view_if_needed()
    tbox = target.bounding_box()
    page.mouse.move(tbox["x"] + tbox["width"] / 2, tbox["y"] + 30, steps=15)
    page.mouse.move(tbox["x"] + tbox["width"] / 2, tbox["y"] + 32, steps=2)
    page.mouse.up()


def _column(page, name):
    return page.locator("section.column").filter(
        has=page.get_by_role("heading", name=name, exact=True)
    )


@pytest.mark.django_db(transaction=True)
def test_rep_journey_lead_to_lost_deal_on_the_board(
    new_page, rep, rep2, manager, pipeline, lost_reason, artifacts_dir
):
    page = new_page()
    login(page, "rep")

    # A lead is created, qualified and converted.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Leads").click()
    page.get_by_role("link", name="+ New lead").click()
    page.get_by_label("First name").fill("Dana")
    page.get_by_label("Last name").fill("Ito")
    page.get_by_label("Company name").fill("Umbrella Analytics")
    page.get_by_role("button", name="Create lead").click()
    page.get_by_role("heading", name="Dana Ito").wait_for()
    page.get_by_role("button", name="Qualify as prospect").click()
    page.get_by_text("is qualified as a prospect").wait_for()
    page.get_by_role("link", name="Convert to deal").click()
    page.get_by_label("Need").fill("Forecasting for 40 reps")
    page.get_by_label("Budget").fill("60000")
    page.locator("#id_timeline").fill("Decide by March")
    page.get_by_label("Deal amount").fill("48000")
    close = (timezone.localdate() + dt.timedelta(days=45)).isoformat()
    page.get_by_label("Expected close date").fill(close)
    page.get_by_role("button", name="Convert to deal").click()
    deal = Opportunity.objects.get()
    page.wait_for_url(f"**/pipeline/opportunities/{deal.pk}/")

    # On the board the deal sits in the first stage; drag it across two stages.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Board").click()
    card = page.locator(f"#card-{deal.pk}")
    assert _column(page, "Qualification").locator(f"#card-{deal.pk}").is_visible()
    assert "$48,000" in card.inner_text()
    _drag(page, card, _column(page, "Discovery").locator("ol.cards"))
    page.get_by_role("status").get_by_text("moved to Discovery").wait_for()
    _column(page, "Discovery").locator(f"#card-{deal.pk}").wait_for()
    assert "1 deal" in _column(page, "Discovery").locator(".column-totals").inner_text()

    _drag(page, page.locator(f"#card-{deal.pk}"), _column(page, "Proposal").locator("ol.cards"))
    page.get_by_role("status").get_by_text("moved to Proposal").wait_for()
    _column(page, "Proposal").locator(f"#card-{deal.pk}").wait_for()
    deal.refresh_from_db()
    assert deal.stage.name == "Proposal" and deal.version == 3
    assert [t.to_stage.name for t in deal.transitions.order_by("changed_at", "id")] == [
        "Qualification",
        "Discovery",
        "Proposal",
    ]
    page.reload()
    assert _column(page, "Proposal").locator(f"#card-{deal.pk}").is_visible()
    page.screenshot(path=str(artifacts_dir / "board.png"), full_page=True)

    # The manager sees the deal on the team's board.
    boss = new_page()
    login(boss, "manager")
    boss.goto("/pipeline/board/")
    assert _column(boss, "Proposal").locator(f"#card-{deal.pk}").is_visible()
    assert deal.owner.get_full_name() in boss.locator(f"#card-{deal.pk}").inner_text()

    # Dropping on Lost asks for a reason; cancelling puts the card back.
    _drag(page, page.locator(f"#card-{deal.pk}"), page.locator(".drop-lost"))
    dialog = page.get_by_role("dialog")
    dialog.wait_for()
    dialog.get_by_role("button", name="Cancel").click()
    _column(page, "Proposal").locator(f"#card-{deal.pk}").wait_for()
    assert Opportunity.objects.get().stage.name == "Proposal"

    _drag(page, page.locator(f"#card-{deal.pk}"), page.locator(".drop-lost"))
    dialog.wait_for()
    dialog.get_by_role("button", name="Close as lost").click()
    dialog.get_by_text("Choose why the deal was lost.").wait_for()
    dialog.get_by_label("Why was it lost?").select_option(label="Price")
    dialog.get_by_label("Note").fill("Went with a cheaper tool")
    dialog.get_by_role("button", name="Close as lost").click()
    page.get_by_role("status").get_by_text("moved to Lost").wait_for()
    assert page.locator(f"#card-{deal.pk}").count() == 0
    deal.refresh_from_db()
    assert deal.stage.is_lost and deal.lost_reason == lost_reason
    assert deal.lost_note == "Went with a cheaper tool"

    # The manager no longer has it on the board but opens it and sees why it was lost.
    boss.reload()
    assert boss.locator(f"#card-{deal.pk}").count() == 0
    boss.goto(f"/pipeline/opportunities/{deal.pk}/")
    boss.locator("#timeline").get_by_text("Lost (from Proposal) — Price").wait_for()
    boss.screenshot(path=str(artifacts_dir / "deal_lost_manager.png"), full_page=True)

    # Another rep cannot open it.
    other = new_page()
    login(other, "rep2")
    response = other.goto(f"/pipeline/opportunities/{deal.pk}/")
    assert response.status == 404
    other.goto("/pipeline/opportunities/")
    assert other.get_by_text("Umbrella").count() == 0


@pytest.mark.django_db(transaction=True)
def test_rep_journey_conflict_on_drop_shows_message_and_reloads_card(
    new_page, rep, manager, pipeline
):
    from decimal import Decimal

    from pipeline import services
    from tests.factories import OpportunityFactory

    deal = OpportunityFactory(owner=rep, pipeline=pipeline, name="Globex renewal")
    page = new_page()
    login(page, "rep")
    page.goto("/pipeline/board/")
    # Someone else changes the deal after the board was loaded.
    services.update_opportunity(
        opportunity=deal, by=manager, version=deal.version, amount=Decimal("777")
    )
    _drag(page, page.locator(f"#card-{deal.pk}"), _column(page, "Discovery").locator("ol.cards"))
    page.get_by_role("status").get_by_text("Someone else changed").wait_for()
    card = _column(page, "Qualification").locator(f"#card-{deal.pk}")
    card.wait_for()
    assert "$777" in card.inner_text() and card.get_attribute("data-version") == "2"
    assert Opportunity.objects.get().stage.name == "Qualification"


@pytest.mark.django_db(transaction=True)
def test_rep_journey_board_works_without_javascript(browser, live_server, rep, pipeline):
    from tests.factories import OpportunityFactory

    deal = OpportunityFactory(owner=rep, pipeline=pipeline, name="No-JS deal")
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    try:
        page = context.new_page()
        login(page, "rep")
        page.goto("/pipeline/board/")
        card = page.locator(f"#card-{deal.pk}")
        card.get_by_role("link", name="Move No-JS deal").click()
        page.get_by_role("heading", name="Move “No-JS deal”").wait_for()
        page.get_by_label("Move to").select_option(label="Discovery (25%)")
        page.get_by_role("button", name="Move").click()
        page.get_by_text("moved to Discovery").wait_for()
        assert "/pipeline/board/" in page.url
        assert _column(page, "Discovery").locator(f"#card-{deal.pk}").is_visible()
    finally:
        context.close()


@pytest.mark.django_db(transaction=True)
def test_rep_journey_moves_a_deal_from_the_keyboard(new_page, rep, pipeline):
    """With JavaScript, "Move…" opens the move form inside the card: no dragging needed."""
    from tests.factories import OpportunityFactory

    deal = OpportunityFactory(owner=rep, pipeline=pipeline, name="Keyboard deal")
    page = new_page()
    login(page, "rep")
    page.goto("/pipeline/board/")
    card = page.locator(f"#card-{deal.pk}")
    card.get_by_role("link", name="Move Keyboard deal").focus()
    page.keyboard.press("Enter")
    select = card.get_by_label("Stage for Keyboard deal")
    select.wait_for()
    assert select.evaluate("el => el === document.activeElement")
    select.select_option(label="Discovery")
    card.get_by_role("button", name="Move", exact=True).click()
    page.get_by_role("status").get_by_text("moved to Discovery").wait_for()
    moved = _column(page, "Discovery").locator(f"#card-{deal.pk}")
    moved.wait_for()
    assert moved.get_attribute("data-version") == "2"
    assert "1 deal" in _column(page, "Discovery").locator(".column-totals").inner_text()
    assert "/pipeline/board/" in page.url  # moved in place, no page load
    assert Opportunity.objects.get().stage.name == "Discovery"
    # Cancel closes the form and gives the focus back to the card's link.
    opener = moved.get_by_role("link", name="Move Keyboard deal")
    opener.click()
    moved.get_by_role("button", name="Cancel").click()
    assert opener.evaluate("el => el === document.activeElement")
    assert moved.locator("form").count() == 0


@pytest.mark.django_db(transaction=True)
def test_rep_journey_show_more_loads_the_rest_of_a_column_in_place(new_page, rep, pipeline):
    from tests.factories import OpportunityFactory

    for i in range(53):
        OpportunityFactory(owner=rep, pipeline=pipeline, name=f"Deal {i:02}")
    page = new_page()
    login(page, "rep")
    page.goto("/pipeline/board/")
    column = _column(page, "Qualification")
    assert column.locator("li.card").count() == 50
    assert "53 deals" in column.locator(".column-totals").inner_text()
    column.get_by_role("link", name="Show 3 more").click()
    column.locator("li.card").nth(52).wait_for()
    assert column.locator("li.card").count() == 53
    assert column.get_by_role("link", name="Show 3 more").count() == 0
    assert "/pipeline/board/" in page.url
