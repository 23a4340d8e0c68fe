"""The opportunity list and read build their answer from rows (``api.deal_rows``), not model
instances: the representation must be exactly the instance's, field by field and in order,
for every kind of deal (no company, overrides, a model score, closed won and lost, another
currency, line items with discounts), in any time zone; and a read costs one query."""

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.db.models.signals import post_init
from django.utils import timezone

from api.deal_lines import with_lines
from api.deal_rows import DealRow, as_rows
from api.serializers import OpportunitySerializer
from pipeline import services
from pipeline.models import DealScore, LineItem, Opportunity, Pipeline, Product, ProductPrice
from tests.factories import (
    ContactFactory,
    LostReasonFactory,
    OpportunityFactory,
    PipelineFactory,
    current_version,
    stage,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def deals(rep, pipeline):
    product = Product.objects.create(name="CRM Pro", code="CRM-PRO")
    ProductPrice.objects.create(product=product, currency="USD", unit_price=Decimal("1200.00"))
    ProductPrice.objects.create(product=product, currency="EUR", unit_price=Decimal("1100.00"))
    modelled = PipelineFactory(name="Modelled")
    Pipeline.objects.filter(pk=modelled.pk).update(probability_source="model", model_eligible=True)
    out = [
        OpportunityFactory(owner=rep, pipeline=pipeline, company=None, amount=Decimal("0")),
        OpportunityFactory(
            owner=rep,
            pipeline=pipeline,
            probability=33,
            forecast_category="commit",
            amount=Decimal("1234.56"),
            contact=ContactFactory(owner=rep),
            next_step="Call",
            next_step_due=timezone.localdate() + dt.timedelta(days=3),
        ),
        OpportunityFactory(owner=rep, pipeline=modelled, currency="EUR", amount=Decimal("7.77")),
        OpportunityFactory(owner=rep, pipeline=pipeline),
        OpportunityFactory(owner=rep, pipeline=pipeline),
    ]
    now = timezone.now()
    DealScore.objects.create(
        opportunity=out[2], probability=61, probability_exact=61.4, base_probability=40,
        factors=[], model_trained_at=now, scored_at=now,
    )  # fmt: skip
    for deal, discount in ((out[1], Decimal("12.50")), (out[2], None), (out[2], Decimal("5"))):
        services.add_line_item(
            opportunity=deal, by=rep, version=current_version(deal), product=product,
            quantity=Decimal("3"), discount_percent=discount,
        )  # fmt: skip
    services.close_won(opportunity=out[3], by=rep, version=current_version(out[3]))
    services.close_lost(
        opportunity=out[4], by=rep, version=current_version(out[4]),
        lost_reason=LostReasonFactory(), lost_note="Price", stage=stage(pipeline, "Lost"),
    )  # fmt: skip
    Opportunity.objects.filter(pk=out[0].pk).update(last_activity_at=now)
    return out


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Asia/Kolkata"])
def test_a_row_shows_exactly_as_the_instance(deals, zone):
    ids = [d.pk for d in deals]
    with timezone.override(zone):
        instances = {
            d.pk: OpportunitySerializer(d).data
            for d in with_lines(Opportunity.objects.filter(pk__in=ids))
        }
        rows = list(as_rows(Opportunity.objects.filter(pk__in=ids)))
        assert all(isinstance(r, DealRow) for r in rows)
        shown = {r.pk: OpportunitySerializer(r).data for r in rows}
    assert set(shown) == set(ids)
    for pk in ids:
        # The same keys in the same order, the same values and types.
        assert json.dumps(shown[pk]) == json.dumps(instances[pk])
    assert "company_name" not in shown[deals[0].pk]  # as DRF leaves it out of a company-less deal
    assert len(shown[deals[2].pk]["line_items"]) == 2
    assert shown[deals[2].pk]["effective_probability"] == 61


def test_list_and_read_answer_from_rows_in_one_query(api_as, rep, deals, django_assert_num_queries):
    client = api_as(rep, scope="read")
    client.get("/api/v1/opportunities/")  # the token is cached
    built = []

    def count(sender, **kwargs):
        built.append(sender)

    for model in (Opportunity, LineItem, Product):
        post_init.connect(count, sender=model, weak=False)
    try:
        with django_assert_num_queries(1):
            listed = client.get("/api/v1/opportunities/", {"page_size": 5})
        assert listed.status_code == 200
        assert len(listed.json()["results"]) == 5
        with django_assert_num_queries(1):
            read = client.get(f"/api/v1/opportunities/{deals[1].pk}/")
        assert read.status_code == 200
    finally:
        for model in (Opportunity, LineItem, Product):
            post_init.disconnect(count, sender=model)
    assert built == []  # no deal, line or product instance was made for either answer
    assert read["ETag"] == f'"{current_version(deals[1])}"'
    expected = OpportunitySerializer(with_lines(Opportunity.objects.all()).get(pk=deals[1].pk))
    assert read.json() == json.loads(json.dumps(expected.data))
    # The cursor walks every deal once, newest first, whatever the ordering's ties.
    seen, url = [], "/api/v1/opportunities/?page_size=2&ordering=amount"
    while url:
        page = client.get(url).json()
        seen += [d["id"] for d in page["results"]]
        url = page["next"]
    assert sorted(seen) == sorted(d.pk for d in deals)


def test_one_deal_statement_is_compiled_once_per_viewer_and_follows_visibility(
    deals, rep, rep2, manager, outsider, admin_user
):
    from api import deal_rows

    deal = deals[1]
    for user, sees in ((rep, True), (rep2, False), (manager, True), (outsider, False),
                       (admin_user, True)):  # fmt: skip
        deal_rows._STATEMENTS.clear()
        stored = deal_rows.statement(user, "default")
        assert deal_rows.statement(user, "default") is stored  # compiled once
        # The same SQL, parameters and id position as a fresh compile.
        assert stored[:3] == deal_rows._compile(user, "default")[:3]
        row = deal_rows.read_one(user, deal.pk)
        assert (row is not None) == sees
        fresh = as_rows(Opportunity.objects.visible_to(user)).filter(pk=deal.pk).first()
        assert (fresh is not None) == sees
        if sees:
            assert OpportunitySerializer(row).data == OpportunitySerializer(fresh).data
    # Another viewer, or a change of what the rule reads of one, is another statement.
    from accounts import visibility

    before = visibility.rule_inputs(manager)
    manager.role = "rep"
    assert visibility.rule_inputs(manager) != before
    manager.role = "manager"
    assert visibility.rule_inputs(manager) == before
    manager._managed_team_ids = [*manager._managed_team_ids, 10**9]  # one more team to lead
    assert visibility.rule_inputs(manager) != before
    manager.role = "rep"
    assert deal_rows.read_one(manager, deals[1].pk) is None  # a rep who is not its owner


def test_read_of_an_invisible_or_missing_deal_is_404(api_as, rep2, deals):
    client = api_as(rep2, scope="read")
    assert client.get(f"/api/v1/opportunities/{deals[1].pk}/").status_code == 404
    missing = client.get("/api/v1/opportunities/999999999999999999/")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "value",
    [Decimal("12.34"), Decimal("0.00"), Decimal("7"), Decimal("2.345"), Decimal("2.355"),
     Decimal("1.5E+3"), "19.90", 3, Decimal("-0.01")],
)  # fmt: skip
def test_a_row_decimal_shows_as_drf_shows_it(value):
    from rest_framework import serializers

    from api.deal_rows import _decimal

    field = serializers.DecimalField(max_digits=14, decimal_places=2)
    assert _decimal(field)(value) == field.to_representation(value)


def test_a_row_decimal_too_long_for_its_digits_fails_as_drf_does():
    import decimal

    from rest_framework import serializers

    from api.deal_rows import _decimal

    field = serializers.DecimalField(max_digits=4, decimal_places=2)
    for convert in (field.to_representation, _decimal(field)):
        with pytest.raises(decimal.InvalidOperation):
            convert(Decimal("12345.00"))


@pytest.mark.parametrize("ordering", ["id", "amount", "expected_close_date", "created_at",
                                      "updated_at"])  # fmt: skip
@pytest.mark.parametrize("descending", [False, True])
def test_every_cursor_ordering_is_read_from_an_index(deals, ordering, descending):
    from django.db import connection

    from api.views.opportunities import OpportunityViewSet

    if connection.vendor != "postgresql":
        pytest.skip("plans are PostgreSQL's")
    assert ordering in OpportunityViewSet.ordering_fields
    key = f"-{ordering}" if descending else ordering
    deals_in_order = Opportunity.objects.order_by(key)[:101]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_sort = off")  # a sort only when nothing else can
        plan = deals_in_order.explain()
    assert "Index" in plan and "Sort" not in plan, plan


def test_a_list_naming_no_filter_builds_no_filterset(api_as, rep, deals, monkeypatch):
    from api import filters as api_filters

    built = []
    original = api_filters.OpportunityFilter.__init__

    def counting(self, *args, **kwargs):
        built.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(api_filters.OpportunityFilter, "__init__", counting)
    client = api_as(rep, scope="read")
    everything = client.get("/api/v1/opportunities/", {"page_size": 50, "ordering": "amount"})
    assert everything.status_code == 200
    assert len(everything.json()["results"]) == len(deals)
    assert built == []  # ordering and page size are no filters
    won = client.get("/api/v1/opportunities/", {"status": "won"})
    assert [d["id"] for d in won.json()["results"]] == [deals[3].pk]
    assert len(built) == 1
    refused = client.get("/api/v1/opportunities/", {"status": "nonsense"})
    assert refused.status_code == 400
