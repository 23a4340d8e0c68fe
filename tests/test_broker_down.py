"""Redis down: enqueueing fails fast with a clear message, never a 500, and pages and moves
keep working.

The Celery application itself is pointed at a closed local port (no mock): its pooled
connections and result backend are dropped so that the next publish really connects there,
with the broker settings of ``config/settings.py``.
"""

import pytest
from django.test import override_settings
from django.urls import reverse
from django_celery_beat.models import PeriodicTask

from pipeline.models import Opportunity
from tests.factories import OpportunityFactory, stage

CLOSED = "redis://127.0.0.1:6390/0"  # nothing listens there


def _reset_connections(app):
    from kombu import pools

    pools.reset()  # kombu's shared producer pools, keyed by broker
    app._pool = None
    app.amqp._producer_pool = None
    app._backend_cache = None
    if hasattr(app._local, "backend"):
        del app._local.backend


@pytest.fixture
def broker_down():
    from config.celery import app

    keys = ("broker_url", "result_backend", "task_always_eager")
    saved = {key: app.conf[key] for key in keys}
    _reset_connections(app)
    app.conf.update(broker_url=CLOSED, result_backend=CLOSED, task_always_eager=False)
    try:
        with override_settings(CELERY_BROKER_URL=CLOSED, CELERY_RESULT_BACKEND=CLOSED):
            assert "6390" in app.connection_for_write().as_uri()
            yield app
    finally:
        _reset_connections(app)
        app.conf.update(saved)


@pytest.fixture
def staff_admin(admin_user):
    admin_user.is_staff = True
    admin_user.save()
    return admin_user


def test_run_selected_tasks_with_redis_down_says_so_instead_of_a_500(
    client, staff_admin, broker_down
):
    task = PeriodicTask.objects.get(name="Nightly forecast snapshot")
    client.force_login(staff_admin)
    client.raise_request_exception = False
    response = client.post(
        reverse("admin:django_celery_beat_periodictask_changelist"),
        {"action": "run_tasks", "_selected_action": [task.pk]},
        follow=True,
    )
    assert response.status_code == 200
    text = response.content.decode()
    assert "task queue is not reachable" in text
    assert "Nothing was started" in text


def test_enqueue_with_redis_down_raises_a_clear_error(broker_down):
    from config.celery import QueueUnavailable, enqueue
    from forecasting.tasks import snapshot_forecasts

    with pytest.raises(QueueUnavailable) as exc:
        enqueue(snapshot_forecasts)
    assert "task queue is not reachable" in str(exc.value)


def test_pages_and_moves_keep_working_with_redis_down(client, rep, manager, pipeline, broker_down):
    deal = OpportunityFactory(owner=rep, pipeline=pipeline)
    client.force_login(rep)
    for url in (
        reverse("home"),
        reverse("pipeline:board"),
        deal.get_absolute_url(),
        reverse("pipeline:opportunity_list"),
        reverse("forecasting:dashboard"),
    ):
        assert client.get(url).status_code == 200, url
    response = client.post(
        reverse("pipeline:opportunity_move", args=[deal.pk]),
        {"stage": stage(pipeline, "Discovery").pk, "version": deal.version},
    )
    assert response.status_code == 302
    assert Opportunity.objects.get(pk=deal.pk).stage.name == "Discovery"
    health = client.get(reverse("healthz")).json()
    assert health["status"] == "degraded" and health["broker"]["ok"] is False
