"""The frame every page shares: the top bar stays one row on a laptop screen, the account
menu opens and closes like a menu, and a phone gets no sideways-scrolling page."""

import pytest

from tests.e2e.conftest import login


def _spread_of_centres(page) -> float:
    """How far apart, in pixels, the vertical centres of the top bar's brand, links, search
    and menus are: a few pixels on one row, a whole row's height when it wraps."""
    return page.evaluate(
        """() => {
            const items = document.querySelectorAll(
                '.topbar .brand, .topbar .nav a, .topbar .topsearch, .topbar .usermenu > summary');
            const centres = [...items].map(el => {
                const box = el.getBoundingClientRect();
                return (box.top + box.bottom) / 2;
            });
            return Math.max(...centres) - Math.min(...centres);
        }"""
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width", [1280, 1440])
def test_admin_top_bar_is_one_row_on_a_laptop(new_page, admin_user, width, artifacts_dir):
    page = new_page(viewport={"width": width, "height": 900})
    login(page, admin_user.username)
    assert page.locator(".topbar .nav a").count() >= 10
    assert _spread_of_centres(page) < 8
    page.screenshot(path=str(artifacts_dir / f"layout-topbar-admin-{width}.png"))


@pytest.mark.django_db(transaction=True)
def test_account_menu_opens_closes_and_logs_out(new_page, admin_user):
    page = new_page()
    login(page, admin_user.username)
    menu = page.locator("details.usermenu")
    log_out = page.get_by_role("button", name="Log out")
    assert not log_out.is_visible()
    menu.locator("summary").click()
    assert log_out.is_visible()
    assert page.get_by_role("link", name="Admin").is_visible()
    page.keyboard.press("Escape")
    assert not log_out.is_visible()
    menu.locator("summary").click()
    page.locator("main").click()  # a click elsewhere closes it too
    assert not log_out.is_visible()
    menu.locator("summary").click()
    log_out.click()
    page.wait_for_url("**/accounts/login/")


@pytest.mark.django_db(transaction=True)
def test_phone_page_does_not_scroll_sideways(new_page, admin_user, artifacts_dir):
    page = new_page(viewport={"width": 390, "height": 844})
    login(page, admin_user.username)
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0
    # The sections stay reachable: the navigation scrolls inside its own row.
    nav = page.get_by_role("navigation", name="Main")
    assert nav.get_by_role("link", name="Reports", exact=True).count() == 1
    page.screenshot(path=str(artifacts_dir / "layout-home-admin-390.png"))
