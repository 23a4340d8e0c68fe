import pytest

from tests.e2e.conftest import login


@pytest.mark.django_db(transaction=True)
def test_login_page_signs_a_rep_in_and_out(new_page, rep):
    page = new_page()
    login(page, "rep")
    assert page.get_by_role("navigation", name="Main").is_visible()
    page.locator("details.usermenu > summary").click()
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/accounts/login/")


@pytest.mark.django_db(transaction=True)
def test_login_wrong_password_shows_message(new_page, rep):
    page = new_page()
    login(page, "rep", "wrong-password")
    assert page.get_by_role("alert").is_visible()
    assert "/accounts/login/" in page.url
