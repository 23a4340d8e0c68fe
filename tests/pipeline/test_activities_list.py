"""The activity list: every call, email, meeting, note and task the user may see, newest
first, with its filters, sort, pages and exports; a record is named only when the viewer may
open it."""

import csv
import datetime as dt
import io

import pytest
from django.urls import reverse
from django.utils import timezone

from pipeline import services
from pipeline.list_exports import ACTIVITY_HEADERS
from pipeline.models import Activity
from tests.factories import CompanyFactory, ContactFactory, OpportunityFactory

pytestmark = pytest.mark.django_db

URL = "pipeline:activity_list"
TOMORROW = dt.timedelta(days=1)


def _rows(client, params=None):
    response = client.get(reverse(URL), params or {})
    assert response.status_code == 200
    return list(response.context["page_obj"].object_list)


def _log(user, record, kind="call", subject="Call", **kwargs):
    field = {"Opportunity": "opportunity", "Company": "company", "Contact": "contact"}[
        type(record).__name__
    ]
    if kind == "task":
        kwargs.setdefault("due_on", timezone.localdate() + TOMORROW)
    return services.log_activity(by=user, kind=kind, subject=subject, **{field: record}, **kwargs)


def _csv(response) -> list[list[str]]:
    assert response.status_code == 200
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_activity_list_requires_login(client):
    response = client.get(reverse(URL))
    assert response.status_code == 302 and "/login" in response["Location"]


def test_a_rep_never_sees_another_teams_activities(client, rep, outsider, manager, rep2):
    mine = _log(rep, CompanyFactory(owner=rep), subject="My call")
    teammate = _log(rep2, CompanyFactory(owner=rep2), subject="Teammate call")
    _log(outsider, CompanyFactory(owner=outsider, name="West Co"), subject="West call")
    client.force_login(rep)
    response = client.get(reverse(URL))
    assert list(response.context["page_obj"].object_list) == [mine]
    assert b"West call" not in response.content and b"West Co" not in response.content
    client.force_login(manager)
    assert set(_rows(client)) == {mine, teammate}


def test_newest_first_across_every_kind(client, rep):
    company = CompanyFactory(owner=rep)
    now = timezone.now()
    old = _log(rep, company, kind="note", subject="Old", occurred_at=now - dt.timedelta(days=3))
    new = _log(rep, company, kind="meeting", subject="New", occurred_at=now)
    mid = _log(rep, company, kind="task", subject="Mid", occurred_at=now - dt.timedelta(days=1))
    client.force_login(rep)
    assert _rows(client) == [new, mid, old]
    assert _rows(client, {"sort": "subject"}) == [mid, new, old]
    assert _rows(client, {"sort": "when"}) == [old, mid, new]


def test_a_reassigned_deals_name_is_not_shown_to_its_former_owner(
    client, rep, rep2, manager, pipeline
):
    deal = OpportunityFactory(owner=rep, pipeline=pipeline, name="Secret expansion deal")
    call = _log(rep, deal, subject="Discovery call")
    client.force_login(rep)
    assert b"Secret expansion deal" in client.get(reverse(URL)).content
    services.update_opportunity(opportunity=deal, by=manager, version=deal.version, owner=rep2)
    response = client.get(reverse(URL))
    assert list(response.context["page_obj"].object_list) == [call]
    assert b"Discovery call" in response.content
    assert b"Secret expansion deal" not in response.content
    assert reverse("pipeline:opportunity_detail", args=[deal.pk]).encode() not in response.content
    # Nor through the search or the export.
    assert _rows(client, {"q": "Secret"}) == []
    rows = _csv(client.get(reverse(URL), {"export": "csv"}))
    assert rows[1][1] == "Discovery call" and rows[1][6] == ""
    # The new owner's manager sees the deal named.
    client.force_login(manager)
    assert b"Secret expansion deal" in client.get(reverse(URL)).content


def test_filters_kind_task_status_owner_and_search(client, rep, rep2, manager, outsider):
    company = CompanyFactory(owner=rep)
    call = _log(rep, company, kind="call", subject="Pricing call", body="They asked for a quote")
    note = _log(rep, company, kind="note", subject="Org chart")
    open_task = _log(rep, company, kind="task", subject="Send quote")
    done_task = _log(rep, company, kind="task", subject="Book demo")
    done_task = services.complete_task(activity=done_task, by=rep)
    theirs = _log(rep2, CompanyFactory(owner=rep2), kind="email", subject="Intro email")
    client.force_login(rep)
    assert _rows(client, {"kind": "note"}) == [note]
    assert set(_rows(client, {"kind": "task"})) == {open_task, done_task}
    assert _rows(client, {"task_status": "open"}) == [open_task]
    assert _rows(client, {"task_status": "done"}) == [done_task]
    assert set(_rows(client, {"q": "quote"})) == {call, open_task}  # subject or notes
    assert _rows(client, {"q": "pricing QUOTE"}) == [call]  # every word must match
    # A rep cannot name a teammate as owner: the filter is ignored, the rows stay theirs.
    assert theirs not in _rows(client, {"owner": rep2.pk})
    client.force_login(manager)
    assert _rows(client, {"owner": rep2.pk}) == [theirs]
    assert _rows(client, {"owner": outsider.pk, "kind": "email"}) == [theirs]  # not a choice
    page = client.get(reverse(URL)).content.decode()
    assert 'name="owner"' in page and "outsider" not in page


def test_date_range_is_whole_local_days_of_when_it_happened(client, rep):
    company = CompanyFactory(owner=rep)
    tz = timezone.get_current_timezone()
    day = dt.date(2026, 3, 10)
    start = dt.datetime.combine(day, dt.time.min, tzinfo=tz)
    before = _log(rep, company, subject="Before", occurred_at=start - dt.timedelta(seconds=1))
    first = _log(rep, company, subject="First", occurred_at=start)
    last = _log(
        rep, company, subject="Last", occurred_at=start + dt.timedelta(hours=23, minutes=59)
    )
    after = _log(rep, company, subject="After", occurred_at=start + dt.timedelta(days=1))
    client.force_login(rep)
    same_day = {"occurred_from": "2026-03-10", "occurred_until": "2026-03-10"}
    assert _rows(client, same_day) == [last, first]
    assert _rows(client, {"occurred_from": "2026-03-11"}) == [after]
    assert _rows(client, {"occurred_until": "2026-03-09"}) == [before]


@pytest.mark.parametrize(
    "params",
    [
        {"kind": "dance"},
        {"task_status": "maybe"},
        {"occurred_from": "2017-02-30"},
        {"occurred_until": "0001-01-01"},
        {"sort": "body"},
        {"owner": "abc"},
        {"page": "99999"},
        {"q": "x\x00y"},
    ],
)
def test_bad_parameters_are_ignored_never_fail(client, rep, params):
    call = _log(rep, CompanyFactory(owner=rep))
    client.force_login(rep)
    response = client.get(reverse(URL), params)
    assert response.status_code == 200
    if "q" not in params:
        assert list(response.context["page_obj"].object_list) == [call]


def test_export_csv_columns_filters_and_formula_guard(client, rep, outsider):
    contact = ContactFactory(owner=rep, first_name="=Dana", last_name="Doe")
    _log(rep, contact, kind="call", subject='=HYPERLINK("http://x")', body="+1 555 0100")
    _log(rep, contact, kind="note", subject="Plain note")
    _log(outsider, CompanyFactory(owner=outsider), subject="Hidden call")
    client.force_login(rep)
    response = client.get(reverse(URL), {"export": "csv", "kind": "call"})
    assert response["Content-Disposition"] == 'attachment; filename="opportune-activities.csv"'
    rows = _csv(response)
    assert rows[0] == ACTIVITY_HEADERS == [
        "Kind", "Subject", "Occurred at", "Due on", "Done at", "Owner", "About", "Notes",
    ]  # fmt: skip
    assert len(rows) == 2  # the page's kind filter applies; the other team's call is not there
    kind, subject, occurred, due, done, owner, about, notes = rows[1]
    assert (kind, due, done, owner) == ("Call", "", "", "rep")
    assert subject == '\'=HYPERLINK("http://x")'
    assert about == "'=Dana Doe" and notes == "'+1 555 0100"
    assert dt.datetime.fromisoformat(occurred).tzinfo is not None
    assert "Hidden" not in response.content.decode()


def test_export_xlsx_and_task_dates(client, rep):
    from openpyxl import load_workbook

    task = _log(rep, CompanyFactory(owner=rep, name="Acme"), kind="task", subject="=Follow up")
    services.complete_task(activity=task, by=rep)
    client.force_login(rep)
    response = client.get(reverse(URL), {"export": "xlsx"})
    sheet = load_workbook(io.BytesIO(response.content)).active
    header, row = list(sheet.iter_rows(values_only=True))
    assert list(header) == ACTIVITY_HEADERS
    assert row[0] == "Task" and row[1] == "'=Follow up" and row[6] == "Acme"
    assert row[3] == (timezone.localdate() + TOMORROW).isoformat() and row[4]


def test_an_open_task_past_its_due_date_is_flagged_overdue(client, rep):
    company = CompanyFactory(owner=rep)
    _log(rep, company, kind="task", subject="Late", due_on=timezone.localdate() - TOMORROW)
    client.force_login(rep)
    assert b"Overdue" in client.get(reverse(URL)).content
    services.complete_task(activity=Activity.objects.get(subject="Late"), by=rep)
    assert b"Overdue" not in client.get(reverse(URL)).content


def test_tasks_page_links_to_the_activity_list(client, rep):
    client.force_login(rep)
    page = client.get(reverse("pipeline:tasks")).content.decode()
    assert f'href="{reverse(URL)}"' in page and "All activity" in page
    list_page = client.get(reverse(URL)).content.decode()
    assert "export=csv" in list_page and "export=xlsx" in list_page
    assert "No activity yet." in list_page


@pytest.mark.parametrize("rows", [5, 60])
def test_query_budget_does_not_grow_with_rows(
    client, manager, rep, rep2, pipeline, rows, django_assert_max_num_queries
):
    # Every kind of record, so each relation the page names is loaded.
    records = [
        CompanyFactory(owner=rep),
        ContactFactory(owner=rep2),
        OpportunityFactory(owner=rep, pipeline=pipeline),
    ]
    for i in range(rows):
        record = records[i % 3]
        _log(record.owner, record, kind=("call", "task")[i % 2], subject=f"A{i}")
    assert Activity.objects.count() == rows
    client.force_login(manager)
    with django_assert_max_num_queries(7):
        response = client.get(reverse(URL), {"sort": "owner"})
    assert response.status_code == 200
    assert len(response.context["page_obj"].object_list) == min(rows, 50)
    with django_assert_max_num_queries(4):
        assert client.get(reverse(URL), {"export": "csv"}).status_code == 200
