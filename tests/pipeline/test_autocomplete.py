"""Autocomplete of the company, contact, owner and product fields: the matches come through
the one visibility rule (another team's records are never offered), at most ten, in a bounded
number of queries; a malformed query string is a 400; and the forms behind the fields still
refuse a crafted id of a record the user may not see."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from pipeline.forms.contacts import ContactForm
from pipeline.forms.leads import ConvertLeadForm, LeadForm
from pipeline.forms.line_items import LineForm
from pipeline.forms.opportunities import OpportunityForm
from pipeline.models import Product, ProductPrice
from pipeline.selectors.autocomplete import LIMIT
from tests.factories import CompanyFactory, ContactFactory, LeadFactory, UserFactory

ROUTES = {
    "company": "pipeline:autocomplete_companies",
    "contact": "pipeline:autocomplete_contacts",
    "owner": "pipeline:autocomplete_owners",
    "product": "pipeline:autocomplete_products",
}


@pytest.fixture
def world(rep, rep2, outsider, manager):
    mine = CompanyFactory(owner=rep, name="Acme Labs", city="Lyon")
    theirs = CompanyFactory(owner=outsider, name="Acme West")
    colleague = CompanyFactory(owner=rep2, name="Acme Team")
    return {
        "mine": mine,
        "theirs": theirs,
        "colleague": colleague,
        "my_contact": ContactFactory(owner=rep, company=mine, first_name="Dana", last_name="Acme"),
        "their_contact": ContactFactory(
            owner=outsider, company=theirs, first_name="Dale", last_name="Acme"
        ),
    }


def _opt(pk) -> str:
    return f'data-value="{pk}"'


def _options(client, kind, **query):
    response = client.get(reverse(ROUTES[kind]), query)
    assert response.status_code == 200
    return response.content.decode()


def test_company_matches_leave_out_another_teams_company(client, rep, manager, world):
    client.force_login(rep)
    html = _options(client, "company", q="acme")
    assert _opt(world["mine"].pk) in html
    assert "Acme West" not in html and "Acme Team" not in html
    assert 'role="option"' in html and "Lyon" in html
    client.force_login(manager)
    html = _options(client, "company", q="acme")
    assert "Acme Team" in html and "Acme Labs" in html
    assert "Acme West" not in html


def test_contact_matches_leave_out_another_teams_contact(client, rep, manager, world):
    for user in (rep, manager):
        client.force_login(user)
        html = _options(client, "contact", q="acme")
        assert _opt(world["my_contact"].pk) in html
        assert _opt(world["their_contact"].pk) not in html
        assert "Dale" not in html


def test_contact_matches_narrow_to_the_chosen_company(client, rep, world):
    other = ContactFactory(owner=rep, company=CompanyFactory(owner=rep), last_name="Acme")
    client.force_login(rep)
    html = _options(client, "contact", q="acme", company=world["mine"].pk)
    assert _opt(world["my_contact"].pk) in html
    assert _opt(other.pk) not in html


def test_owner_matches_are_the_users_one_may_assign_to(client, rep, rep2, manager, outsider):
    client.force_login(manager)
    html = _options(client, "owner", q="")
    for user in (rep, rep2, manager):
        assert _opt(user.pk) in html
    assert _opt(outsider.pk) not in html
    client.force_login(rep)
    html = _options(client, "owner", q="")
    assert _opt(rep.pk) in html
    assert _opt(rep2.pk) not in html


def test_product_matches_are_active_products_with_their_list_price(client, rep):
    active = Product.objects.create(name="CRM Pro", code="CRM-PRO")
    ProductPrice.objects.create(product=active, currency="EUR", unit_price=Decimal("1100"))
    retired = Product.objects.create(name="CRM Classic", code="CRM-OLD", is_active=False)
    client.force_login(rep)
    html = _options(client, "product", q="crm", currency="EUR")
    assert _opt(active.pk) in html and "1,100.00" in html
    assert _opt(retired.pk) not in html


def test_no_match_says_so_in_a_disabled_option(client, rep, world):
    client.force_login(rep)
    html = _options(client, "company", q="nothing-like-it")
    assert 'aria-disabled="true"' in html and "No companies match" in html
    assert "data-value" not in html


@pytest.mark.parametrize("kind", sorted(ROUTES))
def test_matches_are_limited_and_cost_a_bounded_number_of_queries(client, admin_user, kind):
    owner = UserFactory(first_name="Many", last_name="Matches")
    for i in range(LIMIT + 5):
        CompanyFactory(owner=owner, name=f"Many {i}")
        ContactFactory(owner=owner, first_name="Many", last_name=f"Matches {i}")
        UserFactory(first_name="Many", last_name=f"User {i}")
        Product.objects.create(name=f"Many {i}", code=f"MANY-{i}")
    client.force_login(admin_user)
    client.get(reverse(ROUTES[kind]), {"q": "many"})  # the session and user, once
    with CaptureQueriesContext(connection) as queries:
        html = _options(client, kind, q="many", currency="USD")
    assert html.count("data-value=") == LIMIT
    assert "type more" in html
    # The session, the user and the matches (products: their list prices too).
    assert len(queries) <= 4, [q["sql"] for q in queries]


@pytest.mark.parametrize("kind", sorted(ROUTES))
@pytest.mark.parametrize(
    "query",
    [
        {"q": "x" * 101},
        {"q": "a\x00b"},
        {"company": "99999999999999999999"},
        {"company": "abc"},
        {"currency": "euro"},
    ],
)
def test_bad_input_is_a_400(client, rep, kind, query):
    client.force_login(rep)
    assert client.get(reverse(ROUTES[kind]), query).status_code == 400


@pytest.mark.parametrize("kind", sorted(ROUTES))
def test_anonymous_is_sent_to_log_in(client, kind):
    response = client.get(reverse(ROUTES[kind]), {"q": "a"})
    assert response.status_code == 302 and "/login/" in response["Location"]


# --- the forms refuse what the autocomplete never offers ----------------------------------------


def test_deal_form_refuses_another_teams_company_contact_and_owner(rep, outsider, world, pipeline):
    form = OpportunityForm(
        {
            "name": "Crafted",
            "company": world["theirs"].pk,
            "contact": world["their_contact"].pk,
            "owner": outsider.pk,
            "pipeline": pipeline.pk,
            "amount": "100",
            "expected_close_date": "2030-01-15",
        },
        user=rep,
    )
    assert not form.is_valid()
    assert {"company", "contact", "owner"} <= set(form.errors)


def test_contact_form_refuses_another_teams_company(manager, world):
    form = ContactForm(
        {"first_name": "Eve", "company": world["theirs"].pk, "owner": manager.pk}, user=manager
    )
    assert not form.is_valid() and "company" in form.errors


def test_lead_form_refuses_an_owner_of_another_team(manager, outsider):
    form = LeadForm({"first_name": "Eve", "owner": outsider.pk, "source": "web"}, user=manager)
    assert not form.is_valid() and "owner" in form.errors


def test_convert_form_refuses_another_teams_company_and_contact(rep, world, pipeline):
    lead = LeadFactory(owner=rep)
    form = ConvertLeadForm(
        {
            "version": lead.version,
            "need": "CRM",
            "budget": "100",
            "timeline": "Q1",
            "amount": "100",
            "expected_close_date": "2030-01-15",
            "pipeline": pipeline.pk,
            "company": world["theirs"].pk,
            "contact": world["their_contact"].pk,
        },
        user=rep,
        lead=lead,
    )
    assert not form.is_valid()
    assert {"company", "contact"} <= set(form.errors)


def test_line_form_refuses_an_unknown_product(rep):
    form = LineForm({"version": 1, "action": "add", "product": 2**40})
    assert not form.is_valid() and "product" in form.errors


# --- the fields are marked for the script, the no-JavaScript search stays -------------------


def test_form_pages_mark_their_record_fields_for_autocomplete(client, rep, world):
    client.force_login(rep)
    page = client.get(reverse("pipeline:opportunity_create")).content.decode()
    for route in ("companies", "contacts", "owners"):
        assert f'data-autocomplete="/pipeline/autocomplete/{route}/"' in page
    assert 'data-autocomplete-with="id_company"' in page
    page = client.get(reverse("pipeline:contact_create")).content.decode()
    assert 'data-autocomplete="/pipeline/autocomplete/companies/"' in page
    assert 'data-autocomplete-find="id_company"' in page  # the Find search, for no JavaScript
    page = client.get(reverse("pipeline:lead_create")).content.decode()
    assert 'data-autocomplete="/pipeline/autocomplete/owners/"' not in page  # a rep assigns no one


def test_convert_form_hides_the_new_company_name_beside_a_chosen_company(client, rep, world):
    lead = LeadFactory(owner=rep, company_name="Nobody Matches", status="prospect")
    client.force_login(rep)
    url = reverse("pipeline:lead_convert", args=[lead.pk])
    page = client.get(url, {"company": world["mine"].pk}).content.decode()
    assert 'data-hide-when-chosen="id_company" hidden>' in page
    page = client.get(url).content.decode()
    assert 'data-hide-when-chosen="id_company">' in page
