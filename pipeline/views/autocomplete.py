"""Autocomplete for the company, contact, owner and product fields of the forms.

``static/js/autocomplete.js`` turns a ``<select data-autocomplete="URL">`` into an ARIA
combobox and asks ``URL?q=…`` (through htmx) for the options of its listbox. Without
JavaScript the select stays, with the form's own "Find" search beside it. The answer is a
fragment of at most ten ``role="option"`` items read through the visibility rule; a malformed
query string is a 400.
"""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import path
from django.views.decorators.http import require_http_methods

from pipeline.filters import SEARCH_MAX_LENGTH
from pipeline.forms import MAX_ID, QueryForm
from pipeline.selectors import autocomplete as matches


class AutocompleteQuery(QueryForm):
    q = forms.CharField(max_length=SEARCH_MAX_LENGTH, required=False, strip=True)
    company = forms.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    currency = forms.RegexField(regex=r"^[A-Z]{3}$", required=False)


def _answer(request, kind: str, find):
    query = AutocompleteQuery.parse(request.GET)
    options, more = find(query)
    return render(
        request,
        "pipeline/_autocomplete_options.html",
        {"options": options, "more": more, "kind": kind, "q": query["q"]},
    )


@login_required
@require_http_methods(["GET"])
def companies(request):
    return _answer(request, "companies", lambda q: matches.companies(user=request.user, q=q["q"]))


@login_required
@require_http_methods(["GET"])
def contacts(request):
    return _answer(
        request,
        "contacts",
        lambda q: matches.contacts(user=request.user, q=q["q"], company=q["company"]),
    )


@login_required
@require_http_methods(["GET"])
def owners(request):
    return _answer(request, "people", lambda q: matches.owners(user=request.user, q=q["q"]))


@login_required
@require_http_methods(["GET"])
def products(request):
    return _answer(
        request,
        "active products",
        lambda q: matches.products(q=q["q"], currency=q["currency"] or ""),
    )


urlpatterns = [
    path("autocomplete/companies/", companies, name="autocomplete_companies"),
    path("autocomplete/contacts/", contacts, name="autocomplete_contacts"),
    path("autocomplete/owners/", owners, name="autocomplete_owners"),
    path("autocomplete/products/", products, name="autocomplete_products"),
]
