"""Company pages: list, detail, create, edit — for each role, with bad input and query
budgets."""

from decimal import Decimal

import pytest
from django.urls import reverse

from pipeline import services
from pipeline.models import Company
from tests.factories import (
    CompanyFactory,
    ContactFactory,
    LeadFactory,
    OpportunityFactory,
    current_version,
    stored_version,
)

pytestmark = pytest.mark.django_db


def test_company_list_requires_login(client):
    assert client.get(reverse("pipeline:company_list")).status_code == 302


def test_company_list_rep_sees_own_and_companies_of_own_deals(client, manager, rep, rep2, pipeline):
    own = CompanyFactory(owner=rep, name="Own Co")
    shared = CompanyFactory(owner=rep2, name="Shared Co")
    OpportunityFactory(owner=rep, by=manager, pipeline=pipeline, company=shared)
    CompanyFactory(owner=rep2, name="Hidden Co")
    client.force_login(rep)
    response = client.get(reverse("pipeline:company_list"))
    assert set(response.context["page_obj"].object_list) == {own, shared}
    assert b"Hidden Co" not in response.content


def test_company_list_manager_sees_team_only(client, manager, rep, outsider):
    team = CompanyFactory(owner=rep)
    CompanyFactory(owner=outsider)
    client.force_login(manager)
    response = client.get(reverse("pipeline:company_list"))
    assert list(response.context["page_obj"].object_list) == [team]


def test_company_list_shows_open_amount_of_visible_deals(client, rep, pipeline):
    OpportunityFactory(owner=rep, pipeline=pipeline, amount=Decimal("48000"))
    client.force_login(rep)
    response = client.get(reverse("pipeline:company_list"))
    assert b"$48,000" in response.content


@pytest.mark.parametrize(
    "params",
    [{"sort": "secret"}, {"owner": "x"}, {"open_deals": "maybe"}, {"page": "0"}, {"q": "'" * 300}],
)
def test_company_list_bad_parameters_never_fail(client, rep, params):
    CompanyFactory(owner=rep)
    client.force_login(rep)
    assert client.get(reverse("pipeline:company_list"), params).status_code == 200


def test_company_list_empty_state(client, rep):
    client.force_login(rep)
    assert b"Add a company" in client.get(reverse("pipeline:company_list")).content


@pytest.mark.parametrize("rows", [10, 210])
def test_company_list_query_budget_does_not_grow(
    client, manager, rep, rows, pipeline, django_assert_max_num_queries
):
    for i in range(rows):
        company = CompanyFactory(owner=rep)
        if i % 20 == 0:
            OpportunityFactory(owner=rep, pipeline=pipeline, company=company)
    client.force_login(manager)
    with django_assert_max_num_queries(8):  # 6, the header bell's unread count, today's rates
        response = client.get(reverse("pipeline:company_list"), {"sort": "-open_amount"})
    assert response.status_code == 200


def test_company_detail_shows_deals_leads_contacts_and_timeline(client, rep, pipeline, lost_reason):
    company = CompanyFactory(owner=rep, name="Acme")
    open_deal = OpportunityFactory(
        owner=rep, pipeline=pipeline, company=company, name="Open one", amount=Decimal("1000")
    )
    lost = OpportunityFactory(
        owner=rep, pipeline=pipeline, company=company, name="Lost one", amount=Decimal("500")
    )
    services.close_lost(
        opportunity=lost, version=current_version(lost), by=rep, lost_reason=lost_reason
    )
    ContactFactory(owner=rep, company=company, first_name="Zoe")
    LeadFactory(owner=rep, company_name="acme", first_name="Lenny")
    services.log_activity(by=rep, kind="meeting", subject="Kick-off", company=company)
    client.force_login(rep)
    response = client.get(company.get_absolute_url())
    assert response.status_code == 200
    assert [d.pk for d in response.context["deals"]] == [open_deal.pk, lost.pk]
    body = response.content.decode()
    for text in ("Open one", "Lost one", "$1,000", "Zoe", "Lenny", "Kick-off", "Lost"):
        assert text in body
    assert response.context["deal_totals"]["open_amount"] == Decimal("1000")


def test_company_detail_hides_deals_the_viewer_cannot_see(client, manager, rep, rep2, pipeline):
    company = CompanyFactory(owner=rep, name="Acme")
    OpportunityFactory(
        owner=rep2,
        by=manager,
        pipeline=pipeline,
        company=company,
        name="Teammate deal",
        amount=Decimal("777"),
    )
    client.force_login(rep)
    response = client.get(company.get_absolute_url())
    assert b"Teammate deal" not in response.content and b"$777" not in response.content
    assert response.context["deal_totals"]["total"] == 0


def test_company_detail_other_rep_and_outside_manager_get_404(client, rep, rep2, outsider):
    company = CompanyFactory(owner=rep)
    for user in (rep2, outsider):
        client.force_login(user)
        assert client.get(company.get_absolute_url()).status_code == 404


def test_company_detail_visible_through_deal_but_not_editable(client, manager, rep, rep2, pipeline):
    company = CompanyFactory(owner=rep2)
    OpportunityFactory(owner=rep, by=manager, pipeline=pipeline, company=company)
    client.force_login(rep)
    response = client.get(company.get_absolute_url())
    assert response.status_code == 200 and not response.context["can_edit"]
    assert b'name="company"' not in response.content  # no activity form either
    assert client.get(reverse("pipeline:company_edit", args=[company.pk])).status_code == 403
    response = client.post(
        reverse("pipeline:company_edit", args=[company.pk]), {"name": "Mine now"}
    )
    assert response.status_code == 403
    company.refresh_from_db()
    assert company.name != "Mine now"


@pytest.mark.parametrize("deals", [2, 40])
def test_company_detail_query_budget_does_not_grow(
    client, rep, pipeline, deals, django_assert_max_num_queries
):
    company = CompanyFactory(owner=rep)
    for _ in range(deals):
        opp = OpportunityFactory(owner=rep, pipeline=pipeline, company=company)
        ContactFactory(owner=rep, company=company)
        LeadFactory(owner=rep, company=company)
        services.log_activity(by=rep, kind="call", subject="Call", opportunity=opp)
    client.force_login(rep)
    with django_assert_max_num_queries(11):  # 10, and today's exchange rates for the totals
        assert client.get(company.get_absolute_url()).status_code == 200


def test_company_create_and_owner(client, rep):
    client.force_login(rep)
    response = client.post(
        reverse("pipeline:company_create"), {"name": "Initech", "employees": "40"}
    )
    company = Company.objects.get()
    assert response.status_code == 302 and response["Location"] == company.get_absolute_url()
    assert company.owner == rep and company.employees == 40


@pytest.mark.parametrize(
    "data,field",
    [
        ({"name": ""}, "name"),
        ({"name": "  "}, "name"),
        ({"name": "X", "employees": "-3"}, "employees"),
        ({"name": "X", "employees": "many"}, "employees"),
        ({"name": "X" * 300}, "name"),
    ],
)
def test_company_create_bad_input_keeps_input(client, rep, data, field):
    client.force_login(rep)
    response = client.post(reverse("pipeline:company_create"), {**data, "city": "Leeds"})
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert b'value="Leeds"' in response.content
    assert not Company.objects.exists()


def test_company_create_manager_cannot_assign_outside_team(client, manager, outsider):
    client.force_login(manager)
    response = client.post(reverse("pipeline:company_create"), {"name": "X", "owner": outsider.pk})
    assert "owner" in response.context["form"].errors
    assert not Company.objects.exists()


def test_company_edit_owner_and_manager_may_edit(client, rep, manager):
    company = CompanyFactory(owner=rep, name="Old")
    for user, name in ((rep, "New"), (manager, "Newer")):
        client.force_login(user)
        response = client.post(
            reverse("pipeline:company_edit", args=[company.pk]),
            {"name": name, "owner": rep.pk, "version": stored_version(company)},
        )
        assert response.status_code == 302
        company.refresh_from_db()
        assert company.name == name


def test_company_edit_other_rep_gets_404(client, rep, rep2):
    company = CompanyFactory(owner=rep)
    client.force_login(rep2)
    assert (
        client.post(reverse("pipeline:company_edit", args=[company.pk]), {"name": "X"}).status_code
        == 404
    )


@pytest.mark.parametrize(
    ("typed", "link"),
    [
        ("acme.com", "https://acme.com"),
        ("https://acme.com/about", "https://acme.com/about"),
        ("HTTP://acme.com", "HTTP://acme.com"),
        ("acme.com:8443/x", "https://acme.com:8443/x"),
        ("javascript:alert(1)", ""),
        ("JavaScript://%0aalert(1)", ""),
        ("mailto:sales@acme.com", ""),
        ("acme dot com", ""),
        ("", ""),
    ],
)
def test_company_website_link_is_only_ever_http(typed, link):
    assert Company(name="Acme", website=typed).website_url == link


def test_company_page_links_the_website(client, rep):
    from tests.factories import CompanyFactory

    company = CompanyFactory(owner=rep, website="acme.example")
    client.force_login(rep)
    body = client.get(f"/pipeline/companies/{company.pk}/").content.decode()
    assert (
        '<a href="https://acme.example" rel="noopener noreferrer" target="_blank">acme.example</a>'
        in body
    )
