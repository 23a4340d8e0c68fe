"""A list page costs the same whatever the table's size: a page of companies or contacts
tests each row's visibility by one index probe (``accounts.visibility.RowExists``), never by
reading every deal of the viewer's team first, and its count stops at a bound."""

import re

import pytest
from django.db import connection
from django.http import QueryDict

from pipeline.models import Company, Opportunity
from pipeline.selectors import companies as company_selectors
from pipeline.selectors import contacts as contact_selectors
from pipeline.selectors.paging import COUNT_LIMIT, BoundedPaginator
from tests.factories import CompanyFactory, ContactFactory, OpportunityFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def book(rep, rep2, outsider, pipeline):
    """Companies and contacts seen through a deal of the team, owned by the team, or not
    seen at all (an outsider's without the team's deals)."""
    made = {}
    for name, owner in (("through-deal", outsider), ("own", rep), ("hidden", outsider)):
        company = CompanyFactory(name=name, owner=owner)
        contact = ContactFactory(last_name=name, owner=owner, company=company)
        made[name] = (company, contact)
    # A deal of the team on the outsider's company and contact (as a reassignment leaves
    # it), and an outsider's deal on the hidden company.
    through, through_contact = made["through-deal"]
    deal = OpportunityFactory(owner=rep2, pipeline=pipeline)
    Opportunity.objects.filter(pk=deal.pk).update(company=through, contact=through_contact)
    hidden = OpportunityFactory(owner=outsider, pipeline=pipeline)
    Opportunity.objects.filter(pk=hidden.pk).update(company=made["hidden"][0])
    return made


def _page(filterset):
    return filterset.qs[:50]


def test_the_rule_is_unchanged_a_deal_of_the_team_shows_its_company_and_contact(book, manager):
    companies = company_selectors.company_list(user=manager, params=QueryDict())
    contacts = contact_selectors.contact_list(user=manager, params=QueryDict())
    names = set(book)
    assert {c.name for c in _page(companies)} & names == {"through-deal", "own"}
    assert {c.last_name for c in _page(contacts)} & names == {"through-deal", "own"}
    shown = {c.last_name: c.company_visible for c in _page(contacts) if c.last_name in names}
    assert shown == {"through-deal": True, "own": True}
    assert set(Company.objects.visible_to(manager).values_list("name", flat=True)) & names == {
        "through-deal",
        "own",
    }


@pytest.mark.parametrize("which", ["companies", "contacts"])
def test_a_page_probes_each_row_instead_of_hashing_every_deal(book, manager, which):
    if connection.vendor != "postgresql":
        pytest.skip("plans are PostgreSQL's (set DATABASE_URL)")
    select = {
        "companies": company_selectors.company_list,
        "contacts": contact_selectors.contact_list,
    }
    page = _page(select[which](user=manager, params=QueryDict()))
    assert "OFFSET 0" in str(page.query)
    with connection.cursor() as cursor:
        # What the planner would pick on a large table: a hashed subplan is cheaper per row
        # but reads the whole inner table first.
        cursor.execute("SET LOCAL enable_seqscan = off")
        plan = page.explain()
    assert _hashed_tables(plan) <= {"accounts_user"}, plan


def _hashed_tables(plan: str) -> set[str]:
    """The tables read by the plan's hashed subplans (each built once, from every row of the
    table it reads that passes its own conditions)."""
    lines = plan.splitlines()
    hashed = set(re.findall(r"hashed SubPlan (\d+)", plan))
    tables = set()
    for i, line in enumerate(lines):
        m = re.match(r"\s*SubPlan (\d+)$", line)
        if m and m.group(1) in hashed:
            body = " ".join(lines[i + 1 : i + 4])
            tables |= set(re.findall(r" on (\w+)", body)[:1])
    return tables


def test_the_count_stops_at_its_bound():
    rows = list(range(COUNT_LIMIT + 5))
    paginator = BoundedPaginator(rows, 50)
    assert paginator.count == COUNT_LIMIT + 1 and paginator.capped
    assert paginator.count_label() == f"{COUNT_LIMIT:,}+"
    assert paginator.num_pages == COUNT_LIMIT // 50
