"""Reads for the contact pages. Everything starts from ``visible_to(user)``; a contact's
company is named only when the user may open it."""

from __future__ import annotations

from django.db.models import Q
from django.shortcuts import get_object_or_404

from accounts.visibility import visible_ref
from pipeline.filters.contacts import ContactFilter
from pipeline.models import Company, Contact, Lead
from pipeline.selectors.companies import RELATED_LIMIT, deal_totals, related_deals


def _with_company_visible(queryset, user):
    """``company_visible``: whether ``user`` may open the contact's company (a rep's contact
    may work at another team's account; its name and link are then not shown)."""
    return queryset.annotate(company_visible=visible_ref(user, Company, "company_id"))


def contact_list(*, user, params) -> ContactFilter:
    queryset = _with_company_visible(
        Contact.objects.visible_to(user).select_related("owner", "company"), user
    )
    return ContactFilter(params.copy(), queryset=queryset, user=user)


def contact_for(*, user, pk: int) -> Contact:
    """A contact ``user`` may see, or 404."""
    return get_object_or_404(
        _with_company_visible(
            Contact.objects.visible_to(user).select_related("owner", "company"), user
        ),
        pk=pk,
    )


def contact_page(*, user, contact: Contact) -> dict:
    """Deals the contact is primary contact of, and leads linked to the contact (or unlinked
    with the same email), as ``user`` may see them."""
    where = Q(contact=contact)
    if contact.email:
        where |= Q(contact__isnull=True, email__iexact=contact.email)
    leads = (
        Lead.objects.visible_to(user)
        .filter(where)
        .select_related("owner")
        .order_by("-created_at", "-id")
    )
    return {
        "deals": list(related_deals(user, contact=contact)[:RELATED_LIMIT]),
        "deal_totals": deal_totals(user, contact=contact),
        "leads": list(leads[:RELATED_LIMIT]),
        "related_limit": RELATED_LIMIT,
    }
