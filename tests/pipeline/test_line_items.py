"""Line items on a deal: totals (Decimal, half-up to the currency's decimals), the deal's
amount kept as their sum by the services with its field history, the version check between
two editors, and the deal page's rows (plain posts and htmx)."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings
from django.urls import reverse

from pipeline import services
from pipeline.models import LineItem, Opportunity, Product, ProductPrice
from pipeline.services.line_items import line_total
from tests.factories import OpportunityFactory, current_version


@pytest.fixture
def products(db):
    out = {}
    for code, name, usd, eur in (
        ("CRM-PRO", "CRM Pro", "1200.00", "1100.00"),
        ("SVC-ONB", "Onboarding", "2500.00", "2300.00"),
        ("SUP-GLD", "Gold support", "333.33", "300.00"),
    ):
        p = Product.objects.create(name=name, code=code, category="Subscriptions")
        ProductPrice.objects.create(product=p, currency="USD", unit_price=Decimal(usd))
        ProductPrice.objects.create(product=p, currency="EUR", unit_price=Decimal(eur))
        out[code] = p
    return out


@pytest.fixture
def deal(rep, pipeline):
    return OpportunityFactory(owner=rep, pipeline=pipeline, amount=Decimal("5000"))


def _fresh(deal):
    return Opportunity.objects.get(pk=deal.pk)


def _add(deal, by, product, **kw):
    return services.add_line_item(
        opportunity=deal, by=by, version=current_version(deal), product=product, **kw
    )


@pytest.mark.parametrize(
    ("qty", "price", "discount", "currency", "expected"),
    [
        ("3", "333.33", "0", "USD", "999.99"),
        ("1", "0.05", "50", "USD", "0.03"),  # 0.025 rounds half up, not to even
        ("1", "0.15", "50", "USD", "0.08"),  # 0.075 → 0.08
        ("2.5", "10.01", "12.5", "USD", "21.90"),  # 21.896875
        ("1", "1234.50", "0", "JPY", "1235"),  # no decimals in yen, half up
        ("7", "100", "100", "EUR", "0.00"),
    ],
)
def test_line_total_is_exact_and_rounds_half_up_to_the_currency(
    qty, price, discount, currency, expected
):
    total = line_total(Decimal(qty), Decimal(price), Decimal(discount), currency)
    assert total == Decimal(expected) and str(total) == expected


def test_list_price_is_the_default_and_the_amount_is_the_sum(rep, deal, products):
    line = _add(deal, rep, products["CRM-PRO"], quantity="2")
    assert line.unit_price == Decimal("1200.00") and line.total == Decimal("2400.00")
    _add(deal, rep, products["SVC-ONB"], unit_price="2000", discount_percent="10")
    _add(deal, rep, products["SUP-GLD"], quantity="3")
    fresh = _fresh(deal)
    assert fresh.amount == Decimal("2400.00") + Decimal("1800.00") + Decimal("999.99")
    assert fresh.amount == sum(
        LineItem.objects.filter(opportunity=deal).values_list("total", flat=True)
    )


def test_amount_changes_are_in_the_field_history(rep, deal, products):
    before = Opportunity.history.filter(id=deal.pk).count()
    line = _add(deal, rep, products["CRM-PRO"])
    services.update_line_item(
        line_item=line,
        by=rep,
        version=current_version(deal),
        quantity="3",
        unit_price="1200",
        discount_percent="",
    )
    amounts = list(
        Opportunity.history.filter(id=deal.pk)
        .order_by("history_date")
        .values_list("amount", flat=True)
    )
    assert len(amounts) == before + 2
    assert amounts[-2:] == [Decimal("1200.00"), Decimal("3600.00")]
    assert Opportunity.history.filter(id=deal.pk).latest("history_date").history_user == rep


def test_removing_the_last_line_keeps_the_amount_and_makes_it_typed_again(rep, deal, products):
    line = _add(deal, rep, products["CRM-PRO"])
    services.remove_line_item(line_item=line, by=rep, version=current_version(deal))
    fresh = _fresh(deal)
    assert fresh.amount == Decimal("1200.00") and not fresh.line_items.exists()
    services.update_opportunity(opportunity=fresh, by=rep, version=fresh.version, amount="900")
    assert _fresh(deal).amount == Decimal("900.00")


def test_typed_amount_is_refused_while_the_deal_has_lines(rep, deal, products):
    _add(deal, rep, products["CRM-PRO"])
    fresh = _fresh(deal)
    with pytest.raises(ValidationError, match="sum of its line items"):
        services.update_opportunity(opportunity=fresh, by=rep, version=fresh.version, amount="1")
    assert _fresh(deal).amount == Decimal("1200.00")


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"quantity": "0"}, "more than zero"),
        ({"quantity": "abc"}, "Enter a quantity"),
        ({"quantity": "1.005"}, "two decimal places"),
        ({"discount_percent": "101"}, "from 0 to 100"),
        ({"unit_price": "-5"}, "cannot be negative"),
        ({"unit_price": 1.5}, "exact decimals"),
    ],
)
def test_bad_line_input_is_refused_and_changes_nothing(rep, deal, products, kw, message):
    version = current_version(deal)
    with pytest.raises(ValidationError, match=message):
        _add(deal, rep, products["CRM-PRO"], **kw)
    fresh = _fresh(deal)
    assert fresh.version == version and fresh.amount == Decimal("5000.00")
    assert not LineItem.objects.exists()


def test_inactive_products_are_not_added_but_stay_on_old_deals(rep, deal, products):
    pro = products["CRM-PRO"]
    line = _add(deal, rep, pro)
    pro.is_active = False
    pro.save()
    with pytest.raises(ValidationError, match="no longer offered"):
        _add(deal, rep, pro)
    services.update_line_item(
        line_item=line,
        by=rep,
        version=current_version(deal),
        quantity="2",
        unit_price="1200",
        discount_percent="0",
    )
    assert _fresh(deal).amount == Decimal("2400.00")


def test_a_product_without_a_list_price_needs_a_unit_price(rep, deal):
    bare = Product.objects.create(name="Custom work", code="CUSTOM")
    with pytest.raises(ValidationError, match="no list price in USD"):
        _add(deal, rep, bare)
    assert _add(deal, rep, bare, unit_price="750").total == Decimal("750.00")


def test_stale_version_is_refused(rep, manager, deal, products):
    """Two editors opened the deal at the same version: the first one's line lands, the
    second is told someone else changed it and nothing of theirs is written."""
    seen = current_version(deal)
    services.add_line_item(opportunity=deal, by=rep, version=seen, product=products["CRM-PRO"])
    with pytest.raises(ValidationError) as exc:
        services.add_line_item(
            opportunity=deal, by=manager, version=seen, product=products["SVC-ONB"]
        )
    assert exc.value.code == "stale"
    assert list(LineItem.objects.values_list("product__code", flat=True)) == ["CRM-PRO"]


def test_lines_of_a_closed_deal_do_not_change(rep, deal, products):
    line = _add(deal, rep, products["CRM-PRO"])
    won = services.close_won(opportunity=_fresh(deal), by=rep, version=current_version(deal))
    with pytest.raises(ValidationError, match="closed"):
        services.remove_line_item(line_item=line, by=rep, version=won.version)


def test_a_closed_deal_shows_its_line_discounts_as_percentages(client, rep, deal, products):
    _add(deal, rep, products["SVC-ONB"], unit_price="2000", discount_percent="12.5")
    services.close_won(opportunity=_fresh(deal), by=rep, version=current_version(deal))
    client.force_login(rep)
    page = client.get(deal.get_absolute_url()).content.decode()
    assert '<span role="cell" class="num" data-label="Discount %">12.5%</span>' in page


def test_someone_outside_the_scope_cannot_touch_lines(outsider, deal, products):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        _add(deal, outsider, products["CRM-PRO"])


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_editors_at_once_one_wins(rep, manager, pipeline, products):
    import threading

    from django.db import connection, connections

    if connection.vendor != "postgresql":
        pytest.skip("row locks are PostgreSQL's")
    deal = OpportunityFactory(owner=rep, pipeline=pipeline)
    barrier = threading.Barrier(2)
    outcomes = {}
    picks = {rep: products["CRM-PRO"], manager: products["SVC-ONB"]}

    def edit(user):
        try:
            barrier.wait(timeout=10)
            services.add_line_item(opportunity=deal, by=user, version=1, product=picks[user])
            outcomes[user] = "added"
        except ValidationError as exc:
            outcomes[user] = exc.code
        finally:
            connections.close_all()

    threads = [threading.Thread(target=edit, args=(u,)) for u in picks]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes.values()) == ["added", "stale"]
    winner = next(u for u, o in outcomes.items() if o == "added")
    fresh = _fresh(deal)
    assert fresh.version == 2 and fresh.line_items.get().product == picks[winner]
    assert fresh.amount == fresh.line_items.get().total


# --- the deal page ---------------------------------------------------------------------------


def _post(client, deal, htmx=False, **data):
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post(reverse("pipeline:opportunity_lines", args=[deal.pk]), data, headers=headers)


def test_a_rep_builds_a_deal_from_three_products_without_javascript(client, rep, deal, products):
    client.force_login(rep)
    for code, qty in (("CRM-PRO", "2"), ("SVC-ONB", "1"), ("SUP-GLD", "3")):
        response = _post(
            client,
            deal,
            action="add",
            version=current_version(deal),
            product=products[code].pk,
            quantity=qty,
            unit_price="",
            discount_percent="",
        )
        assert response.status_code == 302 and response["Location"].endswith("#products")
    page = client.get(deal.get_absolute_url()).content.decode()
    assert "Gold support" in page and "$999.99" in page and "$5,899.99" in page
    assert "sum of 3 lines" in page


def test_editing_and_removing_rows_over_htmx_swaps_the_page(client, rep, deal, products):
    client.force_login(rep)
    line = _add(deal, rep, products["CRM-PRO"])
    response = _post(
        client,
        deal,
        htmx=True,
        action="save",
        line=line.pk,
        version=current_version(deal),
        quantity="2",
        unit_price="1000",
        discount_percent="5",
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="deal-page"' in html and "CRM Pro saved." in html and "$1,900.00" in html
    assert f'name="version" value="{current_version(deal)}"' in html
    response = _post(
        client, deal, htmx=True, action="remove", line=line.pk, version=current_version(deal)
    )
    assert "CRM Pro removed." in response.content.decode() and not LineItem.objects.exists()


def test_bad_row_input_shows_the_reason_on_the_row_and_changes_nothing(client, rep, deal, products):
    client.force_login(rep)
    line = _add(deal, rep, products["CRM-PRO"])
    version = current_version(deal)
    response = _post(
        client,
        deal,
        action="save",
        line=line.pk,
        version=version,
        quantity="-1",
        unit_price="1200",
        discount_percent="",
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "The quantity must be more than zero." in html and 'value="-1"' in html
    assert current_version(deal) == version


def test_the_second_editor_gets_a_clear_message(client, rep, manager, deal, products):
    client.force_login(manager)
    seen = current_version(deal)
    _add(deal, rep, products["CRM-PRO"])
    response = _post(
        client,
        deal,
        action="add",
        version=seen,
        product=products["SVC-ONB"].pk,
        quantity="1",
        unit_price="",
        discount_percent="",
    )
    assert response.status_code == 409
    html = response.content.decode()
    assert "Someone else changed" in html and "Nothing was saved" in html
    assert LineItem.objects.count() == 1


@override_settings(OPPORTUNE_CURRENCY="USD")
def test_deal_page_with_50_lines_has_a_query_budget(
    client, rep, deal, products, django_assert_max_num_queries
):
    items = [
        LineItem(
            opportunity=deal,
            product=products["CRM-PRO"],
            quantity=1,
            unit_price=Decimal("10"),
            total=Decimal("10"),
        )
        for _ in range(50)
    ]
    LineItem.objects.bulk_create(items)
    client.force_login(rep)
    client.get(deal.get_absolute_url())
    with django_assert_max_num_queries(14):
        response = client.get(deal.get_absolute_url())
    assert response.content.decode().count('name="action" value="remove"') == 50


def test_amount_is_read_only_on_the_edit_form_while_the_deal_has_lines(client, rep, deal, products):
    _add(deal, rep, products["CRM-PRO"])
    client.force_login(rep)
    html = client.get(reverse("pipeline:opportunity_edit", args=[deal.pk])).content.decode()
    assert (
        "The sum of the deal&#x27;s line items" in html
        or "The sum of the deal's line items" in html
    )
