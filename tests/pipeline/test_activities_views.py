"""Logging activities and creating tasks on leads, deals, contacts and companies: plain POST
and htmx, bad input, and every role's refusals."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from pipeline.models import Activity, Lead
from tests.factories import CompanyFactory, ContactFactory, LeadFactory, OpportunityFactory

pytestmark = pytest.mark.django_db
URL = "/pipeline/activities/new/"
HTMX = {"HTTP_HX_REQUEST": "true"}


def test_activity_create_url_name():
    assert reverse("pipeline:activity_create") == URL


@pytest.fixture
def targets(rep, pipeline):
    company = CompanyFactory(owner=rep)
    return {
        "lead": LeadFactory(owner=rep),
        "opportunity": OpportunityFactory(owner=rep, pipeline=pipeline, company=company),
        "contact": ContactFactory(owner=rep, company=company),
        "company": company,
    }


@pytest.mark.parametrize("field", ["lead", "opportunity", "contact", "company"])
def test_activity_create_logs_on_each_kind_of_record_and_returns_to_it(client, rep, targets, field):
    target = targets[field]
    client.force_login(rep)
    response = client.post(URL, {field: target.pk, "kind": "call", "subject": "Discovery call"})
    assert response.status_code == 302 and response["Location"] == target.get_absolute_url()
    activity = Activity.objects.get()
    assert getattr(activity, field) == target and activity.owner == rep and activity.kind == "call"


def test_activity_create_task_with_due_date(client, rep, targets):
    client.force_login(rep)
    due = (timezone.localdate() + dt.timedelta(days=3)).isoformat()
    client.post(
        URL, {"lead": targets["lead"].pk, "kind": "task", "subject": "Send quote", "due_on": due}
    )
    task = Activity.objects.get()
    assert task.is_task and task.due_on.isoformat() == due and task.done_at is None


def test_activity_create_on_new_lead_starts_working_it(client, rep, targets):
    client.force_login(rep)
    client.post(URL, {"lead": targets["lead"].pk, "kind": "email", "subject": "Intro"})
    assert Lead.objects.get(pk=targets["lead"].pk).status == "working"


def test_activity_create_returns_to_safe_next_only(client, rep, targets):
    client.force_login(rep)
    opp = targets["opportunity"]
    response = client.post(
        URL, {"opportunity": opp.pk, "kind": "note", "subject": "x", "next": "/pipeline/board/"}
    )
    assert response["Location"] == "/pipeline/board/"
    response = client.post(
        URL,
        {"opportunity": opp.pk, "kind": "note", "subject": "x", "next": "https://evil.example/"},
    )
    assert response["Location"] == opp.get_absolute_url()


@pytest.mark.parametrize(
    "data,field",
    [
        ({"kind": "call", "subject": ""}, "subject"),
        ({"kind": "call", "subject": "   "}, "subject"),
        ({"kind": "fax", "subject": "x"}, "kind"),
        ({"kind": "task", "subject": "x"}, "due_on"),
        ({"kind": "task", "subject": "x", "due_on": "2026-13-01"}, "due_on"),
        ({"kind": "call", "subject": "x", "due_on": "2026-12-01"}, "due_on"),
        ({"kind": "call", "subject": "x" * 201}, "subject"),
        ({"kind": "call", "subject": "x", "occurred_at": "yesterday"}, "occurred_at"),
        ({"kind": "call", "subject": "x", "occurred_at": "2999-01-01T10:00"}, "occurred_at"),
    ],
)
def test_activity_create_bad_input_shows_field_error_and_keeps_input(
    client, rep, targets, data, field
):
    client.force_login(rep)
    response = client.post(URL, {"company": targets["company"].pk, "body": "typed notes", **data})
    assert response.status_code == 200
    assert field in response.context["activity_form"].errors
    assert b"typed notes" in response.content
    assert b'id="activity-' in response.content and b'aria-invalid="true"' in response.content
    assert not Activity.objects.exists()


def test_activity_create_htmx_success_returns_fresh_form_and_event(client, rep, targets):
    client.force_login(rep)
    response = client.post(
        URL, {"contact": targets["contact"].pk, "kind": "meeting", "subject": "Demo"}, **HTMX
    )
    assert response.status_code == 200
    assert response["HX-Trigger"] == "activity-logged"
    assert b"Meeting logged: Demo" in response.content
    assert b"<html" not in response.content  # a fragment, not a page
    assert Activity.objects.count() == 1


def test_activity_create_htmx_error_returns_form_with_errors(client, rep, targets):
    client.force_login(rep)
    response = client.post(
        URL, {"contact": targets["contact"].pk, "kind": "task", "subject": "Call"}, **HTMX
    )
    assert response.status_code == 200 and "HX-Trigger" not in response
    assert b"A task needs a due date." in response.content
    assert b'value="Call"' in response.content


def test_activity_create_get_shows_form_page(client, rep, targets):
    client.force_login(rep)
    response = client.get(URL, {"lead": targets["lead"].pk, "kind": "task"})
    assert response.status_code == 200
    assert b'<option value="task" selected>' in response.content


@pytest.mark.parametrize(
    "params",
    [{}, {"lead": "abc"}, {"lead": "-1"}, {"lead": "99999999999999999999999"}, {"lead": "999999"}],
)
def test_activity_create_without_a_valid_target_is_404(client, rep, params):
    client.force_login(rep)
    assert client.post(URL, {**params, "kind": "call", "subject": "x"}).status_code == 404
    assert not Activity.objects.exists()


def test_activity_create_two_targets_is_404(client, rep, targets):
    client.force_login(rep)
    data = {
        "lead": targets["lead"].pk,
        "company": targets["company"].pk,
        "kind": "call",
        "subject": "x",
    }
    assert client.post(URL, data).status_code == 404


def test_activity_create_other_rep_and_outside_manager_get_404(client, rep2, outsider, targets):
    for user in (rep2, outsider):
        client.force_login(user)
        for field, target in targets.items():
            assert (
                client.post(URL, {field: target.pk, "kind": "call", "subject": "x"}).status_code
                == 404
            )
    assert not Activity.objects.exists()


def test_activity_create_manager_logs_on_team_record(client, manager, targets):
    client.force_login(manager)
    response = client.post(
        URL, {"opportunity": targets["opportunity"].pk, "kind": "note", "subject": "Coaching"}
    )
    assert response.status_code == 302
    assert Activity.objects.get().owner == manager


def test_activity_create_on_company_seen_only_through_a_deal_is_refused(
    client, manager, rep, rep2, pipeline
):
    company = CompanyFactory(owner=rep2)
    OpportunityFactory(owner=rep, by=manager, pipeline=pipeline, company=company)
    client.force_login(rep)
    response = client.post(URL, {"company": company.pk, "kind": "call", "subject": "x"})
    assert response.status_code == 200
    assert b"You may not change this record." in response.content
    assert not Activity.objects.exists()


def test_activity_create_requires_login(client, targets):
    response = client.post(URL, {"lead": targets["lead"].pk, "kind": "call", "subject": "x"})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
