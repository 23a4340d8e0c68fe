"""Products and an opportunity's line items through the API: the catalogue is read-only with
its price list; line writes go through the line-item services with the deal's version
(If-Match → 412, body version → 409, none → 428), answer with the new version and amount,
and a deal one may not see is a 404 for its lines as for itself."""

import json
from decimal import Decimal

import pytest

from api import webhooks
from pipeline.models import LineItem, Opportunity, Product, ProductPrice
from tests.api.receiver import Receiver
from tests.factories import OpportunityFactory

pytestmark = pytest.mark.django_db

SECRET = "whsec_line-items-0123456789"


@pytest.fixture
def products(db):
    out = {}
    for code, name, usd, eur in (
        ("CRM-PRO", "CRM Pro", "1200.00", "1100.00"),
        ("SVC-ONB", "Onboarding", "2500.00", None),
    ):
        p = Product.objects.create(name=name, code=code, category="Subscriptions")
        ProductPrice.objects.create(product=p, currency="USD", unit_price=Decimal(usd))
        if eur:
            ProductPrice.objects.create(product=p, currency="EUR", unit_price=Decimal(eur))
        out[code] = p
    out["OLD"] = Product.objects.create(name="Legacy", code="OLD-1", is_active=False)
    return out


def _lines_url(deal):
    return f"/api/v1/opportunities/{deal.pk}/line-items/"


def _add(client, deal, product, version, **fields):
    body = {"product": product.pk, **fields}
    return client.post(_lines_url(deal), body, HTTP_IF_MATCH=f'"{version}"')


# --- products ---------------------------------------------------------------------------------


def test_products_list_with_price_list_and_filters(api_as, rep, products):
    client = api_as(rep, scope="read")
    body = client.get("/api/v1/products/").json()
    by_code = {p["code"]: p for p in body["results"]}
    assert set(by_code) == {"CRM-PRO", "SVC-ONB", "OLD-1"}
    assert by_code["CRM-PRO"]["prices"] == [
        {"currency": "EUR", "unit_price": "1100.00"},
        {"currency": "USD", "unit_price": "1200.00"},
    ]
    active = client.get("/api/v1/products/", {"is_active": "true"}).json()["results"]
    assert {p["code"] for p in active} == {"CRM-PRO", "SVC-ONB"}
    coded = client.get("/api/v1/products/", {"code": "crm-pro"}).json()["results"]
    assert [p["name"] for p in coded] == ["CRM Pro"]
    assert client.get("/api/v1/products/", {"q": "onboard"}).json()["results"][0]["code"] == (
        "SVC-ONB"
    )
    one = client.get(f"/api/v1/products/{products['SVC-ONB'].pk}/")
    assert one.status_code == 200 and one.json()["prices"][0]["unit_price"] == "2500.00"


def test_products_are_read_only_and_bad_filters_are_400(api_as, rep, products):
    client = api_as(rep)
    assert client.post("/api/v1/products/", {"name": "X", "code": "X"}).status_code == 405
    url = f"/api/v1/products/{products['CRM-PRO'].pk}/"
    assert client.patch(url, {"name": "Y"}, HTTP_IF_MATCH='"1"').status_code == 405
    bad = client.get("/api/v1/products/", {"is_active": "maybe"})
    assert bad.status_code == 400 and "is_active" in bad.json()["error"]["fields"]
    assert client.get("/api/v1/products/", {"code": "a\x00b"}).status_code == 400


def test_products_list_query_count_does_not_grow(
    api_as, rep, products, django_assert_max_num_queries
):
    client = api_as(rep, scope="read")
    client.get("/api/v1/products/")
    for n in range(10):
        p = Product.objects.create(name=f"P{n}", code=f"P-{n}")
        ProductPrice.objects.create(product=p, currency="USD", unit_price=Decimal("1"))
    with django_assert_max_num_queries(2):  # the products, their prices
        assert len(client.get("/api/v1/products/").json()["results"]) == 13


# --- line items: reads -----------------------------------------------------------------------


def test_deal_shows_its_line_items_in_the_one_query_of_a_list_or_read(
    api_as, rep, pipeline, products, django_assert_num_queries
):
    client = api_as(rep)
    deal = OpportunityFactory(owner=rep, pipeline=pipeline)
    assert _add(client, deal, products["CRM-PRO"], 1, quantity="3").status_code == 201
    assert _add(client, deal, products["SVC-ONB"], 2).status_code == 201
    for n in range(5):
        other = OpportunityFactory(owner=rep, pipeline=pipeline, name=f"Deal {n}")
        _add(client, other, products["CRM-PRO"], 1)
    reader = api_as(rep, scope="read")
    reader.get("/api/v1/opportunities/")  # the token is cached from here on
    with django_assert_num_queries(1):  # the deals with their lines and products
        listed = reader.get("/api/v1/opportunities/?page_size=10").json()["results"]
    assert len(listed) == 6 and all(d["line_items"] for d in listed)
    with django_assert_num_queries(1):
        body = reader.get(f"/api/v1/opportunities/{deal.pk}/").json()
    lines = body["line_items"]
    assert [(x["product_code"], x["quantity"], x["unit_price"], x["total"]) for x in lines] == [
        ("CRM-PRO", "3.00", "1200.00", "3600.00"),
        ("SVC-ONB", "1.00", "2500.00", "2500.00"),
    ]
    assert body["amount"] == "6100.00" and body["version"] == 3


def test_line_item_list_and_read_carry_the_deal_etag(api_as, rep, pipeline, products):
    client = api_as(rep)
    deal = OpportunityFactory(owner=rep, pipeline=pipeline)
    line = _add(client, deal, products["CRM-PRO"], 1).json()["line_item"]
    listed = client.get(_lines_url(deal))
    assert listed.status_code == 200 and listed["ETag"] == '"2"'
    assert [x["id"] for x in listed.json()] == [line["id"]]
    one = client.get(f"{_lines_url(deal)}{line['id']}/")
    assert one.status_code == 200 and one.json()["product_name"] == "CRM Pro"
    assert one["ETag"] == '"2"'
    assert client.get(_lines_url(deal), HTTP_IF_NONE_MATCH='"2"').status_code == 304
    assert client.get(f"{_lines_url(deal)}999999/").status_code == 404


def test_lines_of_an_unseen_deal_are_404_like_a_missing_one(
    api_as, rep, outsider, pipeline, products
):
    deal = OpportunityFactory(owner=rep, pipeline=pipeline)
    line = _add(api_as(rep), deal, products["CRM-PRO"], 1).json()["line_item"]
    stranger = api_as(outsider)
    for response in (
        stranger.get(_lines_url(deal)),
        stranger.get(f"{_lines_url(deal)}{line['id']}/"),
        _add(stranger, deal, products["CRM-PRO"], 2),
        stranger.patch(f"{_lines_url(deal)}{line['id']}/", {"quantity": "9"}, HTTP_IF_MATCH='"2"'),
        stranger.delete(f"{_lines_url(deal)}{line['id']}/", HTTP_IF_MATCH='"2"'),
    ):
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    missing = stranger.get("/api/v1/opportunities/999999/line-items/")
    assert missing.status_code == 404 and missing.json() == response.json()
    assert LineItem.objects.get().quantity == Decimal("1.00")


def test_a_line_of_another_deal_is_404(api_as, rep, pipeline, products):
    client = api_as(rep)
    first = OpportunityFactory(owner=rep, pipeline=pipeline)
    second = OpportunityFactory(owner=rep, pipeline=pipeline, name="Second")
    line = _add(client, first, products["CRM-PRO"], 1).json()["line_item"]
    url = f"{_lines_url(second)}{line['id']}/"
    assert client.get(url).status_code == 404
    assert client.delete(url, HTTP_IF_MATCH='"1"').status_code == 404
    assert LineItem.objects.filter(pk=line["id"]).exists()


# --- line items: writes ----------------------------------------------------------------------


def test_add_change_and_remove_answer_the_new_version_and_amount(api_as, rep, pipeline, products):
    client = api_as(rep)
    deal = OpportunityFactory(owner=rep, pipeline=pipeline, amount=Decimal("5000"))
    added = _add(client, deal, products["CRM-PRO"], 1, quantity="3", discount_percent="10")
    assert added.status_code == 201, added.json()
    assert added["ETag"] == '"2"'
    body = added.json()
    line_id = body["line_item"]["id"]
    assert added["Location"] == f"/api/v1/opportunities/{deal.pk}/line-items/{line_id}/"
    assert body["line_item"]["total"] == "3240.00"  # 3 × 1200 less 10 %
    assert body["opportunity"]["amount"] == "3240.00"
    assert body["opportunity"]["version"] == 2
    assert body["opportunity"]["line_items"] == [body["line_item"]]

    url = f"{_lines_url(deal)}{line_id}/"
    changed = client.patch(url, {"quantity": "5", "version": 2})
    assert changed.status_code == 200, changed.json()
    assert changed["ETag"] == '"3"'
    assert changed.json()["line_item"]["discount_percent"] == "10.00"  # kept
    assert changed.json()["opportunity"]["amount"] == "5400.00"

    put = client.put(url, {"unit_price": "1000.00"}, HTTP_IF_MATCH='"3"')
    assert put.status_code == 200 and put.json()["opportunity"]["amount"] == "4500.00"

    removed = client.delete(url, HTTP_IF_MATCH='"4"')
    assert removed.status_code == 200, removed.json()
    assert removed.json()["line_item"] is None
    assert removed.json()["opportunity"]["version"] == 5
    assert removed.json()["opportunity"]["amount"] == "4500.00"  # kept, typed from now on
    assert removed.json()["opportunity"]["line_items"] == []
    stored = Opportunity.objects.get(pk=deal.pk)
    assert (stored.amount, stored.version) == (Decimal("4500.00"), 5)
    assert stored.history.filter(amount=Decimal("3240.00")).exists()  # the field history


def test_stale_if_match_is_412_stale_body_409_none_428_nothing_written(
    api_as, rep, manager, pipeline, products
):
    deal = OpportunityFactory(owner=rep, pipeline=pipeline, amount=Decimal("5000"))
    first, second = api_as(rep), api_as(manager)
    line = _add(first, deal, products["CRM-PRO"], 1).json()["line_item"]
    url = f"{_lines_url(deal)}{line['id']}/"
    stale = _add(second, deal, products["SVC-ONB"], 1)
    assert stale.status_code == 412
    assert stale["ETag"] == '"2"'
    current = stale.json()["error"]["current"]
    assert current["version"] == 2 and current["amount"] == "1200.00"
    assert [x["id"] for x in current["line_items"]] == [line["id"]]
    conflict = second.patch(url, {"quantity": "4", "version": 1})
    assert conflict.status_code == 409 and conflict.json()["error"]["current"]["version"] == 2
    assert second.delete(url).status_code == 428
    assert second.patch(url, {"quantity": "4"}).status_code == 428
    assert second.post(_lines_url(deal), {"product": products["SVC-ONB"].pk}).status_code == 428
    assert LineItem.objects.count() == 1 and LineItem.objects.get().quantity == Decimal("1.00")
    assert Opportunity.objects.get(pk=deal.pk).version == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"product": 999999}, "product"),
        ({"quantity": "0"}, "quantity"),
        ({"quantity": "-2"}, "quantity"),
        ({"quantity": "1.234"}, "quantity"),
        ({"quantity": "lots"}, "quantity"),
        ({"discount_percent": "101"}, "discount_percent"),
        ({"unit_price": "-1"}, "unit_price"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_line_input_is_400_naming_the_field(api_as, rep, pipeline, products, body, field):
    deal = OpportunityFactory(owner=rep, pipeline=pipeline)
    response = api_as(rep).post(
        _lines_url(deal), {"product": products["CRM-PRO"].pk, **body}, HTTP_IF_MATCH='"1"'
    )
    assert response.status_code == 400, response.json()
    assert field in response.json()["error"]["fields"]
    assert not LineItem.objects.exists()
    assert Opportunity.objects.get(pk=deal.pk).version == 1


def test_service_rules_hold_through_the_api(api_as, rep, pipeline, products):
    client = api_as(rep)
    # A deal in euros takes the products' euro list prices (its own currency, not the
    # installation's).
    deal = OpportunityFactory(owner=rep, pipeline=pipeline, currency="EUR")
    inactive = _add(client, deal, products["OLD"], 1, unit_price="10.00")
    assert inactive.status_code == 400
    assert "no longer offered" in inactive.json()["error"]["fields"]["product"][0]
    no_price = _add(client, deal, products["SVC-ONB"], 1)
    assert no_price.status_code == 400
    assert "no list price in EUR" in no_price.json()["error"]["fields"]["unit_price"][0]
    euros = _add(client, deal, products["CRM-PRO"], 1)
    assert euros.status_code == 201 and euros.json()["line_item"]["unit_price"] == "1100.00"
    won = client.post(f"/api/v1/opportunities/{deal.pk}/close-won/", {}, HTTP_IF_MATCH='"2"')
    assert won.status_code == 200, won.json()
    closed = _add(client, deal, products["CRM-PRO"], 3)
    assert closed.status_code == 400 and "closed" in closed.json()["error"]["message"]
    assert LineItem.objects.count() == 1


def test_read_only_token_cannot_change_lines(api_as, rep, pipeline, products):
    deal = OpportunityFactory(owner=rep, pipeline=pipeline)
    response = _add(api_as(rep, scope="read"), deal, products["CRM-PRO"], 1)
    assert response.status_code == 403
    assert not LineItem.objects.exists()


def test_a_line_change_announces_the_deal_amount_with_its_lines(
    api_as, rep, admin_user, pipeline, products, settings, monkeypatch,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    from config.celery import app

    monkeypatch.setitem(app.conf, "task_always_eager", True)
    settings.OPPORTUNE_WEBHOOK_ALLOW_PRIVATE = True
    deal = OpportunityFactory(owner=rep, pipeline=pipeline, amount=Decimal("5000"))
    client = api_as(rep)
    with Receiver() as receiver:
        webhooks.create_endpoint(
            by=admin_user, url=receiver.url, events=["deal.amount_changed"], secret=SECRET
        )
        with django_capture_on_commit_callbacks(execute=True):
            assert _add(client, deal, products["CRM-PRO"], 1, quantity="2").status_code == 201
        assert len(receiver.requests) == 1
        request = receiver.requests[0]
    assert webhooks.verify(SECRET, request["headers"]["Opportune-Signature"], request["body"])
    data = json.loads(request["body"])["data"]
    assert data["amount"] == "2400.00" and data["version"] == 2
    assert [x["product_code"] for x in data["line_items"]] == ["CRM-PRO"]
