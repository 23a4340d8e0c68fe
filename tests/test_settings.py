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


def _start(_code=PROBE, **env):
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
        [sys.executable, "-c", _code],
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


# --- Authentication and security -------------------------------------------------------------

SECURITY_PROBE = (
    "import json, django; django.setup(); from django.conf import settings as s; "
    "names = ['SECURE_SSL_REDIRECT', 'SECURE_HSTS_SECONDS', 'SECURE_HSTS_INCLUDE_SUBDOMAINS', "
    "'SECURE_HSTS_PRELOAD', 'SECURE_PROXY_SSL_HEADER', 'SESSION_COOKIE_SECURE', "
    "'CSRF_COOKIE_SECURE', 'SECURE_REFERRER_POLICY', 'SECURE_CROSS_ORIGIN_OPENER_POLICY', "
    "'AXES_FAILURE_LIMIT', 'AXES_LOCKOUT_PARAMETERS', 'OPPORTUNE_REQUIRE_2FA', 'EMAIL_BACKEND']; "
    "out = {n: getattr(s, n) for n in names}; "
    "out['AXES_COOLOFF_SECONDS'] = s.AXES_COOLOFF_TIME.total_seconds(); "
    "print(json.dumps(out))"
)
# 50+ characters, many distinct ones, not Django's insecure prefix: what check --deploy wants.
PRODUCTION_KEY = "k7#Vq9!pZ2@rL5$wX8^mN3&bT6*yH1(cJ4)fG0-dS+eA=uR_iO"


def _probe(**env):
    result = _start(**{"SECRET_KEY": PRODUCTION_KEY, **env}, _code=SECURITY_PROBE)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_settings_production_transport_security_is_on_by_default():
    probe = _probe()
    assert probe["SECURE_SSL_REDIRECT"] is True
    assert probe["SECURE_HSTS_SECONDS"] == 365 * 24 * 3600
    assert probe["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert probe["SECURE_HSTS_PRELOAD"] is True
    assert probe["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert probe["SESSION_COOKIE_SECURE"] is True and probe["CSRF_COOKIE_SECURE"] is True
    assert probe["SECURE_REFERRER_POLICY"] == "same-origin"
    assert probe["SECURE_CROSS_ORIGIN_OPENER_POLICY"] == "same-origin"
    assert probe["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"


def test_settings_development_has_no_https_requirements():
    for flag in ({"DEBUG": "1"}, {"OPPORTUNE_DEV": "1"}):
        probe = _probe(**flag)
        assert probe["SECURE_SSL_REDIRECT"] is False and probe["SECURE_HSTS_SECONDS"] == 0
        assert probe["SESSION_COOKIE_SECURE"] is False and probe["CSRF_COOKIE_SECURE"] is False
        assert probe["EMAIL_BACKEND"] == "django.core.mail.backends.console.EmailBackend"


def test_settings_each_transport_setting_switches_off_for_a_plain_http_test():
    probe = _probe(
        SECURE_SSL_REDIRECT="0",
        SECURE_HSTS_SECONDS="0",
        SECURE_HSTS_INCLUDE_SUBDOMAINS="0",
        SECURE_HSTS_PRELOAD="0",
        SECURE_PROXY_SSL_HEADER="",
        SESSION_COOKIE_SECURE="0",
        CSRF_COOKIE_SECURE="0",
        SECURE_REFERRER_POLICY="",
        SECURE_CROSS_ORIGIN_OPENER_POLICY="",
    )
    assert probe["SECURE_SSL_REDIRECT"] is False
    assert probe["SECURE_HSTS_SECONDS"] == 0
    assert probe["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is False
    assert probe["SECURE_HSTS_PRELOAD"] is False
    assert probe["SECURE_PROXY_SSL_HEADER"] is None
    assert probe["SESSION_COOKIE_SECURE"] is False and probe["CSRF_COOKIE_SECURE"] is False
    assert probe["SECURE_REFERRER_POLICY"] is None
    assert probe["SECURE_CROSS_ORIGIN_OPENER_POLICY"] is None


def test_settings_proxy_ssl_header_from_environment():
    probe = _probe(SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_SCHEME, https")
    assert probe["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_SCHEME", "https"]
    bad = _start(SECRET_KEY=PRODUCTION_KEY, SECURE_PROXY_SSL_HEADER="https", _code=SECURITY_PROBE)
    assert bad.returncode != 0 and "SECURE_PROXY_SSL_HEADER must be 'HEADER,value'" in bad.stderr


def test_settings_login_throttling_and_two_factor_from_environment():
    default = _probe()
    assert default["AXES_FAILURE_LIMIT"] == 5 and default["AXES_COOLOFF_SECONDS"] == 15 * 60
    assert default["AXES_LOCKOUT_PARAMETERS"] == [["username", "ip_address"]]
    assert default["OPPORTUNE_REQUIRE_2FA"] is False
    probe = _probe(
        AXES_FAILURE_LIMIT="10",
        AXES_COOLOFF_MINUTES="60",
        AXES_LOCKOUT_PARAMETERS="username + ip_address, ip_address",
        OPPORTUNE_REQUIRE_2FA="1",
    )
    assert probe["AXES_FAILURE_LIMIT"] == 10 and probe["AXES_COOLOFF_SECONDS"] == 3600
    assert probe["AXES_LOCKOUT_PARAMETERS"] == [["username", "ip_address"], ["ip_address"]]
    assert probe["OPPORTUNE_REQUIRE_2FA"] is True
    bad = _start(SECRET_KEY=PRODUCTION_KEY, AXES_COOLOFF_MINUTES="0", _code=SECURITY_PROBE)
    assert bad.returncode != 0 and "AXES_COOLOFF_MINUTES must be 1 or more" in bad.stderr


def test_settings_check_deploy_with_production_settings_finds_nothing():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "DEBUG"],
        cwd=BASE_DIR,
        env={
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "SECRET_KEY": PRODUCTION_KEY,
            "DEBUG": "",
            "OPPORTUNE_DEV": "",
            "ALLOWED_HOSTS": "crm.example.com",
            "REDIS_URL": "",
            "DATABASE_URL": "sqlite:////tmp/opportune-settings-probe.sqlite3",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues (0 silenced)." in output
    assert "WARNING" not in output and "?:" not in output
