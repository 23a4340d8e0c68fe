"""/healthz: JSON status of the database and the broker, for load balancers and operators."""

import pytest
from django.conf import settings
from django.test import override_settings


@pytest.mark.django_db
def test_healthz_reports_database_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
    body = response.json()
    assert body["database"]["ok"] is True
    assert body["database"]["vendor"] in ("sqlite", "postgresql")
    assert body["status"] in ("ok", "degraded")


@pytest.mark.django_db
@override_settings(CELERY_BROKER_URL="memory://")
def test_healthz_inline_broker_when_redis_url_unset(client):
    body = client.get("/healthz").json()
    assert body["broker"] == {
        "ok": True,
        "mode": "inline",
        "detail": "REDIS_URL unset: tasks run inline",
    }
    assert body["status"] == "ok"


@pytest.mark.django_db
@pytest.mark.skipif(not settings.REDIS_URL, reason="REDIS_URL unset: no broker to check")
def test_healthz_broker_ok_against_real_redis(client):
    body = client.get("/healthz").json()
    assert body["broker"] == {"ok": True, "mode": "redis"}
    assert body["status"] == "ok"


@pytest.mark.django_db
@override_settings(CELERY_BROKER_URL="redis://127.0.0.1:1/0")
def test_healthz_unreachable_broker_is_degraded_but_200(client):
    """Nothing listens on port 1: the broker is down, the web app still serves."""
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["broker"]["ok"] is False and body["broker"]["mode"] == "redis"
    assert body["broker"]["error"]


def test_healthz_needs_no_login_answers_head_and_refuses_post(client, db):
    assert client.post("/healthz").status_code == 405
    assert client.get("/healthz").status_code == 200
    assert client.head("/healthz").status_code == 200
