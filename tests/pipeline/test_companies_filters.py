"""CompanyFilter: one test per filter."""

from decimal import Decimal

import pytest
from django.http import QueryDict

from pipeline import services
from pipeline.selectors.companies import company_list
from tests.factories import CompanyFactory, OpportunityFactory, current_version

pytestmark = pytest.mark.django_db


def _qs(user, query=""):
    return list(company_list(user=user, params=QueryDict(query)).qs)


def test_company_filter_search(rep):
    acme = CompanyFactory(owner=rep, name="Acme", city="Leeds")
    CompanyFactory(owner=rep, name="Globex", city="Berlin")
    assert _qs(rep, "q=acme") == [acme]
    assert _qs(rep, "q=leeds") == [acme]


def test_company_filter_owner(manager, rep, rep2):
    mine = CompanyFactory(owner=rep)
    CompanyFactory(owner=rep2)
    assert _qs(manager, f"owner={rep.pk}") == [mine]


def test_company_filter_owner_outside_scope_is_ignored(manager, rep, outsider):
    CompanyFactory(owner=outsider, name="Hidden")
    team = CompanyFactory(owner=rep)
    filterset = company_list(user=manager, params=QueryDict(f"owner={outsider.pk}"))
    assert "owner" in filterset.form.errors
    assert list(filterset.qs) == [team]


def test_company_filter_industry(rep):
    fin = CompanyFactory(owner=rep, industry="Finance")
    CompanyFactory(owner=rep, industry="Software")
    assert _qs(rep, "industry=finance") == [fin]


def test_company_filter_open_deals(rep, pipeline):
    with_deal = OpportunityFactory(owner=rep, pipeline=pipeline).company
    without = CompanyFactory(owner=rep)
    assert _qs(rep, "open_deals=yes") == [with_deal]
    assert _qs(rep, "open_deals=no") == [without]


def test_company_filter_open_figures_count_only_visible_deals(manager, rep, rep2, pipeline):
    deal = OpportunityFactory(owner=rep, pipeline=pipeline, amount=Decimal("100"))
    # A teammate's deal at the same company is invisible to the rep, and so is its amount.
    OpportunityFactory(
        owner=rep2, by=manager, pipeline=pipeline, company=deal.company, amount=Decimal("900")
    )
    row = company_list(user=rep, params=QueryDict("")).qs.get(pk=deal.company.pk)
    assert row.open_count == 1 and row.open_amount == Decimal("100")
    row = company_list(user=manager, params=QueryDict("")).qs.get(pk=deal.company.pk)
    assert row.open_count == 2 and row.open_amount == Decimal("1000")


def test_company_filter_sort_by_open_amount(rep, pipeline, lost_reason):
    small = OpportunityFactory(owner=rep, pipeline=pipeline, amount=Decimal("10")).company
    big = OpportunityFactory(owner=rep, pipeline=pipeline, amount=Decimal("1000")).company
    lost = OpportunityFactory(owner=rep, pipeline=pipeline, amount=Decimal("5000"))
    services.close_lost(
        opportunity=lost, version=current_version(lost), by=rep, lost_reason=lost_reason
    )
    assert _qs(rep, "sort=-open_amount") == [big, small, lost.company]
    assert _qs(rep, "sort=open_amount") == [lost.company, small, big]


def test_company_open_figures_same_with_either_plan(
    manager, rep, rep2, outsider, pipeline, lost_reason
):
    from pipeline.models import Company
    from pipeline.selectors.companies import with_open_deal_figures

    shared = CompanyFactory(owner=rep)
    OpportunityFactory(owner=rep, pipeline=pipeline, company=shared, amount=Decimal("10.50"))
    OpportunityFactory(
        owner=rep2, by=manager, pipeline=pipeline, company=shared, amount=Decimal("7")
    )
    lost = OpportunityFactory(owner=rep, pipeline=pipeline, company=shared, amount=Decimal("99"))
    services.close_lost(
        opportunity=lost, version=current_version(lost), by=rep, lost_reason=lost_reason
    )
    CompanyFactory(owner=rep)
    OpportunityFactory(owner=outsider, pipeline=pipeline, amount=Decimal("5"))
    for user in (rep, manager, outsider):
        base = Company.objects.visible_to(user)
        plans = [
            {
                c.pk: (c.open_count, c.open_amount)
                for c in with_open_deal_figures(base, user=user, grouped=grouped)
            }
            for grouped in (False, True)
        ]
        assert plans[0] == plans[1]
    figures = {
        c.pk: c.open_amount
        for c in with_open_deal_figures(Company.objects.visible_to(rep), user=rep)
    }
    assert figures[shared.pk] == Decimal("10.50")
