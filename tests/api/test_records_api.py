"""Companies, contacts, leads and activities carry versions too: kept by their services, one
rule for the pages and the API (a stale edit is refused, wherever it comes from)."""

import datetime as dt

import pytest
from django.urls import reverse

from pipeline import services
from pipeline.models import Company, Lead
from tests.factories import CompanyFactory, LeadFactory

pytestmark = pytest.mark.django_db


def test_company_version_grows_and_stale_if_match_is_412(api_as, rep):
    company = CompanyFactory(owner=rep, name="Acme")
    client = api_as(rep)
    url = f"/api/v1/companies/{company.pk}/"
    assert client.get(url)["ETag"] == '"1"'
    ok = client.patch(url, {"city": "Leeds"}, HTTP_IF_MATCH='"1"')
    assert ok.status_code == 200 and ok["ETag"] == '"2"'
    stale = client.patch(url, {"city": "York"}, HTTP_IF_MATCH='"1"')
    assert stale.status_code == 412
    assert stale.json()["error"]["current"]["city"] == "Leeds"
    assert Company.objects.get(pk=company.pk).city == "Leeds"


def test_page_edit_after_an_api_edit_is_refused_as_stale(client, api_as, rep):
    company = CompanyFactory(owner=rep, name="Acme")
    api_as(rep).patch(f"/api/v1/companies/{company.pk}/", {"name": "Acme API", "version": 1})
    client.force_login(rep)
    response = client.post(
        reverse("pipeline:company_edit", args=[company.pk]), {"name": "Acme page", "version": 1}
    )
    assert response.status_code == 200
    assert "Someone else changed" in response.content.decode()
    assert Company.objects.get(pk=company.pk).name == "Acme API"


def test_page_edit_without_version_is_refused(client, rep):
    company = CompanyFactory(owner=rep, name="Acme")
    client.force_login(rep)
    response = client.post(reverse("pipeline:company_edit", args=[company.pk]), {"name": "X"})
    assert response.status_code == 200 and "version is missing" in response.content.decode()
    assert Company.objects.get(pk=company.pk).name == "Acme"


def test_lead_through_the_api_qualify_convert_needs_need_budget_timeline(api_as, rep, pipeline):
    client = api_as(rep)
    created = client.post("/api/v1/leads/", {"first_name": "Sam", "company_name": "Northwind"})
    assert created.status_code == 201, created.json()
    lead = created.json()
    qualified = client.post(
        f"/api/v1/leads/{lead['id']}/qualify/", {}, HTTP_IF_MATCH=created["ETag"]
    )
    assert qualified.status_code == 200 and qualified.json()["status"] == "prospect"
    close = str(dt.date.today() + dt.timedelta(days=30))
    refused = client.post(
        f"/api/v1/leads/{lead['id']}/convert/",
        {"amount": "1000.00", "expected_close_date": close},
        HTTP_IF_MATCH=qualified["ETag"],
    )
    assert refused.status_code == 400
    assert set(refused.json()["error"]["fields"]) == {"need", "budget", "timeline"}
    assert Lead.objects.get(pk=lead["id"]).status == "prospect"


def test_lead_disqualify_needs_a_reason_and_stale_body_version_is_409(api_as, rep):
    lead = LeadFactory(owner=rep)
    client = api_as(rep)
    url = f"/api/v1/leads/{lead.pk}/disqualify/"
    assert client.post(url, {"version": 1}).status_code == 400
    services.qualify_lead(lead=lead, by=rep)  # version 2 now
    stale = client.post(url, {"version": 1, "reason": "No budget"})
    assert stale.status_code == 409
    assert stale.json()["error"]["current"]["status"] == "prospect"


def test_task_update_completes_it_and_bumps_its_version(api_as, rep, opportunity):
    task = services.log_activity(
        by=rep,
        kind="task",
        subject="Send the proposal",
        opportunity=opportunity,
        due_on=dt.date.today() + dt.timedelta(days=2),
    )
    client = api_as(rep)
    response = client.patch(f"/api/v1/tasks/{task.pk}/", {"done": True}, HTTP_IF_MATCH='"1"')
    assert response.status_code == 200, response.json()
    assert response.json()["done_at"] and response["ETag"] == '"2"'
    assert client.get("/api/v1/tasks/?done=false").json()["results"] == []


def test_list_query_count_does_not_grow_with_page_size(
    api_as, manager, rep, pipeline, django_assert_max_num_queries
):
    from tests.factories import OpportunityFactory

    client = api_as(manager, scope="read")
    for n in range(30):
        OpportunityFactory(owner=rep, pipeline=pipeline, name=f"Deal {n}")
    client.get("/api/v1/opportunities/?page_size=2")  # the token is cached from here on
    for size in (2, 30):
        with django_assert_max_num_queries(1):  # the deals with their line items
            response = client.get(f"/api/v1/opportunities/?page_size={size}")
        assert len(response.json()["results"]) == size


def test_list_cursor_is_stable_under_inserts(api_as, rep, pipeline):
    from tests.factories import OpportunityFactory

    for n in range(5):
        OpportunityFactory(owner=rep, pipeline=pipeline, name=f"Deal {n}")
    client = api_as(rep, scope="read")
    first = client.get("/api/v1/opportunities/?page_size=2").json()
    OpportunityFactory(owner=rep, pipeline=pipeline, name="Newest")
    second = client.get(first["next"]).json()
    seen = [d["name"] for d in first["results"] + second["results"]]
    assert len(set(seen)) == 4 and "Newest" not in seen


def test_updated_since_filters_and_bad_values_are_400(api_as, rep):
    company = CompanyFactory(owner=rep)
    client = api_as(rep, scope="read")
    later = (company.updated_at + dt.timedelta(seconds=1)).isoformat()
    assert client.get("/api/v1/companies/", {"updated_since": later}).json()["results"] == []
    bad = client.get("/api/v1/companies/", {"updated_since": "yesterday"})
    assert bad.status_code == 400 and "updated_since" in bad.json()["error"]["fields"]


def test_dashboard_figures_and_bad_period(api_as, manager, opportunity):
    client = api_as(manager, scope="read")
    # The quarter the deal is expected to close in (30 days ahead: the next quarter in the
    # last month of one).
    day = opportunity.expected_close_date
    response = client.get("/api/v1/dashboard/", {"period": f"{day.year}-Q{(day.month + 2) // 3}"})
    assert response.status_code == 200
    body = response.json()
    assert body["total"]["open"] == "10000.00" and body["reps"]
    assert client.get("/api/v1/dashboard/", {"period": "soon"}).status_code == 400
