"""Webhooks: signed deliveries after commit, retries with backoff against a receiver that
fails then succeeds, the address check against server-side request forgery, timeouts,
automatic disabling with a notice to admins, and redelivery."""

import datetime as dt
import json

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from api import tasks, webhooks
from api.models import WebhookDelivery, WebhookEndpoint
from pipeline import services
from tests.api.receiver import Receiver
from tests.factories import OpportunityFactory, current_version, stage

pytestmark = pytest.mark.django_db

SECRET = "whsec_test-secret-0123456789"


@pytest.fixture
def eager(monkeypatch):
    """Tasks run inline (the project's mode without a broker), so a test sees the attempt."""
    from config.celery import app

    monkeypatch.setitem(app.conf, "task_always_eager", True)


@pytest.fixture
def loopback(settings):
    settings.OPPORTUNE_WEBHOOK_ALLOW_PRIVATE = True
    return settings


def _endpoint(admin, url, events=("deal.created", "deal.stage_changed", "deal.won")):
    return webhooks.create_endpoint(by=admin, url=url, events=list(events), secret=SECRET)


def test_webhook_delivery_is_signed_with_event_id_after_commit(
    eager, loopback, admin_user, rep, pipeline, django_capture_on_commit_callbacks
):
    with Receiver() as receiver:
        _endpoint(admin_user, receiver.url)
        with django_capture_on_commit_callbacks(execute=True):
            deal = OpportunityFactory(owner=rep, pipeline=pipeline, name="Signed")
        assert len(receiver.requests) == 1
        request = receiver.requests[0]
    headers = request["headers"]
    assert headers["Opportune-Event"] == "deal.created"
    assert webhooks.verify(SECRET, headers["Opportune-Signature"], request["body"])
    assert not webhooks.verify(SECRET, headers["Opportune-Signature"], request["body"] + b" ")
    assert not webhooks.verify(
        "another-secret-123456", headers["Opportune-Signature"], request["body"]
    )
    payload = json.loads(request["body"])
    assert payload["id"] == headers["Opportune-Event-Id"]
    assert payload["data"]["id"] == deal.pk
    assert payload["data"]["amount"] == "10000.00"
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "delivered"
    assert delivery.response_code == 200
    assert delivery.attempts == 1
    assert delivery.duration_ms is not None


def test_webhook_nothing_is_sent_for_a_rolled_back_change(
    eager, loopback, admin_user, rep, pipeline, django_capture_on_commit_callbacks
):
    with Receiver() as receiver:
        _endpoint(admin_user, receiver.url)
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            OpportunityFactory(owner=rep, pipeline=pipeline)
        # the callbacks were registered but the transaction never committed: none ran
        assert callbacks and not receiver.requests
        assert not WebhookDelivery.objects.exists()


def test_webhook_signature_with_an_old_timestamp_is_refused():
    body = b'{"a":1}'
    old = int(timezone.now().timestamp()) - 3600
    assert not webhooks.verify(SECRET, webhooks.sign(SECRET, body, old), body)
    assert webhooks.verify(SECRET, webhooks.sign(SECRET, body, old), body, now=old + 10)
    assert not webhooks.verify(SECRET, "garbage", body)


def test_webhook_retries_with_backoff_until_the_receiver_succeeds(
    eager, loopback, admin_user, rep, pipeline, django_capture_on_commit_callbacks
):
    with Receiver(statuses=(500, 503, 200)) as receiver:
        _endpoint(admin_user, receiver.url)
        with django_capture_on_commit_callbacks(execute=True):
            OpportunityFactory(owner=rep, pipeline=pipeline)
        delivery = WebhookDelivery.objects.get()
        assert delivery.status == "pending" and delivery.attempts == 1
        assert delivery.response_code == 500
        first_retry = delivery.next_attempt_at
        assert (
            dt.timedelta(seconds=50)
            < first_retry - delivery.last_attempt_at
            <= dt.timedelta(minutes=1)
        )
        assert tasks.deliver_due() == 0  # not due yet
        with time_machine.travel(first_retry + dt.timedelta(seconds=1)):
            assert tasks.deliver_due() == 1
        delivery.refresh_from_db()
        assert delivery.attempts == 2 and delivery.status == "pending"
        assert delivery.next_attempt_at - delivery.last_attempt_at == dt.timedelta(minutes=2)
        with time_machine.travel(delivery.next_attempt_at + dt.timedelta(seconds=1)):
            tasks.deliver_due()
        delivery.refresh_from_db()
        assert delivery.status == "delivered" and delivery.attempts == 3
        ids = {r["headers"]["Opportune-Event-Id"] for r in receiver.requests}
        assert len(receiver.requests) == 3 and ids == {str(delivery.event_id)}
    assert WebhookEndpoint.objects.get().consecutive_failures == 0


def test_webhook_backoff_spreads_attempts_over_about_a_day(settings):
    total = sum(
        (webhooks.backoff(n) for n in range(1, settings.OPPORTUNE_WEBHOOK_MAX_ATTEMPTS)),
        dt.timedelta(),
    )
    assert dt.timedelta(hours=16) <= total <= dt.timedelta(hours=30)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
        "ftp://example.com/hook",
        "http://user:pw@example.com/hook",
    ],
)
def test_webhook_private_and_odd_addresses_are_refused(admin_user, url):
    with pytest.raises(ValidationError) as error:
        webhooks.create_endpoint(by=admin_user, url=url, events=["deal.won"], secret=SECRET)
    assert "url" in error.value.message_dict
    assert not WebhookEndpoint.objects.exists()


def test_webhook_address_is_checked_again_at_delivery(
    eager, loopback, admin_user, rep, pipeline, django_capture_on_commit_callbacks
):
    with Receiver() as receiver:
        _endpoint(admin_user, receiver.url)
        loopback.OPPORTUNE_WEBHOOK_ALLOW_PRIVATE = False
        with django_capture_on_commit_callbacks(execute=True):
            OpportunityFactory(owner=rep, pipeline=pipeline)
        assert not receiver.requests
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "pending" and "loopback" in delivery.error


def test_webhook_slow_receiver_times_out(
    eager, loopback, admin_user, rep, pipeline, django_capture_on_commit_callbacks
):
    loopback.OPPORTUNE_WEBHOOK_TIMEOUT = 0.3
    with Receiver(delay=1.5) as receiver:
        _endpoint(admin_user, receiver.url)
        with django_capture_on_commit_callbacks(execute=True):
            OpportunityFactory(owner=rep, pipeline=pipeline)
        delivery = WebhookDelivery.objects.get()
    assert delivery.status == "pending"
    assert "timed out" in delivery.error.lower() or "timeout" in delivery.error.lower()
    assert delivery.duration_ms < 1500


def test_webhook_endpoint_is_switched_off_after_repeated_failures_and_admins_told(
    eager, loopback, admin_user, rep, pipeline, django_capture_on_commit_callbacks
):
    loopback.OPPORTUNE_WEBHOOK_DISABLE_AFTER = 3
    with Receiver(statuses=(500,)) as receiver:
        endpoint = _endpoint(admin_user, receiver.url)
        with django_capture_on_commit_callbacks(execute=True):
            for _ in range(3):
                OpportunityFactory(owner=rep, pipeline=pipeline)
        assert len(receiver.requests) == 3
        endpoint.refresh_from_db()
        assert not endpoint.is_active
        assert "3 failed deliveries" in endpoint.disabled_reason
        assert [m.to for m in mail.outbox] == [[admin_user.email]]
        assert receiver.url in mail.outbox[0].body
        # a switched-off endpoint is sent nothing more
        with django_capture_on_commit_callbacks(execute=True):
            OpportunityFactory(owner=rep, pipeline=pipeline)
        assert len(receiver.requests) == 3


def test_webhook_redeliver_sends_the_same_event_again(
    eager, loopback, admin_user, rep, pipeline, django_capture_on_commit_callbacks
):
    with Receiver() as receiver:
        _endpoint(admin_user, receiver.url)
        with django_capture_on_commit_callbacks(execute=True):
            OpportunityFactory(owner=rep, pipeline=pipeline)
        delivery = WebhookDelivery.objects.get()
        with django_capture_on_commit_callbacks(execute=True):
            webhooks.redeliver(delivery=delivery, by=admin_user)
        assert len(receiver.requests) == 2
        first, second = (r["headers"]["Opportune-Event-Id"] for r in receiver.requests)
        assert first == second == str(delivery.event_id)
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and delivery.attempts == 2


def test_webhook_redeliver_and_endpoints_are_for_admins_only(rep, admin_user):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        webhooks.create_endpoint(
            by=rep, url="https://example.com/h", events=["deal.won"], secret=SECRET
        )


def test_webhook_events_for_moves_wins_amounts_and_reassignments(
    eager, loopback, admin_user, rep, rep2, manager, pipeline, django_capture_on_commit_callbacks
):
    with Receiver() as receiver:
        _endpoint(
            admin_user,
            receiver.url,
            events=[
                "deal.stage_changed",
                "deal.won",
                "deal.lost",
                "deal.amount_changed",
                "deal.reassigned",
            ],
        )
        deal = OpportunityFactory(owner=rep, pipeline=pipeline)
        with django_capture_on_commit_callbacks(execute=True):
            services.update_opportunity(
                opportunity=deal, by=manager, version=1, amount="20000", owner=rep2
            )
            services.move_opportunity(
                opportunity=deal,
                to_stage=stage(pipeline, "Discovery"),
                by=manager,
                version=current_version(deal),
            )
            services.close_won(opportunity=deal, by=manager, version=current_version(deal))
        events = [r["headers"]["Opportune-Event"] for r in receiver.requests]
    assert events == [
        "deal.reassigned",
        "deal.amount_changed",
        "deal.stage_changed",
        "deal.stage_changed",
        "deal.won",
    ]
