"""Reads for the lead pages, and the pagination every list of the rep's workspace shares.

Every query starts from ``Lead.objects.visible_to(user)``; the list's rows carry their owner
through ``select_related`` so a page costs the same number of queries at 10 or 10,000 leads.
"""

from __future__ import annotations

from django.core.paginator import Page
from django.shortcuts import get_object_or_404

from accounts.visibility import visible_ref
from pipeline.filters.leads import LeadFilter
from pipeline.models import Company, Contact, Lead, Opportunity, Pipeline
from pipeline.selectors import paging

PER_PAGE = 50


def paginate(queryset, page_number, per_page: int = PER_PAGE) -> Page:
    """One page of ``queryset``; a missing, malformed or out-of-range page number gives the
    first or last page instead of an error. The rows are counted only up to a bound
    (:mod:`pipeline.selectors.paging`), so a page costs the same at any table size."""
    return paging.paginate(queryset, page_number, per_page)


def lead_list(*, user, params) -> LeadFilter:
    """The lead list's FilterSet over the leads ``user`` may see; ``.qs`` holds the rows.

    The status filter defaults to open leads when the URL does not name one (``defaults``,
    which the FilterSet also falls back to for a value it refuses).
    """
    data = params.copy()
    for name, value in LeadFilter.defaults.items():
        if not data.get(name):
            data[name] = value
    queryset = Lead.objects.visible_to(user).select_related("owner")
    return LeadFilter(data, queryset=queryset, user=user)


def lead_detail(*, user, pk: int) -> Lead:
    """A lead ``user`` may see, with what its page shows, or 404."""
    return get_object_or_404(
        Lead.objects.visible_to(user)
        .select_related("owner", "company", "contact", "opportunity__stage")
        # The company, contact and deal are named on the page only when the user may open
        # them (a converted deal may since belong to another rep).
        .annotate(
            company_visible=visible_ref(user, Company, "company_id"),
            contact_visible=visible_ref(user, Contact, "contact_id"),
            opportunity_visible=visible_ref(user, Opportunity, "opportunity_id"),
        ),
        pk=pk,
    )


def lead_for_edit(*, user, pk: int) -> Lead:
    """A lead ``user`` may see, for an action (the services check the right to change it)."""
    return get_object_or_404(Lead.objects.visible_to(user).select_related("owner"), pk=pk)


def matching_company(*, user, lead: Lead) -> Company | None:
    """The company to preselect when converting: the lead's own, else a visible company with
    exactly the lead's company name."""
    if lead.company_id:
        return Company.objects.visible_to(user).filter(pk=lead.company_id).first()
    name = lead.company_name.strip()
    if not name:
        return None
    return Company.objects.visible_to(user).filter(name__iexact=name).order_by("id").first()


def default_pipeline() -> Pipeline | None:
    return Pipeline.objects.filter(is_active=True).order_by("position", "id").first()
