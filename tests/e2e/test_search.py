import pytest

from tests.e2e.conftest import login
from tests.factories import CompanyFactory, OpportunityFactory


@pytest.mark.django_db(transaction=True)
def test_rep_finds_a_deal_from_the_header_search(new_page, rep, rep2, pipeline):
    acme = CompanyFactory(owner=rep, name="Acme Rockets")
    deal = OpportunityFactory(owner=rep, pipeline=pipeline, company=acme, name="Acme — 40 seats")
    OpportunityFactory(owner=rep2, pipeline=pipeline, name="Acme — colleague's deal")
    page = new_page()
    login(page, "rep")
    page.goto("/pipeline/tasks/")
    box = page.get_by_role("search", name="Quick search").get_by_label(
        "Search deals, leads, companies and contacts"
    )
    box.fill("acme")
    box.press("Enter")
    page.get_by_role("heading", name="Results for “acme”").wait_for()
    deals = page.get_by_role("region", name="Deals")
    assert "colleague" not in deals.inner_text()
    deals.get_by_role("link", name="Acme — 40 seats").click()
    page.wait_for_url(f"**{deal.get_absolute_url()}")
    assert page.get_by_role("heading", level=1).inner_text() == "Acme — 40 seats"
