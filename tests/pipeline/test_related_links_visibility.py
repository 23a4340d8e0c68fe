"""Nothing a user may not open is named or linked: after a manager reassigns a deal from rep
A to rep B, A's own earlier activity and tasks on it stay A's, but the deal (its name and
link) disappears from A's pages."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from pipeline import services
from tests.factories import CompanyFactory, ContactFactory, LeadFactory, OpportunityFactory

DEAL = "Secret expansion deal"


@pytest.fixture
def reassigned(rep, rep2, manager, pipeline):
    """Rep A (``rep``) owns the company and the contact, worked the deal, then the manager
    handed the deal to rep B (``rep2``)."""
    company = CompanyFactory(owner=rep, name="Acme A")
    contact = ContactFactory(owner=rep, company=company, first_name="Carla")
    deal = OpportunityFactory(owner=rep, pipeline=pipeline, company=company, name=DEAL)
    services.log_activity(by=rep, kind="call", subject="Discovery call", opportunity=deal)
    services.log_activity(by=rep, kind="call", subject="Call with Carla", contact=contact)
    services.log_activity(
        by=rep,
        kind="task",
        subject="Send the quote",
        opportunity=deal,
        due_on=timezone.localdate() + dt.timedelta(days=1),
    )
    deal = services.update_opportunity(
        opportunity=deal, by=manager, version=deal.version, owner=rep2, contact=contact
    )
    return {"company": company, "contact": contact, "deal": deal}


def _page(client, user, url):
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def test_company_page_no_longer_names_the_reassigned_deal(client, rep, reassigned):
    deal = reassigned["deal"]
    content = _page(
        client, rep, reverse("pipeline:company_detail", args=[reassigned["company"].pk])
    )
    assert "Discovery call" in content  # A's own activity stays on A's page
    assert DEAL not in content
    assert deal.get_absolute_url() not in content


def test_company_timeline_names_the_deal_for_whoever_may_open_it(client, rep2, manager, reassigned):
    url = reverse("pipeline:company_detail", args=[reassigned["company"].pk])
    for user in (rep2, manager):
        assert DEAL in _page(client, user, url)


def test_contact_page_no_longer_names_the_reassigned_deal(client, rep, reassigned):
    content = _page(
        client, rep, reverse("pipeline:contact_detail", args=[reassigned["contact"].pk])
    )
    assert "Call with Carla" in content
    assert DEAL not in content
    assert reassigned["deal"].get_absolute_url() not in content


def test_timeline_entries_link_only_visible_records(rep, rep2, reassigned):
    from pipeline.selectors.timeline import timeline_for

    entries = timeline_for(user=rep, company=reassigned["company"])
    assert any(e.text == "Discovery call" for e in entries)
    assert all(DEAL not in e.link_text and e.link != reassigned["deal"].get_absolute_url()
               for e in entries)  # fmt: skip
    theirs = timeline_for(user=rep2, company=reassigned["company"])
    assert any(e.link_text == DEAL for e in theirs)


def test_tasks_list_does_not_name_the_reassigned_deal(client, rep, reassigned):
    content = _page(client, rep, reverse("pipeline:tasks"))
    assert "Send the quote" in content  # still A's task
    assert DEAL not in content
    assert reassigned["deal"].get_absolute_url() not in content


def test_home_and_priorities_do_not_name_the_reassigned_deal(client, rep, reassigned):
    for url in (reverse("home"), reverse("forecasting:report_priorities")):
        content = _page(client, rep, url)
        assert DEAL not in content
        assert reassigned["deal"].get_absolute_url() not in content


def test_contact_and_lead_pages_name_only_a_company_the_user_may_open(
    client, rep, outsider, pipeline
):
    """A rep's contact or lead at another team's company: the company is not linked."""
    hidden = CompanyFactory(owner=outsider, name="Outsider Holdings")
    contact = ContactFactory(owner=rep, company=hidden, first_name="Zed")
    lead = LeadFactory(owner=rep, company=hidden, contact=None, company_name="Outsider Holdings")
    for url in (
        reverse("pipeline:contact_detail", args=[contact.pk]),
        reverse("pipeline:lead_detail", args=[lead.pk]),
        reverse("pipeline:contact_list"),
        reverse("pipeline:search") + "?q=Zed",
    ):
        content = _page(client, rep, url)
        assert reverse("pipeline:company_detail", args=[hidden.pk]) not in content, url


def test_lead_page_does_not_link_a_converted_deal_now_owned_by_someone_else(
    client, rep, reassigned
):
    lead = LeadFactory(owner=rep, opportunity=reassigned["deal"], status="converted",
                       converted_at=timezone.now())  # fmt: skip
    content = _page(client, rep, reverse("pipeline:lead_detail", args=[lead.pk]))
    assert DEAL not in content
