"""Passwords: every signed-in user changes their own; an admin emails a one-time link to choose
a new one (the admin never sees or sets it). Mail goes through Django's mail backend, read here
from the in-memory outbox."""

import re

import pytest
from axes.models import AccessAttempt
from django.conf import settings as django_settings
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.urls import reverse

from accounts.models import User
from tests.factories import UserFactory

PASSWORD = "pass-word-123"
NEW_PASSWORD = "Copper-kettle-49"


def _link(message) -> str:
    match = re.search(r"https?://\S+", message.body)
    assert match, message.body
    return match.group(0)


# --- change ----------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["rep", "manager", "admin_user"])
def test_password_change_page_for_every_signed_in_user(client, request, who, pipeline):
    client.force_login(request.getfixturevalue(who))
    home = client.get(reverse("home"))
    assert f'href="{reverse("password_change")}"'.encode() in home.content  # user menu
    page = client.get(reverse("password_change"))
    assert page.status_code == 200
    body = page.content.decode()
    assert "Change your password" in body and 'class="account card"' in body
    for name in ("old_password", "new_password1", "new_password2"):
        assert f'name="{name}"' in body


def test_password_change_needs_sign_in(client, db):
    response = client.get(reverse("password_change"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_password_change_keeps_this_session_and_changes_the_password(client, rep):
    client.force_login(rep)
    other = type(client)()
    other.force_login(rep)
    response = client.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302 and response["Location"] == reverse("password_change_done")
    done = client.get(response["Location"])
    assert done.status_code == 200 and b"Password changed" in done.content
    rep.refresh_from_db()
    assert rep.check_password(NEW_PASSWORD)
    assert client.get(reverse("home")).status_code == 200
    # Another session of the same user is signed out by the new password.
    assert other.get(reverse("home")).status_code == 302


def test_password_change_wrong_current_password_changes_nothing(client, rep):
    client.force_login(rep)
    response = client.post(
        reverse("password_change"),
        {"old_password": "nope", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 200
    assert b"Your old password was entered incorrectly" in response.content
    rep.refresh_from_db()
    assert rep.check_password(PASSWORD)


def test_password_change_refuses_a_weak_password(client, rep):
    client.force_login(rep)
    response = client.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": "12345678", "new_password2": "12345678"},
    )
    assert b"This password is too common" in response.content
    rep.refresh_from_db()
    assert rep.check_password(PASSWORD)


# --- admin-initiated reset -------------------------------------------------------------------


def _send(client, admin_user, *users):
    client.force_login(admin_user)
    return client.post(
        reverse("admin:accounts_user_changelist"),
        {"action": "send_password_reset", "_selected_action": [u.pk for u in users]},
        follow=True,
    )


def test_admin_reset_emails_a_one_time_link_that_sets_a_new_password(client, admin_user, rep):
    page = _send(client, admin_user, rep)
    assert b"Password link sent to rep" in page.content
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [rep.email]
    assert message.subject == "Choose a new Opportune password"
    assert PASSWORD not in message.body
    link = _link(message)
    # Links in mail start with OPPORTUNE_BASE_URL (the development server here).
    assert link.startswith(f"{django_settings.OPPORTUNE_BASE_URL}/accounts/reset/")

    visitor = type(client)()
    form_page = visitor.get(link, follow=True)
    assert form_page.status_code == 200 and b"Choose a new password" in form_page.content
    set_url = form_page.redirect_chain[-1][0]
    done = visitor.post(set_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.status_code == 302 and done["Location"] == reverse("password_reset_complete")
    assert b"Password set" in visitor.get(done["Location"]).content
    rep.refresh_from_db()
    assert rep.check_password(NEW_PASSWORD)

    # The link worked once.
    again = type(client)().get(link, follow=True)
    assert b"This link no longer works" in again.content


def test_admin_reset_link_dies_when_the_user_signs_in_meanwhile(client, admin_user, rep):
    _send(client, admin_user, rep)
    link = _link(mail.outbox[0])
    type(client)().post(reverse("login"), {"username": "rep", "password": PASSWORD})
    assert b"This link no longer works" in type(client)().get(link, follow=True).content


def test_admin_reset_uses_the_configured_base_url(client, admin_user, rep, settings):
    settings.OPPORTUNE_BASE_URL = "https://crm.example.com"
    _send(client, admin_user, rep)
    assert _link(mail.outbox[0]).startswith("https://crm.example.com/accounts/reset/")


def test_admin_reset_for_a_user_without_email_says_so_and_sends_nothing(
    client, admin_user, rep, team
):
    nomail = UserFactory(username="nomail", email="", team=team)
    page = _send(client, admin_user, nomail, rep)
    assert b"The user nomail has no email address: add one, then send the link." in (page.content)
    assert [m.to for m in mail.outbox] == [[rep.email]]


def test_admin_reset_refuses_deactivated_users(client, admin_user, rep):
    User.objects.filter(pk=rep.pk).update(is_active=False)
    page = _send(client, admin_user, rep)
    assert b"The user rep is deactivated" in page.content
    assert not mail.outbox


def test_admin_reset_gives_a_new_user_without_password_a_first_one(client, admin_user, team):
    newcomer = UserFactory(username="newcomer", email="new@example.com", team=team)
    newcomer.set_unusable_password()
    newcomer.save()
    _send(client, admin_user, newcomer)
    visitor = type(client)()
    form_page = visitor.get(_link(mail.outbox[0]), follow=True)
    visitor.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    newcomer.refresh_from_db()
    assert newcomer.check_password(NEW_PASSWORD)


def test_admin_reset_action_refused_to_managers(client, manager, rep):
    client.force_login(manager)
    response = client.post(
        reverse("admin:accounts_user_changelist"),
        {"action": "send_password_reset", "_selected_action": [rep.pk]},
    )
    assert response.status_code == 302 and reverse("admin:login") in response["Location"]
    assert not mail.outbox


def test_password_reset_ends_a_sign_in_lockout(client, admin_user, rep, settings):
    settings.AXES_FAILURE_LIMIT = 2
    for _ in range(2):
        client.post(reverse("login"), {"username": "rep", "password": "wrong"})
    assert AccessAttempt.objects.filter(username="rep").exists()
    admin_client = type(client)()
    _send(admin_client, admin_user, rep)
    visitor = type(client)()
    form_page = visitor.get(_link(mail.outbox[0]), follow=True)
    visitor.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert not AccessAttempt.objects.filter(username="rep").exists()
    client.post(reverse("login"), {"username": "rep", "password": NEW_PASSWORD})
    assert SESSION_KEY in client.session


def test_password_reset_bad_link_is_a_clear_page(client, db):
    response = client.get("/accounts/reset/MTIz/bad-token/", follow=True)
    assert response.status_code == 200
    assert b"This link no longer works" in response.content


def test_admin_reset_mail_server_down_is_a_message_not_an_error(client, admin_user, rep, settings):
    """A real SMTP connection to a port nobody listens on: refused at once."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port, 2
    page = _send(client, admin_user, rep)
    assert page.status_code == 200
    assert b"The link for rep could not be sent: the mail server did not accept it." in (
        page.content
    )
    assert b"Password link sent" not in page.content
