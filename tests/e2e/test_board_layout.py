"""The board in a real browser, as a manager with a long column: columns scroll inside under
their headers (the page stays about one screen tall), the filter bar's Apply stays beside the
fields at 1440 px, the page never scrolls sideways (1440 and 390 px), the won and lost drop
targets cover no column while a card is dragged, and the person's compact density and
collapsed columns are remembered, with and without JavaScript. Each state is checked with
axe-core and kept as a screenshot."""

import datetime as dt

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import User
from pipeline.models import Pipeline
from tests.e2e.conftest import login
from tests.e2e.test_accessibility import _require_axe, _violations
from tests.factories import OpportunityFactory

DEMO_PASSWORD = "demo-pass-2026"
LONG_COLUMN = 60


@pytest.fixture
def demo(transactional_db):
    """The demo, plus a column longer than the board shows at once (50 cards and "show more")."""
    _require_axe()
    call_command("seed_demo", opportunities=150, seed=3, verbosity=0)
    rep = User.objects.get(username="rep1")
    pipeline = Pipeline.objects.filter(is_active=True).order_by("position", "id").first()
    first = pipeline.stages.filter(kind="open").order_by("position").first()
    close = timezone.localdate() + dt.timedelta(days=30)
    for i in range(LONG_COLUMN):
        OpportunityFactory(
            owner=rep,
            pipeline=pipeline,
            stage=first,
            name=f"Long column deal {i:02d}",
            expected_close_date=close,
        )
    return first


def _overflow_x(page) -> int:
    return page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )


def _board(new_page, width, height=900, **options):
    page = new_page(viewport={"width": width, "height": height}, **options)
    login(page, "manager1", DEMO_PASSWORD)
    page.goto("/pipeline/board/")
    page.wait_for_load_state("networkidle")
    return page


def _saved(page, control):
    """Click a view control and wait for the server's answer to the in-place post."""
    with page.expect_response(lambda r: "/pipeline/board/view/" in r.url) as answer:
        control.click()
    assert answer.value.status == 200


def _boxes_overlap(a, b) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


@pytest.mark.django_db(transaction=True)
def test_board_at_1440_scrolls_columns_inside_and_keeps_one_filter_row(
    demo, new_page, artifacts_dir
):
    page = _board(new_page, 1440)
    assert _overflow_x(page) <= 0
    # A column of 50 cards scrolls inside: the page stays about one screen tall.
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height < 900 * 1.6, height
    column = page.locator(f'section.column[data-stage="{demo.pk}"]')
    body = column.locator(".column-body")
    assert body.locator("li.card").count() == 50
    assert body.evaluate("el => el.scrollHeight > el.clientHeight + 200")
    # Its header stays where it is while the cards scroll under it.
    head_before = column.locator(".column-head").bounding_box()
    body.evaluate("el => { el.scrollTop = el.scrollHeight; }")
    assert column.locator(".column-head").bounding_box() == head_before
    assert column.get_by_role("link", name="Show").is_visible()  # "Show N more", at the end
    # Apply sits on the row of the last fields, not alone on a row of its own.
    apply_box = page.get_by_role("button", name="Apply").bounding_box()
    search_box = page.locator(".filters .f-q input").bounding_box()
    assert abs(apply_box["y"] + apply_box["height"] - search_box["y"] - search_box["height"]) < 6
    owner_box = page.locator(".filters .f-owner select").bounding_box()
    assert abs(owner_box["y"] - search_box["y"]) < 4  # one row of filters
    # The title names the pipeline; the summary says what it counts.
    heading = page.get_by_role("heading", level=1).inner_text()
    assert Pipeline.objects.order_by("position", "id").first().name in heading
    assert " open deals in " in page.locator(".board-summary").inner_text()
    assert _violations(page) == []
    page.screenshot(path=str(artifacts_dir / "board-manager-1440.png"))


@pytest.mark.django_db(transaction=True)
def test_board_on_a_phone_does_not_scroll_sideways(demo, new_page, artifacts_dir):
    page = _board(new_page, 390, 844)
    assert _overflow_x(page) <= 0
    # The columns scroll sideways inside the board instead.
    assert page.locator("#board").evaluate("el => el.scrollWidth > el.clientWidth")
    assert _violations(page) == []
    page.screenshot(path=str(artifacts_dir / "board-manager-390.png"), full_page=True)


@pytest.mark.django_db(transaction=True)
def test_compact_density_and_collapsed_columns_are_remembered(demo, new_page, artifacts_dir):
    page = _board(new_page, 1440)
    board = page.locator("#board")
    tall = page.locator("li.card").first.bounding_box()["height"]
    _saved(page, page.get_by_role("button", name="Compact"))
    assert "is-compact" in board.get_attribute("class")
    assert page.locator("li.card").first.bounding_box()["height"] < tall
    assert page.get_by_role("button", name="Compact").get_attribute("aria-pressed") == "true"

    column = page.locator(f'section.column[data-stage="{demo.pk}"]')
    name = column.get_by_role("heading").inner_text()
    toggle = column.get_by_role("button", name=f"Collapse {name}")
    _saved(page, toggle)
    assert "is-collapsed" in column.get_attribute("class")
    assert column.bounding_box()["width"] < 60
    assert column.locator(".column-body").is_hidden()
    assert column.locator(".col-toggle").get_attribute("aria-expanded") == "false"
    manager = User.objects.get(username="manager1")
    assert (manager.board_density, manager.board_collapsed_stages) == ("compact", [demo.pk])
    assert _violations(page) == []
    page.screenshot(path=str(artifacts_dir / "board-compact-collapsed-1440.png"))

    # Remembered: on a new visit and in another browser.
    page.reload()
    assert "is-compact" in board.get_attribute("class")
    assert "is-collapsed" in column.get_attribute("class")
    other = _board(new_page, 1440)
    assert other.locator(f'section.column[data-stage="{demo.pk}"].is-collapsed').count() == 1

    # Expanding by keyboard brings the cards back.
    page.get_by_role("button", name=f"Expand {name}", exact=False).focus()
    with page.expect_response(lambda r: "/pipeline/board/view/" in r.url):
        page.keyboard.press("Enter")
    assert column.locator(".column-body").is_visible()
    _saved(page, page.get_by_role("button", name="Comfortable"))
    assert "is-compact" not in board.get_attribute("class")
    manager.refresh_from_db()
    assert (manager.board_density, manager.board_collapsed_stages) == ("comfortable", [])
    # Another manager's board is untouched.
    assert User.objects.get(username="manager2").board_density == "comfortable"


@pytest.mark.django_db(transaction=True)
def test_view_forms_work_without_javascript(demo, new_page):
    page = _board(new_page, 1440, java_script_enabled=False)
    with page.expect_navigation():
        page.get_by_role("button", name="Compact").click()
    assert page.url.endswith("/pipeline/board/")
    assert "is-compact" in page.locator("#board").get_attribute("class")
    column = page.locator(f'section.column[data-stage="{demo.pk}"]')
    name = column.get_by_role("heading").inner_text()
    with page.expect_navigation():
        column.get_by_role("button", name=f"Collapse {name}").click()
    assert "is-collapsed" in page.locator(f'section.column[data-stage="{demo.pk}"]').get_attribute(
        "class"
    )


@pytest.mark.django_db(transaction=True)
def test_drop_targets_cover_no_column_while_dragging(demo, new_page, artifacts_dir):
    page = _board(new_page, 1440)
    card = page.locator(f'section.column[data-stage="{demo.pk}"] li.card').first
    box = card.bounding_box()
    page.mouse.move(box["x"] + 20, box["y"] + 10)
    page.mouse.down()
    page.mouse.move(box["x"] + 30, box["y"] + 25, steps=5)
    page.mouse.move(box["x"] + 60, box["y"] - 60, steps=5)
    targets = page.locator("#drop-targets")
    targets.wait_for(state="visible")
    page.screenshot(path=str(artifacts_dir / "board-dragging-1440.png"))
    for drop in (page.locator(".drop-won"), page.locator(".drop-lost")):
        drop_box = drop.bounding_box()
        for i in range(page.locator("section.column").count()):
            column_box = page.locator("section.column").nth(i).bounding_box()
            assert not _boxes_overlap(drop_box, column_box)
    page.mouse.move(box["x"] + 20, box["y"] + 10, steps=5)
    page.mouse.up()
    targets.wait_for(state="hidden")
