"""/pipeline/search/: one box over deals, leads, companies and contacts, within sight."""

from decimal import Decimal

import pytest
from django.urls import reverse

from pipeline import services
from tests.factories import CompanyFactory, ContactFactory, LeadFactory, OpportunityFactory

SEARCH = "/pipeline/search/"


def test_search_url_and_login(client):
    assert reverse("pipeline:search") == SEARCH
    response = client.get(SEARCH, {"q": "acme"})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def _sections(response):
    return {s.key: s for s in response.context["results"].sections}


def test_search_finds_every_kind_and_links_to_the_full_lists(client, rep, pipeline):
    acme = CompanyFactory(owner=rep, name="Acme Rockets")
    ContactFactory(owner=rep, company=acme, first_name="Dana", last_name="Scully")
    OpportunityFactory(owner=rep, pipeline=pipeline, company=acme, name="Acme — 40 seats")
    lead = LeadFactory(owner=rep, first_name="Wile", last_name="Coyote", company_name="ACME corp")
    services.disqualify_lead(lead=lead, by=rep, reason="Bad fit")
    client.force_login(rep)
    response = client.get(SEARCH, {"q": "  acme  "})
    assert response.status_code == 200
    sections = _sections(response)
    assert {k: s.count for k, s in sections.items()} == {
        "deals": 1,
        "leads": 1,  # disqualified leads are found too
        "companies": 1,
        "contacts": 1,  # through the contact's company
    }
    body = response.content.decode()
    assert "Acme — 40 seats" in body and "Wile Coyote" in body and "Dana Scully" in body
    assert sections["leads"].more_url == "/pipeline/leads/?status=all&q=acme"
    assert "4 matches you can see" in body


def test_search_section_count_is_what_see_all_opens(client, rep, pipeline):
    for i in range(7):
        OpportunityFactory(owner=rep, pipeline=pipeline, name=f"Globex deal {i}")
    client.force_login(rep)
    deals = _sections(client.get(SEARCH, {"q": "globex"}))["deals"]
    assert deals.count == 7 and len(deals.items) == 5
    listed = client.get(deals.more_url)
    assert listed.context["page"].paginator.count == 7


def test_search_never_finds_or_counts_what_the_user_may_not_see(
    client, rep, rep2, outsider, manager, pipeline
):
    OpportunityFactory(owner=rep2, pipeline=pipeline, name="Initech colleague deal")
    OpportunityFactory(owner=outsider, pipeline=pipeline, name="Initech other team")
    CompanyFactory(owner=outsider, name="Initech West")
    LeadFactory(owner=outsider, first_name="Peter", last_name="Gibbons", company_name="Initech")
    client.force_login(rep)
    response = client.get(SEARCH, {"q": "initech"})
    assert response.context["results"].total == 0
    body = response.content.decode()
    assert "Initech other team" not in body and "Gibbons" not in body
    assert "Nothing you can see matches" in body
    client.force_login(manager)  # the manager sees the team, not the other team
    sections = _sections(client.get(SEARCH, {"q": "initech"}))
    assert [o.name for o in sections["deals"].items] == ["Initech colleague deal"]
    assert sections["leads"].count == 0 and sections["companies"].count == 0


@pytest.mark.parametrize(
    ("q", "message"),
    [
        ("a", "Type at least 2 characters"),
        ("x" * 101, "at most 100 characters"),
    ],
)
def test_search_bad_input_says_why_and_searches_nothing(client, rep, q, message):
    client.force_login(rep)
    response = client.get(SEARCH, {"q": q})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert response.context["results"].sections == []


@pytest.mark.parametrize("q", ["", "\x00\x00", "%_%", "' OR 1=1 --", "ä" * 50, "a b c d e f g h"])
def test_search_odd_input_is_never_a_500(client, rep, q):
    client.force_login(rep)
    assert client.get(SEARCH, {"q": q}).status_code == 200


def test_search_box_is_in_every_page_header(client, rep):
    client.force_login(rep)
    body = client.get("/pipeline/board/").content.decode()
    assert 'action="/pipeline/search/"' in body and 'role="search"' in body


def test_search_query_count_does_not_grow_with_matches(
    client, rep, pipeline, django_assert_max_num_queries
):
    for i in range(30):
        company = CompanyFactory(owner=rep, name=f"Umbrella {i}")
        ContactFactory(owner=rep, company=company, first_name=f"Alice{i}")
        OpportunityFactory(owner=rep, pipeline=pipeline, company=company, amount=Decimal(i + 1))
        LeadFactory(owner=rep, company_name=f"Umbrella {i}")
    client.force_login(rep)
    with django_assert_max_num_queries(15):  # 14, and today's exchange rates (read once)
        response = client.get(SEARCH, {"q": "umbrella"})
    assert {s.count for s in response.context["results"].sections} == {30}


def test_search_counts_stop_at_the_cap(client, rep, monkeypatch):
    from pipeline.selectors import search as search_selectors

    monkeypatch.setattr(search_selectors, "COUNT_CAP", 8)
    for i in range(12):
        CompanyFactory(owner=rep, name=f"Stark {i:02}")
    client.force_login(rep)
    response = client.get(SEARCH, {"q": "stark"})
    companies = _sections(response)["companies"]
    assert companies.count == 9 and companies.capped and companies.shown_count == "8+"
    body = response.content.decode()
    assert "8+ matches you can see" in body
    assert "All companies matching “stark”" in body


def test_leads_are_found_by_their_linked_company_and_contact(client, rep, pipeline):
    """A converted lead whose own company text differs is still found by the company and
    the contact it was linked to."""
    acme = CompanyFactory(owner=rep, name="Acme Labs")
    dana = ContactFactory(owner=rep, company=acme, first_name="Dana", last_name="Quill")
    LeadFactory(owner=rep, first_name="Wile", last_name="E", company_name="", company=acme)
    LeadFactory(owner=rep, first_name="Road", last_name="Runner", company_name="", contact=dana)
    LeadFactory(owner=rep, first_name="Other", last_name="Person", company_name="Initech")
    client.force_login(rep)
    leads = _sections(client.get(SEARCH, {"q": "acme"}))["leads"]
    assert sorted(str(lead) for lead in leads.items) == ["Wile E"]
    leads = _sections(client.get(SEARCH, {"q": "quill"}))["leads"]
    assert [str(lead) for lead in leads.items] == ["Road Runner"]
