"""Email comes from the environment: EMAIL_URL as django-environ reads it, the console by
default (so `make run` prints mail), the sender and the base URL of links configurable.

Each case starts Django in a fresh interpreter with a clean environment."""

import json
import os
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]

PROBE = (
    "import json, django; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({'backend': s.EMAIL_BACKEND, 'host': s.EMAIL_HOST, 'port': s.EMAIL_PORT, "
    "'user': s.EMAIL_HOST_USER, 'password': s.EMAIL_HOST_PASSWORD, 'tls': s.EMAIL_USE_TLS, "
    "'ssl': s.EMAIL_USE_SSL, 'timeout': s.EMAIL_TIMEOUT, 'from': s.DEFAULT_FROM_EMAIL, "
    "'base': s.OPPORTUNE_BASE_URL}))"
)


def _probe(**env):
    clean = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "OPPORTUNE_DEV": "1",
        "REDIS_URL": "",
        "DATABASE_URL": "sqlite:////tmp/opportune-settings-probe.sqlite3",
        **env,
    }
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=BASE_DIR, env=clean, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_email_settings_default_to_the_console():
    probe = _probe()
    assert probe["backend"] == "django.core.mail.backends.console.EmailBackend"
    assert probe["base"] == "http://127.0.0.1:8000"
    assert probe["from"] == "Opportune <opportune@localhost>"


def test_email_settings_read_an_smtp_url_with_starttls():
    probe = _probe(
        EMAIL_URL="smtp+tls://mailer:s3cret@smtp.example.com:587",
        DEFAULT_FROM_EMAIL="Sales <sales@example.com>",
        OPPORTUNE_BASE_URL="https://crm.example.com/",
        EMAIL_TIMEOUT="7",
    )
    assert probe == {
        "backend": "django.core.mail.backends.smtp.EmailBackend",
        "host": "smtp.example.com",
        "port": 587,
        "user": "mailer",
        "password": "s3cret",
        "tls": True,
        "ssl": False,
        "timeout": 7,
        "from": "Sales <sales@example.com>",
        "base": "https://crm.example.com",
    }


def test_email_settings_read_a_plain_smtp_url_for_mailpit():
    probe = _probe(EMAIL_URL="smtp://mailpit:1025")
    assert (probe["backend"], probe["host"], probe["port"], probe["tls"]) == (
        "django.core.mail.backends.smtp.EmailBackend",
        "mailpit",
        1025,
        False,
    )


def test_email_settings_docker_compose_has_mailpit_and_points_the_app_at_it():
    compose = (BASE_DIR / "docker-compose.yml").read_text()
    assert "  mailpit:\n    image: axllent/mailpit" in compose
    assert "EMAIL_URL: ${EMAIL_URL:-smtp://mailpit:1025}" in compose
