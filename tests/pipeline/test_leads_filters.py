"""LeadFilter: one test per filter, plus the shared sort and search helpers."""

import pytest
from django.http import QueryDict

from pipeline import services
from pipeline.filters.leads import LeadFilter
from pipeline.models import Lead
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def _filter(user, query: str):
    return LeadFilter(QueryDict(query), queryset=Lead.objects.visible_to(user), user=user)


def test_lead_filter_status_open_excludes_closed_leads(rep):
    open_lead = LeadFactory(owner=rep)
    closed = LeadFactory(owner=rep)
    services.disqualify_lead(lead=closed, by=rep, reason="No fit")
    assert list(_filter(rep, "status=open").qs) == [open_lead]
    assert list(_filter(rep, "status=disqualified").qs) == [closed]
    assert set(_filter(rep, "status=all").qs) == {open_lead, closed}


def test_lead_filter_source(rep):
    web = LeadFactory(owner=rep, source="web")
    LeadFactory(owner=rep, source="event")
    assert list(_filter(rep, "source=web").qs) == [web]


def test_lead_filter_owner(manager, rep, rep2):
    mine = LeadFactory(owner=rep)
    LeadFactory(owner=rep2)
    assert list(_filter(manager, f"owner={rep.pk}").qs) == [mine]


def test_lead_filter_owner_outside_scope_is_invalid_and_ignored(manager, rep, outsider):
    LeadFactory(owner=outsider)
    team_lead = LeadFactory(owner=rep)
    f = _filter(manager, f"owner={outsider.pk}")
    assert "owner" in f.form.errors
    assert list(f.qs) == [team_lead]


def test_lead_filter_search_matches_every_word(rep):
    dana = LeadFactory(owner=rep, first_name="Dana", last_name="Ito", company_name="Acme")
    LeadFactory(owner=rep, first_name="Dana", last_name="Ross", company_name="Globex")
    LeadFactory(owner=rep, first_name="Lee", company_name="Acme")
    assert list(_filter(rep, "q=dana+acme").qs) == [dana]
    assert list(_filter(rep, f"q={dana.email}").qs) == [dana]


def test_lead_filter_search_cannot_reach_other_reps_leads(rep, rep2):
    LeadFactory(owner=rep2, first_name="Secret")
    assert list(_filter(rep, "q=Secret").qs) == []


def test_lead_filter_sort_whitelist(rep):
    b = LeadFactory(owner=rep, last_name="B", budget=200)
    a = LeadFactory(owner=rep, last_name="A", budget=None)
    c = LeadFactory(owner=rep, last_name="C", budget=100)
    assert list(_filter(rep, "sort=name").qs) == [a, b, c]
    assert list(_filter(rep, "sort=-name").qs) == [c, b, a]
    # Empty budgets sort last in both directions.
    assert list(_filter(rep, "sort=budget").qs) == [c, b, a]
    assert list(_filter(rep, "sort=-budget").qs) == [b, c, a]
    bad = _filter(rep, "sort=owner__password")
    assert "sort" in bad.form.errors and set(bad.qs) == {a, b, c}


def test_lead_filter_active_ignores_defaults(rep):
    assert not _filter(rep, "status=open").active
    assert _filter(rep, "status=all").active
    assert _filter(rep, "q=x").active
    assert not _filter(rep, "sort=name&status=open").active
