"""Every endpoint of the API router × every kind of caller × every method.

Generated from ``api.urls.router``: a new endpoint is in the matrix without a line of its own.
Callers: anonymous; reps, managers and an admin with a read-and-write token; the same with a
read-only token. The world is the site matrix's (two teams, East and West, each rep owning a
deal, lead, company, contact, activity and task; East's deal has a line item); the record in
the URL is East's, and so is the deal whose line items a nested URL names.

- anonymous → 401 everywhere;
- a read-only token → 403 for every write, whatever the endpoint;
- reading a record one may not see → 404 (never a 403 that confirms it exists); a write to it
  → 404 too; the same for the line items of a deal one may not see, listed or added;
- a method an endpoint does not offer → 405;
- an empty write (``{}``) by someone who may see the record → 400 (fields missing) or 428
  (no version named), and nothing anywhere changes (the site matrix's fingerprint).
"""

from __future__ import annotations

import pytest
from django.db import transaction
from rest_framework.test import APIClient

from api.urls import router
from tests.test_authorization_matrix import _seed, fingerprint

ACTORS = ("r_east", "m_east", "admin", "r_west", "m_west")
SEES_EAST = {"r_east", "m_east", "admin"}
METHODS = ("get", "post", "put", "patch", "delete")
# basename → the kind of East record whose id goes into a detail URL (site matrix's kinds)
KIND = {
    "company": "company",
    "contact": "contact",
    "lead": "lead",
    "opportunity": "deal",
    "activity": "activity",
    "task": "task",
    "user": "user",
    "line-item": "line_item",
}
SHARED = {"pipeline", "stage", "lost-reason", "product"}  # the same for everyone who signs in
NESTED = "(?P<opportunity_id>[0-9]{1,18})"  # line items live under East's deal


def _endpoints():
    out = []
    for prefix, viewset, basename in router.registry:
        for route in router.get_routes(viewset):
            suffix = route.url.split("{lookup}", 1)[1] if route.detail else ""
            suffix = suffix.replace("{trailing_slash}$", "/").lstrip("/")
            name = dict(route.mapping).get("post") if suffix else None
            out.append((basename, prefix, viewset, route, suffix, name))
    return out


def _prefix(world, prefix) -> str:
    return prefix.replace(NESTED, str(world.ids[("east", "deal")]))


ENDPOINTS = _endpoints()


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    from forecasting.models import ForecastSnapshot
    from pipeline import services
    from pipeline.models import LostReason, Opportunity, Pipeline, Product, ProductPrice

    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            w = _seed()
            east = w.users["r_east"]
            snap = ForecastSnapshot.objects.create(
                taken_on="2026-11-01",
                period="2026-11-01",
                owner=east,
                pipeline=Pipeline.objects.get(name="Matrix pipeline"),
            )
            w.ids[("east", "snapshot")] = snap.pk
            w.ids[("east", "team")] = east.team_id
            w.ids[("east", "pipeline")] = snap.pipeline_id
            w.ids[("east", "stage")] = w.stage_id
            w.ids[("east", "lost-reason")] = LostReason.objects.create(name="Matrix reason").pk
            product = Product.objects.create(name="Matrix product", code="MX-1")
            ProductPrice.objects.create(product=product, currency="USD", unit_price=100)
            w.ids[("east", "product")] = product.pk
            deal = Opportunity.objects.get(pk=w.ids[("east", "deal")])
            line = services.add_line_item(
                opportunity=deal, by=east, version=deal.version, product=product
            )
            w.ids[("east", "line_item")] = line.pk
            yield w
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.fixture(scope="module")
def clients(world, django_db_blocker):
    from api import tokens

    out = {"anonymous": APIClient()}
    with django_db_blocker.unblock():
        for actor in ACTORS:
            user = world.users[actor]
            for scope in ("read", "read_write"):
                token, raw = tokens.create_token(user=user, by=user, name="matrix", scope=scope)
                token.throttle_rate = "100000/min"
                token.save(update_fields=["throttle_rate"])
                client = APIClient()
                client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
                out[(actor, scope)] = client
    return out


def _record(world, basename) -> int:
    kind = KIND.get(basename, basename)
    return world.ids[("east", kind)]


def _expected(viewset, route, method, actor, scope, visible, nested=False) -> set[int]:
    action = dict(route.mapping).get(method)
    offered = action is not None and hasattr(viewset, action)
    if actor == "anonymous":
        return {401}
    if method != "get" and scope == "read":
        return {403}
    if not offered:
        return {405}
    if (route.detail or nested) and not visible:
        return {404}
    if method == "get":
        return {200}
    return {400, 428}


@pytest.mark.parametrize(
    "endpoint",
    ENDPOINTS,
    ids=[
        f"{e[1].replace(NESTED, '{id}')}{'/{id}' if e[3].detail else ''}"
        f"{'/' + e[4] if e[4] else ''}"
        for e in ENDPOINTS
    ],
)
def test_api_matrix_endpoint(endpoint, world, clients, db):
    basename, prefix, viewset, route, suffix, _ = endpoint
    nested = NESTED in prefix
    url = f"/api/v1/{_prefix(world, prefix)}/"
    if route.detail:
        url += f"{_record(world, basename)}/" + (f"{suffix}" if suffix else "")
    before = fingerprint()
    problems = []
    callers = [("anonymous", None)] + [(a, s) for a in ACTORS for s in ("read", "read_write")]
    for actor, scope in callers:
        visible = basename in SHARED or actor in SEES_EAST
        client = clients["anonymous" if actor == "anonymous" else (actor, scope)]
        for method in METHODS:
            if suffix and method != "post" and dict(route.mapping).get(method) is None:
                continue  # an action route: only its own method
            expected = _expected(viewset, route, method, actor, scope, visible, nested)
            response = getattr(client, method)(url, {} if method != "get" else None, format="json")
            cell = f"{method.upper()} {url} as {actor}/{scope}"
            if response.status_code not in expected:
                problems.append(f"{cell}: {response.status_code}, expected {sorted(expected)}")
            elif response.status_code >= 400:
                error = response.json().get("error", {})
                if not {"code", "message", "fields"} <= set(error):
                    problems.append(f"{cell}: error not in the API's shape: {response.json()}")
            if method != "get" and fingerprint() != before:
                problems.append(f"{cell}: changed data")
                before = fingerprint()
    assert not problems, "\n".join(problems)


def test_api_matrix_lists_show_only_visible_records(world, clients, db):
    from tests.test_authorization_matrix import MARK

    for actor, hidden in (("r_east", MARK["west"]), ("m_west", MARK["east"])):
        client = clients[(actor, "read")]
        for prefix in ("opportunities", "leads", "companies", "contacts", "activities", "tasks"):
            response = client.get(f"/api/v1/{prefix}/")
            assert response.status_code == 200
            assert hidden not in response.content.decode(), (actor, prefix)
