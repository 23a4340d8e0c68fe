"""The daily digest: content per role on hand-built fixtures with frozen time, time zones and a
daylight-saving change, once per user per day, Django's in-memory outbox for content and
headers, bad addresses and nothing-to-say days."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from forecasting import services as forecasting_services
from notifications import selectors, services
from notifications.models import DigestRun
from pipeline import services as pipeline_services
from tests.factories import OpportunityFactory, UserFactory

from .conftest import at, prefer

BASE = "http://127.0.0.1:8000"


def task(user, subject, due, *, target, by=None, done=False):
    activity = pipeline_services.log_activity(
        by=by or user, kind="task", subject=subject, due_on=due, opportunity=target, owner=user
    )
    if done:
        pipeline_services.complete_task(activity=activity, by=user)
    return activity


@pytest.fixture
def rep_world(rep, pipeline, utc8):
    """rep's deals and tasks as of 2026-03-10 09:00 UTC (hand-built, see each line)."""
    with time_machine.travel(at("2026-01-01T10:00"), tick=False):
        stale = OpportunityFactory(
            owner=rep, pipeline=pipeline, name="Stale Co", expected_close_date=dt.date(2026, 6, 30)
        )  # in Qualification since Jan 1 10:00: 67 whole days > 30 → going stale
    with time_machine.travel(at("2026-02-20T10:00"), tick=False):
        late = OpportunityFactory(
            owner=rep, pipeline=pipeline, name="Late Co", expected_close_date=dt.date(2026, 3, 5)
        )  # close date Mar 5 has passed
    with time_machine.travel(at("2026-03-01T10:00"), tick=False):
        slipping = OpportunityFactory(
            owner=rep, pipeline=pipeline, name="Slip Co", expected_close_date=dt.date(2026, 3, 20)
        )
        fine = OpportunityFactory(
            owner=rep, pipeline=pipeline, name="Fine Co", expected_close_date=dt.date(2026, 5, 1)
        )
        task(rep, "Call the CFO", dt.date(2026, 3, 8), target=fine)
        task(rep, "Send the proposal", dt.date(2026, 3, 10), target=fine)
        task(rep, "Next week's demo", dt.date(2026, 3, 11), target=fine)
        task(rep, "Already done", dt.date(2026, 3, 2), target=fine, done=True)
    with time_machine.travel(at("2026-03-09T15:00"), tick=False):
        pipeline_services.update_opportunity(
            opportunity=slipping, by=rep, version=slipping.version,
            expected_close_date=dt.date(2026, 4, 15),
        )  # fmt: skip
    return {"stale": stale, "late": late, "slipping": slipping, "fine": fine}


def _digest_of(user):
    found = [m for m in mail.outbox if m.to == [user.email]]
    assert len(found) == 1, [m.to for m in mail.outbox]
    return found[0]


@pytest.mark.django_db
def test_digest_rep_lists_tasks_stale_passed_and_slipped_deals(rep, rep_world):
    summary = services.send_digests(now=at("2026-03-10T09:00"))
    assert summary.sent >= 1
    message = _digest_of(rep)
    assert message.subject == "Your Opportune day · Tuesday 10 March"
    text = message.body
    assert "OVERDUE TASKS\n- Call the CFO · Fine Co (2 days overdue)" in text
    assert "TASKS DUE TODAY\n- Send the proposal · Fine Co (due today)" in text
    assert "Next week's demo" not in text and "Already done" not in text
    assert (
        "DEALS GOING STALE\n- Stale Co · $10,000 · Qualification (67 days in Qualification)"
    ) in text
    assert (
        "CLOSE DATE PASSED\n- Late Co · $10,000 · Qualification (close date Mar 5 has passed)"
    ) in text
    assert (
        "SLIPPED SINCE YESTERDAY\n- Slip Co · $10,000 · Qualification (close date Mar 20 → Apr 15)"
    ) in text
    assert "Fine Co · $10,000" not in text
    # Links are absolute, in both parts.
    deal_url = f"{BASE}/pipeline/opportunities/{rep_world['stale'].pk}/"
    assert deal_url in text
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    assert f'href="{deal_url}"' in html
    assert 'href="/' not in html
    assert "style=" not in html and "<script" not in html


@pytest.mark.django_db
def test_digest_carries_list_unsubscribe_and_a_signed_one_click_link(client, rep, rep_world):
    services.send_digests(now=at("2026-03-10T09:00"))
    message = _digest_of(rep)
    header = message.extra_headers["List-Unsubscribe"]
    assert header.startswith(f"<{BASE}/notifications/unsubscribe/") and header.endswith("/>")
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = header[1:-1]
    assert link in message.body and link in message.alternatives[0][0]
    assert message.from_email == "Opportune <opportune@localhost>"
    # The link, followed by a mail client's one-click POST without a session, unsubscribes.
    path = link.removeprefix(BASE)
    page = client.get(path)
    assert page.status_code == 200 and b"Stop the daily digest" in page.content
    rep.notification_preference.refresh_from_db()
    assert rep.notification_preference.digest_enabled is True  # GET changes nothing
    done = client.post(path, {"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and b"You are unsubscribed" in done.content
    rep.notification_preference.refresh_from_db()
    assert rep.notification_preference.digest_enabled is False


@pytest.mark.django_db
def test_digest_tampered_unsubscribe_link_shows_a_clear_page_and_changes_nothing(client, rep):
    prefer(rep, digest_enabled=True)
    token = services.unsubscribe_url(rep, "digest").rstrip("/").rsplit("/", 1)[1]
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    for method in (client.get, client.post):
        response = method(f"/notifications/unsubscribe/{tampered}/")
        assert response.status_code == 400
        assert b"This link does not work" in response.content
        assert b"Nothing was changed" in response.content
    rep.notification_preference.refresh_from_db()
    assert rep.notification_preference.digest_enabled is True


@pytest.mark.django_db
def test_digest_manager_gets_the_team_view(manager, rep, rep2, pipeline, rep_world):
    with time_machine.travel(at("2026-03-09T03:00"), tick=False):
        forecasting_services.take_snapshot(taken_on=dt.date(2026, 3, 9), ranges=False)
    with time_machine.travel(at("2026-03-10T03:00"), tick=False):
        late = rep_world["late"]
        late.refresh_from_db()
        pipeline_services.update_opportunity(
            opportunity=late, by=rep, version=late.version, amount=Decimal("30000")
        )
        forecasting_services.take_snapshot(taken_on=dt.date(2026, 3, 10), ranges=False)
        task(rep2, "Chase the contract", dt.date(2026, 3, 3), target=rep_world["fine"], by=manager)
    now = at("2026-03-10T09:00")
    ctx = selectors.DigestContext(now)
    digest = selectors.build_digest(manager, day=dt.date(2026, 3, 10), ctx=ctx)
    sections = {s.key: s for s in digest.sections}
    # The manager owns nothing, so only the team view.
    assert list(sections) == ["team_at_risk", "forecast_change", "team_overdue_tasks"]
    at_risk = sections["team_at_risk"].lines
    assert [(li.text, li.detail) for li in at_risk] == [
        (str(rep), "2 deals at risk · $40,000")  # Late Co (now 30,000) and Stale Co
    ]
    change = {li.text: li.detail for li in sections["forecast_change"].lines}
    # Late Co's amount went 10,000 → 30,000 in Qualification (10 %): weighted +2,000, commit 0.
    assert change == {
        "Commit forecast": "$0 since Mar 9",
        "Weighted forecast": "+$2,000 since Mar 9",
    }
    overdue = sections["team_overdue_tasks"].lines
    assert [(li.text, li.detail) for li in overdue] == [
        (str(rep), "1 overdue task"),
        (str(rep2), "1 overdue task"),
    ]
    # A rep never gets the team view.
    rep_digest = selectors.build_digest(rep, day=dt.date(2026, 3, 10), ctx=ctx)
    assert not {s.key for s in rep_digest.sections} & {"team_at_risk", "team_overdue_tasks"}


@pytest.mark.django_db
def test_digest_nothing_to_say_sends_nothing_and_records_it(rep2, utc8):
    summary = services.send_digests(now=at("2026-03-10T09:00"))
    assert not [m for m in mail.outbox if m.to == [rep2.email]]
    run = DigestRun.objects.get(user=rep2)
    assert (run.status, run.day, summary.sent) == ("empty", dt.date(2026, 3, 10), 0)


@pytest.mark.django_db
def test_digest_is_sent_once_per_user_per_day_under_reruns(rep, rep_world):
    services.send_digests(now=at("2026-03-10T09:00"))
    services.send_digests(now=at("2026-03-10T09:00"))  # a retried task
    services.send_digests(now=at("2026-03-10T09:15"))  # the next beat
    services.send_digests(now=at("2026-03-10T23:45"))
    assert len([m for m in mail.outbox if m.to == [rep.email]]) == 1
    services.send_digests(now=at("2026-03-11T08:00"))  # the next day is a new digest
    assert len([m for m in mail.outbox if m.to == [rep.email]]) == 2
    assert list(DigestRun.objects.filter(user=rep).values_list("day", "status")) == [
        (dt.date(2026, 3, 11), "sent"),
        (dt.date(2026, 3, 10), "sent"),
    ]


@pytest.mark.django_db
def test_digest_waits_for_the_users_hour_in_their_time_zone(rep, rep_world):
    prefer(rep, digest_hour=8, time_zone="Asia/Tokyo")
    # 22:30 UTC on Mar 9 is 07:30 on Mar 10 in Tokyo: not yet.
    services.send_digests(now=at("2026-03-09T22:30"))
    assert not [m for m in mail.outbox if m.to == [rep.email]]
    # 23:00 UTC is 08:00 in Tokyo: the digest of Tokyo's Mar 10, where "Send the proposal"
    # is due today although it is still Mar 9 in UTC.
    services.send_digests(now=at("2026-03-09T23:00"))
    message = _digest_of(rep)
    assert "Tuesday 10 March" in message.subject
    assert "TASKS DUE TODAY\n- Send the proposal" in message.body


@pytest.mark.django_db
def test_digest_follows_a_daylight_saving_change(rep):
    prefer(rep, digest_hour=8, time_zone="America/New_York")
    due = lambda when: rep.pk in [u.pk for u, _, _ in services.due_users(at(when))]  # noqa: E731
    # Saturday Mar 7, 2026 (EST, UTC-5): 08:00 local is 13:00 UTC.
    assert not due("2026-03-07T12:59")
    assert due("2026-03-07T13:00")
    # Sunday Mar 8 the clocks go forward at 02:00 (EDT, UTC-4): 08:00 local is 12:00 UTC.
    assert not due("2026-03-08T11:59")
    assert due("2026-03-08T12:00")
    # And back in November (Nov 1, 2026): 08:00 EST is 13:00 UTC again.
    assert not due("2026-11-01T12:59")
    assert due("2026-11-01T13:00")
    day = [d for u, _, d in services.due_users(at("2026-03-08T12:00")) if u.pk == rep.pk]
    assert day == [dt.date(2026, 3, 8)]


@pytest.mark.django_db
def test_digest_skips_users_who_turned_it_off_and_inactive_users(rep, rep2, rep_world):
    prefer(rep, digest_enabled=False)
    rep2.is_active = False
    rep2.save()
    services.send_digests(now=at("2026-03-10T09:00"))
    assert not [m for m in mail.outbox if m.to in ([rep.email], [rep2.email])]


@pytest.mark.django_db
def test_digest_invalid_address_is_recorded_and_does_not_stop_the_others(rep, manager, rep_world):
    rep.email = "not-an-address"
    rep.save()
    summary = services.send_digests(now=at("2026-03-10T09:00"))
    assert summary.invalid_address == 1
    run = DigestRun.objects.get(user=rep)
    assert run.status == "invalid_address" and "not-an-address" in run.last_error
    assert _digest_of(manager)  # the manager's digest still went out


@pytest.mark.django_db
def test_digest_queries_do_not_grow_with_deals(rep, pipeline, utc8):
    def queries_for(deals: int) -> int:
        with time_machine.travel(at("2026-01-01T10:00"), tick=False):
            for i in range(deals):
                deal = OpportunityFactory(
                    owner=rep, pipeline=pipeline, expected_close_date=dt.date(2026, 3, 1)
                )
                task(rep, f"Task {i}", dt.date(2026, 3, 1), target=deal)
        ctx = selectors.DigestContext(at("2026-03-10T09:00"))
        with CaptureQueriesContext(connection) as captured:
            digest = selectors.build_digest(rep, day=dt.date(2026, 3, 10), ctx=ctx)
            assert not digest.is_empty
        return len(captured)

    assert queries_for(2) == queries_for(25) <= 4


@pytest.mark.django_db
def test_send_digests_command_runs_at_the_given_moment(rep, rep_world):
    from io import StringIO

    out = StringIO()
    call_command("send_digests", "--now", "2026-03-10T09:00:00+00:00", stdout=out)
    assert "sent" in out.getvalue() and _digest_of(rep)
    with pytest.raises(CommandError, match="not an ISO date-time"):
        call_command("send_digests", "--now", "tomorrow morning")


@pytest.mark.django_db
def test_digest_schedule_is_a_beat_task_every_15_minutes():
    from django_celery_beat.models import PeriodicTask

    from config.celery import app

    task = PeriodicTask.objects.get(task="notifications.tasks.send_digests")
    assert task.enabled and task.crontab.minute == "*/15" and task.crontab.hour == "*"
    app.loader.import_default_modules()
    assert "notifications.tasks.send_digests" in app.tasks


@pytest.mark.django_db
def test_digest_unknown_time_zone_is_refused_by_the_preferences_service(rep):
    from django.core.exceptions import ValidationError

    pref = prefer(rep, digest_hour=8)
    with pytest.raises(ValidationError, match="not a time zone we know"):
        services.update_preferences(
            user=rep, by=rep, version=pref.version, digest_enabled=True, digest_hour=8,
            time_zone="Mars/Olympus_Mons", in_app_events=[], email_events=[],
        )  # fmt: skip
    pref.refresh_from_db()
    assert pref.time_zone == "UTC"


def test_digest_user_count_is_a_real_user_factory():
    # UserFactory makes addresses the digest accepts.
    assert UserFactory.build(username="x").email == "x@example.com"


@pytest.mark.django_db
def test_digest_long_sections_show_twenty_lines_and_say_how_many_more(rep, pipeline, utc8):
    with time_machine.travel(at("2026-03-01T10:00"), tick=False):
        deal = OpportunityFactory(owner=rep, pipeline=pipeline, name="Busy Co")
        for i in range(23):
            task(rep, f"Follow-up {i:02d}", dt.date(2026, 3, 9), target=deal)
    services.send_digests(now=at("2026-03-10T09:00"))
    text = _digest_of(rep).body
    assert text.count("Follow-up ") == 20
    assert "- and 3 more\n" in text
