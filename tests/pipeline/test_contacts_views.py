"""Contact pages: list, detail, create, edit — for each role, with bad input and query
budgets."""

from decimal import Decimal

import pytest
from django.urls import reverse

from pipeline import services
from pipeline.models import Contact
from tests.factories import CompanyFactory, ContactFactory, LeadFactory, OpportunityFactory

pytestmark = pytest.mark.django_db


def test_contact_list_requires_login(client):
    assert client.get(reverse("pipeline:contact_list")).status_code == 302


def test_contact_list_scopes_by_role(client, manager, rep, rep2, outsider):
    mine = ContactFactory(owner=rep)
    teammate = ContactFactory(owner=rep2)
    ContactFactory(owner=outsider)
    client.force_login(rep)
    assert list(client.get(reverse("pipeline:contact_list")).context["page_obj"].object_list) == [
        mine
    ]
    client.force_login(manager)
    response = client.get(reverse("pipeline:contact_list"))
    assert set(response.context["page_obj"].object_list) == {mine, teammate}


def test_contact_list_company_filter_shows_company_name(client, rep):
    acme = CompanyFactory(owner=rep, name="Acme")
    ContactFactory(owner=rep, company=acme)
    client.force_login(rep)
    response = client.get(reverse("pipeline:contact_list"), {"company": acme.pk})
    assert response.context["company_filter"] == acme
    assert b"at Acme" in response.content


@pytest.mark.parametrize(
    "params", [{"company": "abc"}, {"company": "99999999"}, {"sort": "x"}, {"decision_maker": "x"}]
)
def test_contact_list_bad_parameters_never_fail(client, rep, params):
    ContactFactory(owner=rep)
    client.force_login(rep)
    assert client.get(reverse("pipeline:contact_list"), params).status_code == 200


@pytest.mark.parametrize("rows", [10, 210])
def test_contact_list_query_budget_does_not_grow(
    client, admin_user, rep, rows, django_assert_max_num_queries
):
    company = CompanyFactory(owner=rep)
    for _ in range(rows):
        ContactFactory(owner=rep, company=company)
    client.force_login(admin_user)
    with django_assert_max_num_queries(6):
        assert client.get(reverse("pipeline:contact_list"), {"sort": "company"}).status_code == 200


def test_contact_detail_shows_deals_leads_and_timeline(client, rep, pipeline):
    contact = ContactFactory(owner=rep, email="zoe@acme.test")
    OpportunityFactory(
        owner=rep,
        pipeline=pipeline,
        company=contact.company,
        contact=contact,
        name="Zoe deal",
        amount=Decimal("2500"),
    )
    LeadFactory(owner=rep, email="ZOE@acme.test", first_name="Earlier")
    services.log_activity(by=rep, kind="email", subject="Sent deck", contact=contact)
    client.force_login(rep)
    response = client.get(contact.get_absolute_url())
    body = response.content.decode()
    for text in ("Zoe deal", "$2,500", "Earlier", "Sent deck"):
        assert text in body


def test_contact_detail_other_rep_gets_404(client, rep, rep2, outsider):
    contact = ContactFactory(owner=rep)
    for user in (rep2, outsider):
        client.force_login(user)
        assert client.get(contact.get_absolute_url()).status_code == 404


@pytest.mark.parametrize("deals", [2, 40])
def test_contact_detail_query_budget_does_not_grow(
    client, rep, pipeline, deals, django_assert_max_num_queries
):
    contact = ContactFactory(owner=rep)
    for _ in range(deals):
        opp = OpportunityFactory(
            owner=rep, pipeline=pipeline, company=contact.company, contact=contact
        )
        LeadFactory(owner=rep, contact=contact)
        services.log_activity(by=rep, kind="note", subject="n", contact=contact)
        services.log_activity(by=rep, kind="note", subject="n", opportunity=opp)
    client.force_login(rep)
    with django_assert_max_num_queries(10):  # 9, and today's exchange rates for the totals
        assert client.get(contact.get_absolute_url()).status_code == 200


def test_contact_create_prefills_company_from_url(client, rep):
    acme = CompanyFactory(owner=rep)
    client.force_login(rep)
    response = client.get(reverse("pipeline:contact_create"), {"company": acme.pk})
    assert response.context["form"].initial["company"] == acme.pk
    response = client.post(
        reverse("pipeline:contact_create"),
        {"first_name": "Ann", "company": acme.pk, "is_decision_maker": "on"},
    )
    contact = Contact.objects.get()
    assert response.status_code == 302
    assert contact.company == acme and contact.owner == rep and contact.is_decision_maker


def test_contact_create_ignores_invisible_company_in_url(client, rep, rep2):
    theirs = CompanyFactory(owner=rep2)
    client.force_login(rep)
    response = client.get(reverse("pipeline:contact_create"), {"company": theirs.pk})
    assert "company" not in response.context["form"].initial
    assert theirs not in response.context["form"].fields["company"].queryset


def test_contact_create_cannot_attach_to_invisible_company(client, rep, rep2):
    theirs = CompanyFactory(owner=rep2)
    client.force_login(rep)
    response = client.post(
        reverse("pipeline:contact_create"), {"first_name": "Ann", "company": theirs.pk}
    )
    assert "company" in response.context["form"].errors
    assert not Contact.objects.exists()


@pytest.mark.parametrize(
    "data,field",
    [({"first_name": ""}, "first_name"), ({"first_name": "A", "email": "nope"}, "email")],
)
def test_contact_create_bad_input_keeps_input(client, rep, data, field):
    client.force_login(rep)
    response = client.post(reverse("pipeline:contact_create"), {**data, "title": "CFO"})
    assert field in response.context["form"].errors
    assert b'value="CFO"' in response.content
    assert not Contact.objects.exists()


def test_contact_edit_owner_saves(client, rep):
    contact = ContactFactory(owner=rep, first_name="Old")
    client.force_login(rep)
    response = client.post(
        reverse("pipeline:contact_edit", args=[contact.pk]),
        {"first_name": "New", "company": contact.company_id, "version": 1},
    )
    assert response.status_code == 302
    contact.refresh_from_db()
    assert contact.first_name == "New"


def test_contact_edit_visible_through_deal_is_403(client, manager, rep, rep2, pipeline):
    contact = ContactFactory(owner=rep2)
    OpportunityFactory(
        owner=rep, by=manager, pipeline=pipeline, company=CompanyFactory(owner=rep), contact=contact
    )
    client.force_login(rep)
    assert client.get(contact.get_absolute_url()).status_code == 200
    assert (
        client.post(
            reverse("pipeline:contact_edit", args=[contact.pk]), {"first_name": "X"}
        ).status_code
        == 403
    )


def test_contact_edit_other_rep_gets_404(client, rep, rep2):
    contact = ContactFactory(owner=rep)
    client.force_login(rep2)
    assert client.get(reverse("pipeline:contact_edit", args=[contact.pk])).status_code == 404


def _company_options(response):
    return [v for v, _ in response.context["form"].fields["company"].widget.choices if v]


def test_contact_form_lists_own_companies_and_searches_visible_ones(
    client, manager, rep, rep2, outsider
):
    own = CompanyFactory(owner=manager, name="Manager Co")
    team = CompanyFactory(owner=rep, name="Team Co")
    CompanyFactory(owner=outsider, name="Team Co elsewhere")
    client.force_login(manager)
    response = client.get(reverse("pipeline:contact_create"))
    assert _company_options(response) == [own.pk]
    response = client.get(reverse("pipeline:contact_create"), {"company_q": "team"})
    assert _company_options(response) == [team.pk]
    # Any visible company is accepted, listed or not.
    response = client.post(
        reverse("pipeline:contact_create"),
        {"first_name": "Ann", "company": team.pk, "owner": rep.pk},
    )
    assert response.status_code == 302 and Contact.objects.get().company == team


def test_contact_edit_search_keeps_chosen_company(client, rep):
    contact = ContactFactory(owner=rep)
    other = CompanyFactory(owner=rep, name="Other Co")
    client.force_login(rep)
    url = reverse("pipeline:contact_edit", args=[contact.pk])
    response = client.get(url, {"company_q": "zzz", "company": other.pk})
    assert _company_options(response) == [other.pk]
