"""The private, revocable iCalendar feed: parsed back with the icalendar library."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied
from icalendar import Calendar

from notifications import services
from notifications.models import Preference
from pipeline import services as pipeline_services
from tests.factories import OpportunityFactory, current_version


@pytest.fixture
def feed_world(rep, rep2, pipeline, lost_reason):
    mine = OpportunityFactory(
        owner=rep, pipeline=pipeline, name="Acme renewal", expected_close_date=dt.date(2026, 4, 30)
    )
    closed = OpportunityFactory(owner=rep, pipeline=pipeline, name="Gone Co")
    pipeline_services.close_lost(
        opportunity=closed, by=rep, lost_reason=lost_reason, version=current_version(closed)
    )
    theirs = OpportunityFactory(owner=rep2, pipeline=pipeline, name="Not mine")
    call = pipeline_services.log_activity(
        by=rep, kind="task", subject="Call legal", due_on=dt.date(2026, 4, 2), opportunity=mine
    )
    done = pipeline_services.log_activity(
        by=rep, kind="task", subject="Done already", due_on=dt.date(2026, 4, 1), opportunity=mine
    )
    pipeline_services.complete_task(activity=done, by=rep)
    pipeline_services.log_activity(
        by=rep2, kind="task", subject="Their task", due_on=dt.date(2026, 4, 3), opportunity=theirs
    )
    return {"deal": mine, "task": call}


def _feed_path(user) -> str:
    token = Preference.objects.get(user=user).calendar_token
    return f"/notifications/calendar/{token}.ics"


@pytest.mark.django_db
def test_calendar_feed_lists_open_tasks_and_open_deals_close_dates(client, rep, feed_world):
    services.new_calendar_token(user=rep, by=rep)
    response = client.get(_feed_path(rep))  # no login: calendar clients cannot sign in
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    cal = Calendar.from_ical(response.content)
    assert cal["VERSION"] == "2.0" and "Opportune" in str(cal["PRODID"])
    events = {str(e["UID"]): e for e in cal.walk("VEVENT")}
    task, deal = feed_world["task"], feed_world["deal"]
    assert set(events) == {f"task-{task.pk}@127.0.0.1:8000", f"deal-{deal.pk}@127.0.0.1:8000"}
    t = events[f"task-{task.pk}@127.0.0.1:8000"]
    assert str(t["SUMMARY"]) == "Task: Call legal · Acme renewal"
    assert t.decoded("DTSTART") == dt.date(2026, 4, 2)
    assert t.decoded("DTEND") == dt.date(2026, 4, 3)
    assert str(t["URL"]) == f"http://127.0.0.1:8000/pipeline/opportunities/{deal.pk}/"
    d = events[f"deal-{deal.pk}@127.0.0.1:8000"]
    assert str(d["SUMMARY"]) == "Expected close: Acme renewal"
    assert d.decoded("DTSTART") == dt.date(2026, 4, 30)
    # Every event carries what RFC 5545 requires of it.
    for event in events.values():
        assert {"UID", "DTSTAMP", "DTSTART"} <= set(event.keys())


@pytest.mark.django_db
def test_calendar_feed_revoked_or_replaced_token_is_a_404(client, rep, feed_world):
    services.new_calendar_token(user=rep, by=rep)
    old = _feed_path(rep)
    services.new_calendar_token(user=rep, by=rep)
    assert client.get(old).status_code == 404
    new = _feed_path(rep)
    assert client.get(new).status_code == 200
    services.revoke_calendar_token(user=rep, by=rep)
    assert Preference.objects.get(user=rep).calendar_token is None
    assert client.get(new).status_code == 404
    assert client.get("/notifications/calendar/guess.ics").status_code == 404


@pytest.mark.django_db
def test_calendar_feed_of_a_deactivated_user_is_a_404(client, rep, feed_world):
    services.new_calendar_token(user=rep, by=rep)
    path = _feed_path(rep)
    rep.is_active = False
    rep.save()
    assert client.get(path).status_code == 404


@pytest.mark.django_db
def test_calendar_token_buttons_on_the_settings_page(client, rep, rep2):
    client.force_login(rep)
    page = client.get("/notifications/settings/")
    assert b"Create my calendar address" in page.content
    client.post("/notifications/settings/calendar/", {"action": "new"})
    pref = Preference.objects.get(user=rep)
    assert pref.calendar_token
    page = client.get("/notifications/settings/")
    assert f"http://127.0.0.1:8000/notifications/calendar/{pref.calendar_token}.ics".encode() in (
        page.content
    )
    client.post("/notifications/settings/calendar/", {"action": "revoke"})
    assert Preference.objects.get(user=rep).calendar_token is None
    # Nobody changes another user's feed: the service refuses.
    with pytest.raises(PermissionDenied):
        services.new_calendar_token(user=rep2, by=rep)
    assert not Preference.objects.filter(user=rep2, calendar_token__isnull=False).exists()
