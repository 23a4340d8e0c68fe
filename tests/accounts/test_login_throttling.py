"""Sign-in throttling (django-axes, database handler): after AXES_FAILURE_LIMIT wrong passwords
for one username from one address, even the right password is refused, with a clear message on
the styled login page, until the cool-off has passed or an admin unlocks it."""

import datetime as dt

import pytest
import time_machine
from axes.models import AccessAttempt
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from accounts.lockout import client_ip

PASSWORD = "pass-word-123"
LOGIN = "/accounts/login/"


def _post(client, username, password, url=LOGIN, **extra):
    return client.post(url, {"username": username, "password": password}, **extra)


def _signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def _fail(client, username, times, url=LOGIN, **extra):
    for _ in range(times):
        response = _post(client, username, "wrong-password", url, **extra)
    return response


@pytest.fixture
def limit(settings):
    settings.AXES_FAILURE_LIMIT = 3
    settings.AXES_COOLOFF_TIME = dt.timedelta(minutes=15)
    return 3


def test_login_right_password_refused_after_failure_limit(client, rep, limit):
    first = _fail(client, "rep", limit - 1)
    assert first.status_code == 200 and b"correct username and password" in first.content

    locked = _fail(client, "rep", 1)
    assert locked.status_code == 429

    response = _post(client, "rep", PASSWORD)
    assert response.status_code == 429
    assert not _signed_in(client)
    body = response.content.decode()
    assert "Too many failed sign-in attempts. Try again in 15 minutes." in body
    # The app's own styled login page, with the form still there, not a bare text page.
    assert '<section class="login card">' in body and 'name="username"' in body
    assert 'role="alert"' in body
    assert "correct username and password" not in body


def test_login_lockout_ends_after_cool_off(client, rep, limit):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        _fail(client, "rep", limit)
        assert _post(client, "rep", PASSWORD).status_code == 429
    with time_machine.travel(start + dt.timedelta(minutes=14, seconds=59), tick=False):
        # A try while locked restarts the cool-off (the try at `start` was the last one).
        assert _post(client, "rep", PASSWORD).status_code == 429
    later = start + dt.timedelta(minutes=14, seconds=59) + dt.timedelta(minutes=15, seconds=1)
    with time_machine.travel(later, tick=False):
        response = _post(client, "rep", PASSWORD)
    assert response.status_code == 302 and response["Location"] == reverse("home")
    assert _signed_in(client)


def test_login_lockout_message_counts_the_configured_minutes(client, rep, settings):
    settings.AXES_FAILURE_LIMIT = 2
    settings.AXES_COOLOFF_TIME = dt.timedelta(minutes=1)
    response = _fail(client, "rep", 2)
    assert b"Too many failed sign-in attempts. Try again in 1 minute." in response.content


def test_login_success_before_the_limit_resets_the_count(client, rep, limit):
    _fail(client, "rep", limit - 1)
    assert _post(client, "rep", PASSWORD).status_code == 302
    client.logout()
    _fail(client, "rep", limit - 1)
    assert _post(client, "rep", PASSWORD).status_code == 302


def test_login_lockout_is_per_username_and_address(client, rep, rep2, limit):
    _fail(client, "rep", limit)
    # Same address, another account: not locked.
    assert _post(client, "rep2", PASSWORD).status_code == 302
    client.logout()
    # Same account from another address: not locked.
    response = _post(client, "rep", PASSWORD, REMOTE_ADDR="198.51.100.7")
    assert response.status_code == 302


def test_login_lockout_counts_unknown_usernames_too(client, db, limit):
    _fail(client, "nobody", limit)
    assert AccessAttempt.objects.get(username="nobody").failures_since_start == limit


def test_admin_login_is_throttled_too(client, admin_user, limit):
    url = reverse("admin:login")
    _fail(client, "admin", limit, url=url)
    response = _post(client, "admin", PASSWORD, url=url)
    assert response.status_code == 429
    assert not _signed_in(client)
    body = response.content.decode()
    assert "Too many failed sign-in attempts. Try again in 15 minutes." in body
    assert "Opportune administration" in body  # the admin's own login page


def test_login_failures_on_app_and_admin_login_add_up(client, admin_user, limit):
    _fail(client, "admin", limit - 1)
    response = _fail(client, "admin", 1, url=reverse("admin:login"))
    assert response.status_code == 429


def test_admin_unlocks_a_locked_out_user_in_admin(client, rep, admin_user, limit):
    _fail(client, "rep", limit)
    attempt = AccessAttempt.objects.get(username="rep")

    admin_client = type(client)()
    admin_client.force_login(admin_user)
    changelist = admin_client.get(reverse("admin:axes_accessattempt_changelist"))
    assert changelist.status_code == 200 and b"rep" in changelist.content
    delete_url = reverse("admin:axes_accessattempt_delete", args=[attempt.pk])
    assert admin_client.get(delete_url).status_code == 200
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 302
    assert not AccessAttempt.objects.exists()

    assert _post(client, "rep", PASSWORD).status_code == 302


def test_access_attempts_admin_refused_to_managers(client, manager):
    client.force_login(manager)
    response = client.get(reverse("admin:axes_accessattempt_changelist"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_login_force_login_is_not_throttled(client, rep, limit):
    """Fixtures sign in with force_login, which never goes through authenticate()."""
    _fail(client, "rep", limit)
    client.force_login(rep)
    assert client.get(reverse("home")).status_code == 200


def test_client_ip_is_the_connection_address_without_proxy(settings):
    settings.OPPORTUNE_PROXY_COUNT = 0
    request = RequestFactory().get("/", REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR="203.0.113.5")
    assert client_ip(request) == "192.0.2.1"


def test_client_ip_behind_proxies_ignores_what_the_client_wrote(settings):
    settings.OPPORTUNE_PROXY_COUNT = 1
    factory = RequestFactory()
    spoofed = factory.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.5")
    assert client_ip(spoofed) == "203.0.113.5"
    settings.OPPORTUNE_PROXY_COUNT = 2
    two = factory.get("/", REMOTE_ADDR="10.0.0.3", HTTP_X_FORWARDED_FOR="203.0.113.5, 10.0.0.2")
    assert client_ip(two) == "203.0.113.5"
    missing = factory.get("/", REMOTE_ADDR="10.0.0.3")
    assert client_ip(missing) == "10.0.0.3"


def test_login_lockout_behind_proxy_is_per_client_address(client, rep, limit, settings):
    settings.OPPORTUNE_PROXY_COUNT = 1
    _fail(client, "rep", limit, HTTP_X_FORWARDED_FOR="203.0.113.5")
    locked = _post(client, "rep", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.5")
    assert locked.status_code == 429
    other = _post(client, "rep", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.77")
    assert other.status_code == 302
