"""The sign-in page names the demo accounts only on a development installation whose demo
admin still has the demo password."""

import pytest
from django.contrib.auth.hashers import make_password

from accounts.models import User
from pipeline.demo import DEMO_PASSWORD


@pytest.fixture
def demo_users(db):
    password = make_password(DEMO_PASSWORD, salt="opportunedemo")
    User.objects.create(username="admin", first_name="Ada", last_name="Admin", role="admin",
                        password=password)  # fmt: skip
    User.objects.create(username="rep1", first_name="Rita", last_name="Rep", role="rep",
                        password=password)  # fmt: skip


def test_development_demo_shows_the_accounts(client, demo_users, settings):
    settings.OPPORTUNE_DEV = True
    body = client.get("/accounts/login/").content.decode()
    assert "Demo data is loaded" in body
    assert DEMO_PASSWORD in body
    assert "<code>admin</code>" in body and "<code>rep1</code>" in body
    assert "manager1" not in body  # only accounts that exist are named


def test_production_never_shows_the_accounts(client, demo_users, settings):
    settings.OPPORTUNE_DEV = False
    settings.DEBUG = False
    body = client.get("/accounts/login/").content.decode()
    assert "Demo data is loaded" not in body
    assert DEMO_PASSWORD not in body


def test_changed_demo_password_hides_the_hint(client, demo_users, settings):
    settings.OPPORTUNE_DEV = True
    admin = User.objects.get(username="admin")
    admin.set_password("a-new-secret-2026")
    admin.save()
    body = client.get("/accounts/login/").content.decode()
    assert DEMO_PASSWORD not in body


def test_no_demo_data_no_hint(client, db, settings):
    settings.OPPORTUNE_DEV = True
    assert "Demo data is loaded" not in client.get("/accounts/login/").content.decode()


def test_demo_password_still_signs_in(client, demo_users, settings):
    settings.OPPORTUNE_DEV = True
    response = client.post("/accounts/login/", {"username": "rep1", "password": DEMO_PASSWORD})
    assert response.status_code == 302


def test_hint_survives_the_first_sign_in(client, demo_users, settings):
    """Django re-salts the demo's fixed-salt hash at the first sign-in; the hint stays."""
    settings.OPPORTUNE_DEV = True
    before = User.objects.get(username="admin").password
    assert client.post("/accounts/login/", {"username": "admin", "password": DEMO_PASSWORD})
    client.logout()
    assert User.objects.get(username="admin").password != before
    assert "Demo data is loaded" in client.get("/accounts/login/").content.decode()
