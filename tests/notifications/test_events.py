"""In-app notifications written by the services after commit: assignments, adjustments,
deals won or lost, tasks, @mentions; each visible only to its recipient."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import transaction

from forecasting import services as forecasting_services
from notifications import selectors, services
from notifications.models import Notification
from pipeline import services as pipeline_services
from tests.factories import (
    LeadFactory,
    OpportunityFactory,
    UserFactory,
    current_version,
    stored_version,
)

from .conftest import prefer


def titles(user) -> list[str]:
    return list(Notification.objects.visible_to(user).values_list("title", flat=True))


@pytest.fixture
def eager_celery():
    """Run Celery tasks in-process for the event emails (the broker is not what is tested)."""
    from config.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


@pytest.mark.django_db
def test_events_manager_reassigning_a_deal_tells_the_new_owner_only(
    rep, rep2, manager, pipeline, django_capture_on_commit_callbacks
):
    deal = OpportunityFactory(owner=rep2, pipeline=pipeline, name="Acme", by=rep2)
    with django_capture_on_commit_callbacks(execute=True):
        pipeline_services.update_opportunity(
            opportunity=deal, by=manager, version=deal.version, owner=rep
        )
    assert titles(rep) == [f"{manager} assigned you the deal Acme"]
    n = Notification.objects.get(recipient=rep)
    assert (n.event, n.actor, n.url) == ("deal_assigned", manager, deal.get_absolute_url())
    assert titles(rep2) == [] and titles(manager) == []


@pytest.mark.django_db
def test_events_own_doing_and_other_edits_notify_nobody(
    rep, pipeline, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        deal = OpportunityFactory(owner=rep, pipeline=pipeline)
        pipeline_services.update_opportunity(
            opportunity=deal, by=rep, version=deal.version, amount=Decimal("5")
        )
    assert Notification.objects.count() == 0


@pytest.mark.django_db
def test_events_a_rolled_back_change_notifies_nobody(
    rep, rep2, manager, pipeline, django_capture_on_commit_callbacks
):
    deal = OpportunityFactory(owner=rep2, pipeline=pipeline)
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        pipeline_services.update_opportunity(
            opportunity=deal, by=manager, version=deal.version, owner=rep
        )
        raise RuntimeError("the request failed later")
    assert Notification.objects.count() == 0


@pytest.mark.django_db
def test_events_deal_created_for_someone_else_and_lead_assigned(
    rep, manager, pipeline, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        OpportunityFactory(owner=rep, pipeline=pipeline, name="Given", by=manager)
        pipeline_services.create_lead(by=manager, owner=rep, first_name="Ada", last_name="Byron")
        lead = LeadFactory(owner=manager)
        pipeline_services.update_lead(
            lead=lead, version=stored_version(lead), by=manager, owner=rep
        )
    assert sorted(titles(rep)) == sorted(
        [
            f"{manager} assigned you the deal Given",
            f"{manager} assigned you the lead Ada Byron",
            f"{manager} assigned you the lead {lead.full_name}",
        ]
    )


@pytest.mark.django_db
def test_events_deal_won_or_lost_tells_the_team_manager(
    rep, manager, pipeline, lost_reason, django_capture_on_commit_callbacks
):
    won = OpportunityFactory(owner=rep, pipeline=pipeline, name="Big win", amount=Decimal("48000"))
    lost = OpportunityFactory(owner=rep, pipeline=pipeline, name="Near miss")
    with django_capture_on_commit_callbacks(execute=True):
        pipeline_services.close_won(opportunity=won, by=rep, version=current_version(won))
        pipeline_services.close_lost(
            opportunity=lost, by=rep, lost_reason=lost_reason, version=current_version(lost)
        )
    assert sorted(titles(manager)) == sorted(
        [f"{rep} won Big win ($48,000)", f"{rep} lost Near miss ($10,000)"]
    )
    assert titles(rep) == []


@pytest.mark.django_db
def test_events_task_assigned_and_adjustment_tell_the_rep(
    rep, manager, pipeline, django_capture_on_commit_callbacks
):
    deal = OpportunityFactory(owner=rep, pipeline=pipeline, name="Acme")
    with django_capture_on_commit_callbacks(execute=True):
        pipeline_services.log_activity(
            by=manager, owner=rep, kind="task", subject="Send the MSA", due_on=dt.date(2026, 5, 4),
            opportunity=deal,
        )  # fmt: skip
        forecasting_services.set_adjustment(
            by=manager, user=rep, period_kind="quarter", period=dt.date(2026, 4, 1),
            amount="120000", note="Acme slips to Q3",
        )  # fmt: skip
    assert sorted(titles(rep)) == sorted(
        [
            f"{manager} gave you a task: Send the MSA",
            f"{manager} set your Q2 2026 forecast to $120,000",
        ]
    )


@pytest.mark.parametrize(
    "text,names",
    [
        ("@rep please call", ["rep"]),
        ("ping @Rep2, and @rep.", ["rep2", "rep"]),
        ("mail bob@example.com", []),
        ("@first.last-1 and @first.last-1", ["first.last-1"]),
        ("(@rep)", ["rep"]),
        ("no mention @", []),
    ],
)
def test_parse_mentions(text, names):
    assert selectors.parse_mentions(text) == names


@pytest.mark.django_db
def test_events_mentions_reach_only_mentionable_people_who_see_the_record(
    rep, rep2, manager, outsider, pipeline, django_capture_on_commit_callbacks
):
    deal = OpportunityFactory(owner=rep, pipeline=pipeline, name="Acme")
    with django_capture_on_commit_callbacks(execute=True):
        # The manager calls in the rep on the rep's deal.
        pipeline_services.log_activity(
            by=manager, kind="note", subject="Pricing", body="@rep can you call them?",
            opportunity=deal,
        )  # fmt: skip
        # The rep mentions their manager (allowed), a teammate and someone in another team
        # (neither is theirs to name).
        pipeline_services.log_activity(
            by=rep, kind="note", subject="Update", body="@manager @rep2 @outsider see this",
            opportunity=deal,
        )  # fmt: skip
    assert titles(rep) == [f"{manager} mentioned you on Acme"]
    assert titles(manager) == [f"{rep} mentioned you on Acme"]
    assert titles(rep2) == [] and titles(outsider) == []


@pytest.mark.django_db
def test_mention_suggestions_list_only_whom_the_author_may_mention(rep, rep2, manager, outsider):
    def names(user, q=""):
        return [r["username"] for r in selectors.mention_suggestions(user, q)]

    assert names(rep) == ["manager"]
    assert names(manager) == ["rep", "rep2"]
    assert names(manager, "rep2") == ["rep2"]
    assert "outsider" not in names(manager, "out")


@pytest.mark.django_db
def test_events_preferences_choose_in_app_and_email(
    rep, rep2, manager, pipeline, django_capture_on_commit_callbacks, eager_celery
):
    prefer(rep, in_app_events=[], email_events=["deal_assigned"])
    deal = OpportunityFactory(owner=rep2, pipeline=pipeline, name="Acme")
    with django_capture_on_commit_callbacks(execute=True):
        pipeline_services.update_opportunity(
            opportunity=deal, by=manager, version=deal.version, owner=rep
        )
    assert titles(rep) == []  # not in-app
    (message,) = mail.outbox
    assert message.to == [rep.email]
    assert message.subject == f"{manager} assigned you the deal Acme"
    assert f"http://127.0.0.1:8000{deal.get_absolute_url()}" in message.body
    assert message.extra_headers["List-Unsubscribe"].startswith("<http://127.0.0.1:8000/")
    assert message.alternatives[0][1] == "text/html"
    # Neither channel: nothing at all.
    prefer(rep, in_app_events=[], email_events=[])
    deal.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        pipeline_services.update_opportunity(
            opportunity=deal, by=manager, version=deal.version, owner=rep2
        )
        deal.refresh_from_db()
        pipeline_services.update_opportunity(
            opportunity=deal, by=manager, version=deal.version, owner=rep
        )
    assert Notification.objects.filter(recipient=rep).count() == 1
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_events_inactive_recipients_get_nothing(rep, pipeline):
    rep.is_active = False
    rep.save()
    assert services.notify(recipient=rep, event="mention", title="hi") is None
    assert Notification.objects.count() == 0


@pytest.mark.django_db
def test_notification_mark_read_is_for_the_recipient_only(rep, rep2):
    n = services.notify(recipient=rep, event="mention", title="For rep", actor=rep2)
    other = services.notify(recipient=rep2, event="mention", title="For rep2", actor=rep)
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.mark_read(notification_id=other.pk, by=rep)
    services.mark_read(notification_id=n.pk, by=rep)
    assert services.mark_all_read(by=rep) == 0
    other.refresh_from_db()
    assert other.read_at is None


@pytest.mark.django_db
def test_preferences_service_refuses_a_stale_version_and_bad_hours(rep):
    pref = prefer(rep)
    kwargs = {
        "user": rep,
        "by": rep,
        "digest_enabled": True,
        "time_zone": "Europe/Paris",
        "in_app_events": [],
        "email_events": [],
    }
    services.update_preferences(version=pref.version, digest_hour=7, **kwargs)
    with pytest.raises(ValidationError, match="changed in another window"):
        services.update_preferences(version=pref.version, digest_hour=9, **kwargs)
    pref.refresh_from_db()
    with pytest.raises(ValidationError, match="between 0 and 23"):
        services.update_preferences(version=pref.version, digest_hour=24, **kwargs)
    with pytest.raises(ValidationError, match="Unknown events"):
        services.update_preferences(
            version=pref.version, digest_hour=7, **{**kwargs, "in_app_events": ["bogus"]}
        )
    pref.refresh_from_db()
    assert (pref.digest_hour, pref.time_zone) == (7, "Europe/Paris")
    other = UserFactory(username="someone")
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.update_preferences(
            version=pref.version, digest_hour=7, **{**kwargs, "user": other}
        )
