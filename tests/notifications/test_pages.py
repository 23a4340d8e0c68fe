"""The bell, /notifications/, the settings page and the mention autocomplete over HTTP."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from notifications import services
from notifications.models import Notification, Preference


def _notification_queries(captured) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if "notifications_notification" in q["sql"]]


@pytest.mark.django_db
def test_bell_shows_the_unread_count_with_one_query(client, rep, rep2):
    for i in range(3):
        services.notify(recipient=rep, event="mention", title=f"N{i}", actor=rep2)
    services.notify(recipient=rep2, event="mention", title="not rep's", actor=rep)
    client.force_login(rep)
    with CaptureQueriesContext(connection) as captured:
        page = client.get("/pipeline/tasks/")
    assert page.status_code == 200
    assert '<span class="bell-count">3</span>' in page.content.decode()
    queries = _notification_queries(captured)
    assert len(queries) == 1 and "COUNT(*)" in queries[0]


@pytest.mark.django_db
def test_bell_is_skipped_for_anonymous_users(client):
    with CaptureQueriesContext(connection) as captured:
        page = client.get("/accounts/login/")
    assert page.status_code == 200
    assert _notification_queries(captured) == []
    assert b"bell-count" not in page.content


@pytest.mark.django_db
def test_notifications_page_lists_only_mine_and_marks_read(client, rep, rep2):
    mine = services.notify(
        recipient=rep, event="mention", title="For rep", actor=rep2, url="/pipeline/tasks/"
    )
    services.notify(recipient=rep, event="mention", title="Second for rep", actor=rep2)
    theirs = services.notify(recipient=rep2, event="mention", title="For rep2", actor=rep)
    client.force_login(rep)
    page = client.get("/notifications/")
    assert b"For rep" in page.content and b"For rep2" not in page.content
    assert b"Mark all 2 as read" in page.content
    # Someone else's notification: 404, and it stays unread.
    assert client.post(f"/notifications/{theirs.pk}/read/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None
    # Open: marks read and goes to the record.
    opened = client.post(f"/notifications/{mine.pk}/read/", {"open": "1"})
    assert opened.status_code == 302 and opened["Location"] == "/pipeline/tasks/"
    mine.refresh_from_db()
    assert mine.read_at is not None
    done = client.post("/notifications/read-all/")
    assert done.status_code == 302
    assert not Notification.objects.filter(recipient=rep, read_at__isnull=True).exists()
    assert Notification.objects.filter(recipient=rep2, read_at__isnull=True).count() == 1


@pytest.mark.django_db
def test_notifications_open_never_redirects_off_site(client, rep, rep2):
    n = services.notify(
        recipient=rep, event="mention", title="x", actor=rep2, url="https://evil.example/"
    )
    client.force_login(rep)
    response = client.post(f"/notifications/{n.pk}/read/", {"open": "1"})
    assert response["Location"] == "/notifications/"


@pytest.mark.django_db
def test_notifications_pages_need_a_login(client):
    for url in ("/notifications/", "/notifications/settings/", "/notifications/mentions/?q=a"):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.django_db
def test_preferences_page_saves_choices(client, rep):
    client.force_login(rep)
    page = client.get("/notifications/settings/")
    assert page.status_code == 200 and b"Daily digest" in page.content
    version = Preference.for_user(rep).version
    response = client.post(
        "/notifications/settings/",
        {
            "version": version,
            "digest_enabled": "on",
            "digest_hour": "7",
            "time_zone": "Europe/Berlin",
            "in_app": ["deal_assigned", "mention"],
            "email": ["mention"],
        },
    )
    assert response.status_code == 302
    pref = Preference.objects.get(user=rep)
    assert (pref.digest_enabled, pref.digest_hour, pref.time_zone) == (True, 7, "Europe/Berlin")
    assert pref.in_app_events == ["deal_assigned", "mention"]
    assert pref.email_events == ["mention"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "change,message",
    [
        ({"time_zone": "Europe/Atlantis"}, "is not a time zone we know"),
        ({"digest_hour": "25"}, "Choose an hour between 0 and 23."),
        ({"digest_hour": "eight"}, "Choose an hour between 0 and 23."),
        ({"version": "0"}, "changed in another window"),
        ({"in_app": ["<script>"]}, "Unknown events"),
    ],
)
def test_preferences_page_bad_input_says_what_and_changes_nothing(client, rep, change, message):
    client.force_login(rep)
    before = Preference.for_user(rep)
    data = {"version": before.version, "digest_hour": "8", "time_zone": "UTC", **change}
    response = client.post("/notifications/settings/", data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert b"Nothing was saved" in response.content
    assert not Preference.objects.filter(user=rep, version__gt=before.version).exists()


@pytest.mark.django_db
def test_mention_autocomplete_endpoint_lists_only_mentionable_people(client, rep, rep2, manager):
    client.force_login(rep)
    data = json.loads(client.get("/notifications/mentions/?q=").content)
    assert [r["username"] for r in data["results"]] == ["manager"]
    data = json.loads(client.get("/notifications/mentions/?q=rep2").content)
    assert data["results"] == []
