"""The matches an autocomplete field offers while the user types: at most ``LIMIT`` records,
each read through the one visibility rule (companies and contacts through ``visible_to``,
owners through ``visible_users``), so no field ever lists a record its user may not see.
Each kind costs one query (products two: their list price in the deal's currency)."""

from __future__ import annotations

from django.db.models import Prefetch

from accounts.visibility import visible_users
from pipeline.filters import search_words
from pipeline.models import Company, Contact, Product, ProductPrice
from pipeline.templatetags.opportune import money_in

LIMIT = 10


def _rows(queryset, option):
    """``LIMIT`` options and whether more records matched."""
    found = list(queryset[: LIMIT + 1])
    return [option(obj) for obj in found[:LIMIT]], len(found) > LIMIT


def companies(*, user, q: str):
    qs = search_words(Company.objects.visible_to(user), q, ("name", "website", "city"))
    qs = qs.only("name", "city").order_by("name", "id")
    return _rows(qs, lambda c: {"value": c.pk, "label": c.name, "detail": c.city})


def contacts(*, user, q: str, company: int | None = None):
    qs = Contact.objects.visible_to(user).select_related("company")
    if company:
        qs = qs.filter(company_id=company)
    qs = search_words(qs, q, ("first_name", "last_name", "email", "company__name"))
    qs = qs.only("first_name", "last_name", "email", "company__name")
    qs = qs.order_by("last_name", "first_name", "id")

    def option(c):
        company_name = c.company.name if c.company_id else "no company"
        # The same label as the contact dropdowns, so the picked text matches the choice.
        return {"value": c.pk, "label": f"{c.full_name} ({company_name})", "detail": c.email}

    return _rows(qs, option)


def owners(*, user, q: str):
    qs = search_words(visible_users(user), q, ("username", "first_name", "last_name"))
    qs = qs.order_by("first_name", "last_name", "username", "id")

    def option(u):
        full = u.get_full_name()
        return {"value": u.pk, "label": full or u.username, "detail": f"@{u.username}"}

    return _rows(qs, option)


def products(*, q: str, currency: str = ""):
    """Active products (the catalogue is everyone's; inactive ones are no longer offered)."""
    qs = search_words(Product.objects.filter(is_active=True), q, ("name", "code", "category"))
    qs = qs.only("name", "code").order_by("name", "id")
    if currency:
        prices = ProductPrice.objects.filter(currency=currency)
        qs = qs.prefetch_related(Prefetch("prices", queryset=prices, to_attr="listed"))

    def option(p):
        price = ""
        if currency:
            listed = getattr(p, "listed", [])
            price = money_in(listed[0].unit_price, currency) if listed else "no list price"
        return {"value": p.pk, "label": f"{p.name} ({p.code})", "detail": price}

    return _rows(qs, option)
