"""Reads for the company pages, and the deal lists and totals a company's or a contact's
page shows.

Everything starts from ``visible_to(user)``. Figures about a company's deals (counts and
sums) are computed over the deals the user may see, so a rep who sees a company through one
deal never learns about another team's deals there. Each page issues a fixed number of
queries whatever the amount of data: lists annotate in SQL, detail pages read each related
list once (capped) with its rows' relations joined.
"""

from __future__ import annotations

from decimal import Decimal

from django.db.models import (
    Case,
    Count,
    DecimalField,
    F,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404
from django.utils import timezone

from accounts.visibility import owner_q
from pipeline import conversion, expressions
from pipeline.filters.companies import CompanyFilter
from pipeline.models import Company, Contact, Lead, Opportunity, Stage

RELATED_LIMIT = 100
MONEY = DecimalField(max_digits=20, decimal_places=2)


def _open_deals_of_company(user):
    return Opportunity.objects.visible_to(user).filter(
        company=OuterRef("pk"), stage__kind=Stage.Kind.OPEN
    )


def with_open_deal_figures(queryset, *, user, grouped: bool = False, fx=None):
    """Annotate companies with ``open_count`` and ``open_amount`` (in the reporting currency,
    at today's rates) of the open deals ``user`` may see, without a query per row.

    Two plans give the same numbers: correlated subqueries (default) are computed only for the
    rows of the page, the fastest when the list is ordered by name; ``grouped`` joins the
    deals and aggregates once, the fastest when the figures themselves are sorted or filtered
    on (every company then needs them; measured on 30k deals: 130–150 ms instead of
    140–330 ms). ``fx``: today's rates when the caller has read them (else read here).
    """
    if fx is None:
        fx = conversion.rates_on(timezone.localdate())
    if grouped:
        where = Q(opportunities__stage__kind=Stage.Kind.OPEN)
        visible = owner_q(user, "opportunities__owner")
        if visible is not None:
            where &= visible
        return queryset.annotate(
            open_count=Count("opportunities", filter=where),
            open_amount=Coalesce(
                Sum(_open_amount(fx, "opportunities__"), filter=where),
                Value(Decimal("0")),
                output_field=MONEY,
            ),
        )
    deals = _open_deals_of_company(user).order_by().values("company")
    return queryset.annotate(
        open_count=Coalesce(
            Subquery(deals.annotate(n=Count("pk")).values("n")[:1], output_field=IntegerField()),
            Value(0),
        ),
        open_amount=Coalesce(
            Subquery(deals.annotate(s=Sum(_open_amount(fx))).values("s")[:1], output_field=MONEY),
            Value(Decimal("0")),
            output_field=MONEY,
        ),
    )


def _open_amount(fx, prefix: str = ""):
    return conversion.open_amount(F(f"{prefix}amount"), F(f"{prefix}currency"), fx)


FIGURE_SORTS = {"open_count", "-open_count", "open_amount", "-open_amount"}


def company_list(*, user, params, fx=None) -> CompanyFilter:
    """The company list's FilterSet; ``fx``: today's rates, when the caller has read them."""
    grouped = params.get("sort") in FIGURE_SORTS or bool(params.get("open_deals"))
    queryset = with_open_deal_figures(
        Company.objects.visible_to(user).select_related("owner"), user=user, grouped=grouped, fx=fx
    ).order_by("name", "id")  # explicit: aggregate queries do not apply Meta.ordering
    return CompanyFilter(params.copy(), queryset=queryset, user=user)


def company_for(*, user, pk: int) -> Company:
    """A company ``user`` may see, or 404."""
    return get_object_or_404(Company.objects.visible_to(user).select_related("owner"), pk=pk)


def related_deals(user, **where):
    """The deals ``user`` may see among ``where`` (a company's, a contact's): open first, then
    won, then lost, each with its weighted amount."""
    return (
        Opportunity.objects.visible_to(user)
        .filter(**where)
        .select_related("stage", "owner", "pipeline", "contact", "company")
        .annotate(weighted=expressions.weighted_amount())
        .annotate(
            closed_rank=Case(
                When(stage__kind=Stage.Kind.OPEN, then=Value(0)),
                When(stage__kind=Stage.Kind.WON, then=Value(1)),
                default=Value(2),
            )
        )
        .order_by("closed_rank", "expected_close_date", "-id")
    )


def deal_totals(user, **where) -> dict:
    """Open, weighted, won and lost figures of the deals ``user`` may see among ``where``,
    in the reporting currency (open deals at today's rates, closed ones at their closed
    date's: ``pipeline.conversion``)."""
    amount = conversion.deal_amount(conversion.rates_on(timezone.localdate()))
    return (
        Opportunity.objects.visible_to(user)
        .filter(**where)
        .aggregate(
            open_count=Count("pk", filter=Q(stage__kind=Stage.Kind.OPEN)),
            open_amount=Coalesce(
                Sum(amount, filter=Q(stage__kind=Stage.Kind.OPEN)),
                Value(Decimal("0")),
                output_field=MONEY,
            ),
            weighted_amount=Coalesce(
                Sum(
                    expressions.weighted_amount(amount=amount),
                    filter=Q(stage__kind=Stage.Kind.OPEN),
                ),
                Value(Decimal("0")),
                output_field=MONEY,
            ),
            won_count=Count("pk", filter=Q(stage__kind=Stage.Kind.WON)),
            won_amount=Coalesce(
                Sum(amount, filter=Q(stage__kind=Stage.Kind.WON)),
                Value(Decimal("0")),
                output_field=MONEY,
            ),
            lost_count=Count("pk", filter=Q(stage__kind=Stage.Kind.LOST)),
            total=Count("pk"),
        )
    )


def company_page(*, user, company: Company) -> dict:
    """Deals (open first, then closed, with amounts and totals), leads (linked, or unlinked
    with the same company name), and contacts of a company, as ``user`` may see them."""
    leads = (
        Lead.objects.visible_to(user)
        .filter(Q(company=company) | Q(company__isnull=True, company_name__iexact=company.name))
        .select_related("owner")
        .order_by("-created_at", "-id")
    )
    contacts = (
        Contact.objects.visible_to(user)
        .filter(company=company)
        .select_related("owner")
        .order_by("last_name", "first_name", "id")
    )
    return {
        "deals": list(related_deals(user, company=company)[:RELATED_LIMIT]),
        "deal_totals": deal_totals(user, company=company),
        "leads": list(leads[:RELATED_LIMIT]),
        "contacts": list(contacts[:RELATED_LIMIT]),
        "related_limit": RELATED_LIMIT,
    }
