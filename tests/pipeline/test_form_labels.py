"""Every form of the workspace labels its fields the same way: no trailing colon."""

import re

import pytest

from pipeline.models import Lead
from tests.factories import CompanyFactory, ContactFactory, LeadFactory, OpportunityFactory

LABEL = re.compile(r"<label[^>]*>(.*?)</label>", re.S)


@pytest.fixture
def records(rep, pipeline):
    company = CompanyFactory(owner=rep)
    return {
        "company": company,
        "contact": ContactFactory(owner=rep, company=company),
        "lead": LeadFactory(owner=rep, status=Lead.Status.PROSPECT),
        "deal": OpportunityFactory(owner=rep, pipeline=pipeline, company=company),
    }


def _pages(records):
    lead, deal = records["lead"].pk, records["deal"].pk
    return [
        "/pipeline/leads/new/",
        f"/pipeline/leads/{lead}/edit/",
        f"/pipeline/leads/{lead}/disqualify/",
        f"/pipeline/leads/{lead}/convert/",
        "/pipeline/companies/new/",
        f"/pipeline/companies/{records['company'].pk}/edit/",
        "/pipeline/contacts/new/",
        f"/pipeline/contacts/{records['contact'].pk}/edit/",
        "/pipeline/opportunities/new/",
        f"/pipeline/opportunities/{deal}/edit/",
        f"/pipeline/opportunities/{deal}/move/",
        f"/pipeline/opportunities/{deal}/lost/",
    ]


def test_no_label_ends_in_a_colon(client, rep, records):
    client.force_login(rep)
    offenders = {}
    for path in _pages(records):
        response = client.get(path)
        assert response.status_code == 200, path
        labels = [
            re.sub(r"<[^>]+>", "", text).strip()
            for text in LABEL.findall(response.content.decode())
        ]
        assert labels, path
        colons = [label for label in labels if label.endswith(":")]
        if colons:
            offenders[path] = colons
    assert not offenders
