"""/readyz: 200 only when the database answers and every migration is applied, else 503 with
the reason (load balancers send traffic only to ready nodes)."""

import pytest
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder


@pytest.mark.django_db
def test_readyz_ready_when_database_answers_and_migrations_applied(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
    body = response.json()
    assert body["status"] == "ready"
    assert body["database"]["ok"] is True and body["migrations"] == {"ok": True}


@pytest.mark.django_db
def test_readyz_not_ready_while_a_migration_is_unapplied(client):
    """The database forgets that the last pipeline migration ran (as after a deploy whose
    ``migrate`` has not run yet); the test's transaction puts the row back afterwards."""
    loader = MigrationLoader(connection)
    app, name = next(node for node in loader.graph.leaf_nodes() if node[0] == "pipeline")
    MigrationRecorder(connection).record_unapplied(app, name)

    response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not ready" and body["reason"] == "migrations not applied"
    assert body["migrations"]["ok"] is False
    assert body["migrations"]["unapplied"] >= 1
    assert f"{app}.{name}" in body["migrations"]["first"]
    # /healthz is about liveness: the node is alive, only not ready.
    assert client.get("/healthz").status_code == 200


@pytest.mark.postgres
@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="a port to refuse needs PostgreSQL (DATABASE_URL)"
)
def test_readyz_not_ready_when_the_database_does_not_answer(
    client, django_db_setup, django_db_blocker
):
    """The app's connection points at a port nothing listens on (a real refused connection)."""
    with django_db_blocker.unblock():
        connection.close()
        saved = connection.settings_dict.get("PORT")
        connection.settings_dict["PORT"] = "1"
        try:
            response = client.get("/readyz")
        finally:
            connection.close()
            connection.settings_dict["PORT"] = saved
        assert client.get("/readyz").status_code == 200
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not ready" and body["reason"] == "database unavailable"
    assert body["database"]["ok"] is False and body["database"]["error"]
    assert "migrations" not in body


def test_readyz_answers_head_and_refuses_post(client, db):
    assert client.head("/readyz").status_code == 200
    assert client.post("/readyz").status_code == 405
