"""Notifications in a real browser, as a rep: the bell after the manager reassigns a deal to
them, the notifications page, the notification settings (and the @mention suggestions)."""

import pytest

from notifications.models import Notification, Preference
from tests.e2e.conftest import login
from tests.factories import OpportunityFactory


@pytest.mark.django_db(transaction=True)
def test_notifications_bell_page_and_settings_as_a_rep(
    new_page, rep, rep2, manager, pipeline, artifacts_dir
):
    deal = OpportunityFactory(owner=rep2, pipeline=pipeline, name="Umbrella — 40 seats", by=rep2)

    # The manager reassigns rep2's deal to rep on the edit page.
    boss = new_page()
    login(boss, "manager")
    boss.goto(f"/pipeline/opportunities/{deal.pk}/edit/")
    # The owner field autocompletes: type the rep's name, pick them from the matches.
    boss.get_by_role("combobox", name="Owner").fill(rep.last_name)
    boss.locator(f'[role="option"][data-value="{rep.pk}"]').click()
    assert boss.locator("#id_owner").input_value() == str(rep.pk)
    boss.get_by_role("button", name="Save changes").click()
    boss.wait_for_url(f"**/pipeline/opportunities/{deal.pk}/")
    assert Notification.objects.filter(recipient=rep, event="deal_assigned").count() == 1

    page = new_page()
    login(page, "rep")
    bell = page.get_by_role("link", name="Notifications: 1 unread")
    bell.wait_for()
    page.screenshot(path=str(artifacts_dir / "notify-bell.png"))
    bell.click()
    page.wait_for_url("**/notifications/")
    page.get_by_text(f"{manager} assigned you the deal Umbrella — 40 seats").wait_for()
    page.screenshot(path=str(artifacts_dir / "notify-list.png"), full_page=True)
    page.get_by_role("button", name="Open").click()
    page.wait_for_url(f"**/pipeline/opportunities/{deal.pk}/")
    page.get_by_role("link", name="Notifications: none unread").wait_for()

    # The settings page: choose a digest hour and a time zone, create the calendar feed.
    page.goto("/notifications/settings/")
    page.get_by_label("At").select_option("7")
    page.get_by_label("Time zone").fill("Europe/Paris")
    page.get_by_role("button", name="Save settings").click()
    page.get_by_text("Your notification settings are saved.").wait_for()
    page.get_by_role("button", name="Create my calendar address").click()
    page.get_by_label("Your feed's address").wait_for()
    page.screenshot(path=str(artifacts_dir / "notify-settings.png"), full_page=True)
    pref = Preference.objects.get(user=rep)
    assert (pref.digest_hour, pref.time_zone) == (7, "Europe/Paris") and pref.calendar_token

    # Typing "@ma" in a note suggests the manager (and no one the rep may not name).
    page.goto(f"/pipeline/opportunities/{deal.pk}/")
    body = page.locator("textarea[name=body]").first
    body.click()
    body.press_sequentially("Thanks @ma")
    menu = page.get_by_role("listbox", name="People you can mention")
    menu.get_by_role("option", name="@manager").wait_for()
    page.screenshot(path=str(artifacts_dir / "notify-mention.png"))
    assert menu.get_by_role("option").count() == 1
    body.press("Enter")
    assert body.input_value() == "Thanks @manager "
