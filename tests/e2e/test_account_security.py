"""Account security in a real browser: the lockout message on the login page, the password
change page, and an admin enrolling in required two-factor sign-in and signing in again with a
code computed from the key the page showed."""

import datetime as dt
import re
from base64 import b32decode

import pytest
import time_machine
from django_otp.oath import TOTP

from tests.e2e.conftest import login
from tests.e2e.test_accessibility import _violations

NEW_PASSWORD = "Copper-kettle-49"


def _code(secret: str, at: dt.datetime) -> str:
    key = secret.replace(" ", "")
    totp = TOTP(b32decode(key + "=" * (-len(key) % 8)), step=30, t0=0, digits=6, drift=0)
    totp.time = at.timestamp()
    return f"{totp.token():06d}"


@pytest.mark.django_db(transaction=True)
def test_login_lockout_message_in_the_browser(new_page, rep, settings, artifacts_dir):
    settings.AXES_FAILURE_LIMIT = 3
    settings.AXES_COOLOFF_TIME = dt.timedelta(minutes=15)
    page = new_page()
    for _ in range(3):
        login(page, "rep", "wrong-password")
    login(page, "rep")  # the right password, too late
    alert = page.get_by_role("alert")
    assert alert.inner_text().strip() == (
        "Too many failed sign-in attempts. Try again in 15 minutes."
    )
    assert "/accounts/login/" in page.url
    assert page.get_by_label("Username").input_value() == "rep"
    page.screenshot(path=str(artifacts_dir / "login-lockout.png"))
    assert _violations(page) == []


@pytest.mark.django_db(transaction=True)
def test_password_change_from_the_user_menu(new_page, rep, pipeline, artifacts_dir):
    page = new_page()
    login(page, "rep")
    page.locator("details.usermenu > summary").click()
    page.get_by_role("link", name="Password").click()
    page.wait_for_url("**/accounts/password/")
    assert page.get_by_role("heading", name="Change your password").is_visible()
    page.get_by_label("Old password").fill("wrong")
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password confirmation").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    page.wait_for_load_state()
    assert "Your old password was entered incorrectly" in page.inner_text("main")
    page.screenshot(path=str(artifacts_dir / "password-change.png"), full_page=True)
    assert _violations(page) == []

    page.get_by_label("Old password").fill("pass-word-123")
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password confirmation").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    page.wait_for_url("**/accounts/password/done/")
    assert page.get_by_role("heading", name="Password changed").is_visible()
    rep.refresh_from_db()
    assert rep.check_password(NEW_PASSWORD)


@pytest.mark.django_db(transaction=True)
def test_admin_enrols_in_required_two_factor_then_signs_in_with_a_code(
    new_page, admin_user, pipeline, settings, artifacts_dir
):
    settings.OPPORTUNE_REQUIRE_2FA = True
    page = new_page()
    login(page, "admin")
    page.wait_for_url("**/accounts/two-factor/**")
    assert page.get_by_role("heading", name="Set up two-factor sign-in").is_visible()
    assert page.get_by_role("navigation", name="Main").count() == 0  # nothing else to reach
    qr = page.get_by_role("img", name="QR code to add Opportune to your authenticator app")
    assert qr.evaluate("img => img.complete && img.naturalWidth > 0")
    page.screenshot(path=str(artifacts_dir / "two-factor-enrol.png"), full_page=True)
    assert _violations(page) == []

    page.goto("/pipeline/board/")  # refused until enrolled
    assert "/accounts/two-factor/" in page.url
    secret = page.get_by_label("Key").inner_text()
    assert re.fullmatch(r"[A-Z2-7 ]+", secret)
    page.get_by_label("6-digit code").fill(_code(secret, dt.datetime.now(dt.UTC)))
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    page.wait_for_url("**/pipeline/board/")
    assert "Two-factor sign-in is on" in page.inner_text("main")
    page.locator("details.usermenu > summary").click()
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/accounts/login/")

    # Later (a code is good once): password, then the code step.
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=45)
    with time_machine.travel(later, tick=True):
        login(page, "admin")
        page.wait_for_url("**/accounts/two-factor/verify/**")
        assert page.get_by_role("heading", name="Enter your code").is_visible()
        wrong = "000000" if _code(secret, later) != "000000" else "111111"
        page.get_by_label("6-digit code").fill(wrong)
        page.get_by_role("button", name="Verify").click()
        page.wait_for_load_state()
        assert page.get_by_role("alert").count() >= 1
        page.screenshot(path=str(artifacts_dir / "two-factor-verify.png"), full_page=True)
        assert _violations(page) == []

    # The wrong code throttles the next try for a second.
    later += dt.timedelta(seconds=3)
    with time_machine.travel(later, tick=True):
        page.get_by_label("6-digit code").fill(_code(secret, dt.datetime.now(dt.UTC)))
        page.get_by_role("button", name="Verify").click()
        page.wait_for_url(re.compile(r".*/$"))
        assert page.get_by_role("navigation", name="Main").is_visible()
        page.screenshot(path=str(artifacts_dir / "two-factor-signed-in.png"))
        page.goto("/admin/")
        assert page.get_by_role("heading", name="Pipelines, stages, teams and users").is_visible()
