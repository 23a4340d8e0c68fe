"""No input makes a page of the rep's workspace fail: NUL characters, odd digits, huge
numbers and markup in every parameter of every page and action give a page or a form
error, never a server error."""

import pytest
from django.urls import reverse

from pipeline import services
from tests.factories import CompanyFactory, ContactFactory, LeadFactory, OpportunityFactory

pytestmark = pytest.mark.django_db

NASTY = ["a\x00b", "²", "9" * 40, "-1", "' OR 1=1 --<script>%", "x" * 3000]


@pytest.fixture
def records(rep, pipeline):
    lead = LeadFactory(owner=rep, need="n", budget=1, timeline="t")
    prospect = services.qualify_lead(
        lead=LeadFactory(owner=rep, need="n", budget=1, timeline="t"), by=rep
    )
    company = CompanyFactory(owner=rep)
    contact = ContactFactory(owner=rep, company=company)
    opp = OpportunityFactory(owner=rep, pipeline=pipeline, company=company)
    task = services.log_activity(by=rep, kind="task", subject="t", lead=lead, due_on="2030-01-01")
    return {
        "lead": lead,
        "prospect": prospect,
        "company": company,
        "contact": contact,
        "opp": opp,
        "task": task,
    }


def _pages(r):
    return [
        (reverse("pipeline:lead_list"), {}),
        (reverse("pipeline:company_list"), {}),
        (reverse("pipeline:contact_list"), {}),
        (reverse("pipeline:tasks"), {}),
        (reverse("pipeline:lead_create"), {}),
        (reverse("pipeline:company_create"), {}),
        (reverse("pipeline:contact_create"), {}),
        (reverse("pipeline:lead_convert", args=[r["prospect"].pk]), {}),
        (reverse("pipeline:contact_edit", args=[r["contact"].pk]), {}),
        (reverse("pipeline:activity_create"), {"company": r["company"].pk}),
    ]


GET_PARAMS = [
    "q",
    "status",
    "source",
    "owner",
    "sort",
    "page",
    "industry",
    "open_deals",
    "company",
    "contact",
    "decision_maker",
    "company_q",
    "contact_q",
    "kind",
    "next",
]


@pytest.mark.parametrize("value", NASTY)
def test_leads_pages_survive_any_query_parameter(client, rep, records, value):
    client.force_login(rep)
    for url, params in _pages(records):
        for name in GET_PARAMS:
            response = client.get(url, {**params, name: value})
            assert response.status_code in (200, 404), (url, name, response.status_code)


@pytest.mark.parametrize("value", NASTY)
def test_leads_forms_survive_any_posted_value(client, rep, records, pipeline, value):
    client.force_login(rep)
    r = records
    posts = [
        (
            reverse("pipeline:lead_create"),
            ["first_name", "last_name", "email", "budget", "source", "owner", "need", "timeline"],
        ),
        (
            reverse("pipeline:lead_edit", args=[r["lead"].pk]),
            ["first_name", "budget", "source", "owner"],
        ),
        (reverse("pipeline:lead_disqualify", args=[r["lead"].pk]), ["reason"]),
        (
            reverse("pipeline:lead_convert", args=[r["prospect"].pk]),
            [
                "need",
                "budget",
                "timeline",
                "amount",
                "expected_close_date",
                "pipeline",
                "company",
                "company_name",
                "contact",
                "owner",
                "name",
            ],
        ),
        (reverse("pipeline:company_create"), ["name", "employees", "website", "owner"]),
        (reverse("pipeline:company_edit", args=[r["company"].pk]), ["name", "employees"]),
        (reverse("pipeline:contact_create"), ["first_name", "email", "company", "owner"]),
        (
            reverse("pipeline:contact_edit", args=[r["contact"].pk]),
            ["first_name", "email", "company"],
        ),
        (
            reverse("pipeline:activity_create"),
            ["company", "kind", "subject", "body", "due_on", "occurred_at", "next"],
        ),
        (reverse("pipeline:task_complete", args=[r["task"].pk]), ["next"]),
    ]
    base = {
        "first_name": "A",
        "name": "N",
        "source": "web",
        "reason": "r",
        "need": "n",
        "budget": "1",
        "timeline": "t",
        "amount": "1",
        "expected_close_date": "2030-01-01",
        "pipeline": pipeline.pk,
        "company_name": "C",
        "kind": "call",
        "subject": "s",
        "company": r["company"].pk,
    }
    for url, fields in posts:
        for field in fields:
            response = client.post(url, {**base, field: value})
            assert response.status_code in (200, 302, 404), (url, field, response.status_code)
