"""``manage.py demo_logins``: what ``make run`` prints before it serves the demo."""

import io

import pytest
from django.core.management import call_command

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _printed(*args) -> str:
    out = io.StringIO()
    call_command("demo_logins", *args, stdout=out)
    return out.getvalue()


def test_names_the_address_make_run_serves():
    UserFactory(username="manager1", role="manager")
    text = _printed("--url", "http://127.0.0.1:8765/")
    assert "http://127.0.0.1:8765/accounts/login/" in text
    assert "8000" not in text
    assert "manager1" in text


def test_without_demo_users_says_how_to_load_them():
    assert "run `manage.py seed_demo` first" in _printed()
