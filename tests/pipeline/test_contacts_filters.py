"""ContactFilter: one test per filter."""

import pytest
from django.http import QueryDict

from pipeline.selectors.contacts import contact_list
from tests.factories import CompanyFactory, ContactFactory

pytestmark = pytest.mark.django_db


def _qs(user, query=""):
    return list(contact_list(user=user, params=QueryDict(query)).qs)


def test_contact_filter_search_names_email_and_company(rep):
    acme = CompanyFactory(owner=rep, name="Acme")
    dana = ContactFactory(owner=rep, first_name="Dana", last_name="Ito", company=acme)
    ContactFactory(owner=rep, first_name="Lee", last_name="Ross", company=None)
    assert _qs(rep, "q=dana+ito") == [dana]
    assert _qs(rep, "q=acme") == [dana]
    assert _qs(rep, f"q={dana.email}") == [dana]


def test_contact_filter_owner(manager, rep, rep2):
    mine = ContactFactory(owner=rep)
    ContactFactory(owner=rep2)
    assert _qs(manager, f"owner={rep.pk}") == [mine]


def test_contact_filter_company(rep):
    acme = CompanyFactory(owner=rep)
    at_acme = ContactFactory(owner=rep, company=acme)
    ContactFactory(owner=rep)
    assert _qs(rep, f"company={acme.pk}") == [at_acme]


def test_contact_filter_company_of_another_rep_is_ignored(rep, rep2):
    theirs = CompanyFactory(owner=rep2)
    ContactFactory(owner=rep2, company=theirs)
    mine = ContactFactory(owner=rep)
    filterset = contact_list(user=rep, params=QueryDict(f"company={theirs.pk}"))
    assert "company" in filterset.form.errors
    assert list(filterset.qs) == [mine]


def test_contact_filter_decision_maker(rep):
    boss = ContactFactory(owner=rep, is_decision_maker=True)
    other = ContactFactory(owner=rep, is_decision_maker=False)
    assert _qs(rep, "decision_maker=yes") == [boss]
    assert _qs(rep, "decision_maker=no") == [other]


def test_contact_filter_sort(rep):
    b = ContactFactory(owner=rep, last_name="B")
    a = ContactFactory(owner=rep, last_name="A")
    assert _qs(rep, "sort=name") == [a, b]
    assert _qs(rep, "sort=-name") == [b, a]
