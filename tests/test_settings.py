"""Settings from the environment: production refuses to start without a SECRET_KEY.

Each case starts Django in a fresh interpreter with a clean environment, so nothing from the
test run (OPPORTUNE_DEV=1 from pytest-env, a developer's shell) leaks in.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

PROBE = (
    "import json, django; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({'debug': s.DEBUG, 'key': s.SECRET_KEY, "
    "'static': s.STORAGES['staticfiles']['BACKEND'], 'db': s.DATABASES['default']['ENGINE'], "
    "'broker': s.CELERY_BROKER_URL, 'eager': s.CELERY_TASK_ALWAYS_EAGER}))"
)


def _start(**env):
    clean = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        # Explicitly empty, so neither the caller's shell nor a local .env file supplies them.
        "SECRET_KEY": "",
        "DEBUG": "0",
        "OPPORTUNE_DEV": "0",
        "REDIS_URL": "",
        "DATABASE_URL": "sqlite:////tmp/opportune-settings-probe.sqlite3",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=BASE_DIR,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_settings_production_refuses_to_start_without_secret_key():
    result = _start()
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY is not set" in result.stderr


def test_settings_production_starts_with_secret_key():
    result = _start(SECRET_KEY="a-real-secret-from-the-vault")
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    assert probe["debug"] is False
    assert probe["key"] == "a-real-secret-from-the-vault"
    assert probe["static"] == "whitenoise.storage.CompressedManifestStaticFilesStorage"
    assert probe["broker"] == "memory://" and probe["eager"] is True


def test_settings_development_uses_a_throwaway_key():
    for flag in ({"DEBUG": "1"}, {"OPPORTUNE_DEV": "1"}):
        result = _start(**flag)
        assert result.returncode == 0, result.stderr
        probe = json.loads(result.stdout.strip().splitlines()[-1])
        assert probe["key"].startswith("insecure-development-key")
        assert probe["static"] == "django.contrib.staticfiles.storage.StaticFilesStorage"


def test_settings_database_and_broker_from_environment():
    result = _start(
        SECRET_KEY="x" * 50,
        DATABASE_URL="postgres://u:p@db.example:5432/opportune",
        REDIS_URL="redis://cache.example:6379/0",
    )
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    assert probe["db"] == "django.db.backends.postgresql"
    assert probe["broker"] == "redis://cache.example:6379/0" and probe["eager"] is False
