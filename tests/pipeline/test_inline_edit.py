"""Inline edit of a deal's key fields on its page (amount, expected close, stage, next step):
a small htmx form per value, saved through the services with the deal's version; a stale
version changes nothing and says what changed; without JavaScript the values link to the
edit and move pages."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from pipeline import services
from pipeline.models import LineItem, Opportunity, Product
from tests.factories import OpportunityFactory, current_version, stage

HX = {"HTTP_HX_REQUEST": "true"}


def _url(deal):
    return reverse("pipeline:opportunity_inline", args=[deal.pk])


def _fresh(deal):
    return Opportunity.objects.select_related("stage").get(pk=deal.pk)


@pytest.fixture
def deal(rep, pipeline):
    return OpportunityFactory(owner=rep, pipeline=pipeline, amount=Decimal("5000"))


def _close_date():
    day = dt.date.today() + dt.timedelta(days=60)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


def test_deal_page_values_link_to_their_edit_pages_and_open_the_small_form(client, rep, deal):
    client.force_login(rep)
    page = client.get(deal.get_absolute_url()).content.decode()
    edit = reverse("pipeline:opportunity_edit", args=[deal.pk])
    assert f'href="{edit}#id_amount" hx-get="{_url(deal)}?field=amount"' in page
    assert f'href="{edit}#id_expected_close_date" hx-get="{_url(deal)}?field=close"' in page
    assert f'href="{edit}#id_next_step" hx-get="{_url(deal)}?field=next_step"' in page
    move = reverse("pipeline:opportunity_move", args=[deal.pk])
    assert f'href="{move}" hx-get="{_url(deal)}?field=stage"' in page


@pytest.mark.parametrize("field", ["amount", "close", "stage", "next_step"])
def test_the_small_form_carries_the_version(client, rep, deal, field):
    client.force_login(rep)
    response = client.get(_url(deal), {"field": field}, **HX)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="inline-form"' in html
    assert f'name="version" value="{deal.version}"' in html
    assert f'name="field" value="{field}"' in html


def test_without_htmx_the_value_is_edited_on_the_edit_page(client, rep, deal):
    client.force_login(rep)
    response = client.get(_url(deal), {"field": "amount"})
    assert response.status_code == 302
    assert response["Location"].endswith(f"/opportunities/{deal.pk}/edit/#id_amount")
    response = client.get(_url(deal), {"field": "stage"})
    assert response["Location"] == reverse("pipeline:opportunity_move", args=[deal.pk])


def test_inline_amount_saves_through_the_service_and_swaps_the_page(client, rep, deal):
    client.force_login(rep)
    response = client.post(
        _url(deal), {"field": "amount", "version": deal.version, "amount": "64700"}, **HX
    )
    assert response.status_code == 200
    assert _fresh(deal).amount == Decimal("64700")
    assert _fresh(deal).version == deal.version + 1
    html = response.content.decode()
    assert 'id="deal-page"' in html and "✓ Amount saved." in html and "$64,700" in html
    assert "data-focus-after-swap" in html


def test_inline_close_date_stage_and_next_step_save(client, rep, deal, pipeline):
    client.force_login(rep)
    day = _close_date()
    client.post(
        _url(deal),
        {"field": "close", "version": current_version(deal), "expected_close_date": day},
        **HX,
    )
    assert _fresh(deal).expected_close_date == day
    discovery = stage(pipeline, "Discovery")
    client.post(
        _url(deal),
        {"field": "stage", "version": current_version(deal), "stage": discovery.pk},
        **HX,
    )
    assert _fresh(deal).stage == discovery
    client.post(
        _url(deal),
        {"field": "next_step", "version": current_version(deal), "next_step": "Call the CFO"},
        **HX,
    )
    assert _fresh(deal).next_step == "Call the CFO"


def test_a_plain_post_redirects_back_with_a_message(client, rep, deal):
    client.force_login(rep)
    response = client.post(
        _url(deal), {"field": "amount", "version": deal.version, "amount": "7000"}, follow=True
    )
    assert response.redirect_chain[-1][0] == deal.get_absolute_url()
    assert "Amount saved." in response.content.decode()


@pytest.mark.parametrize("htmx", [True, False])
def test_a_stale_version_changes_nothing_and_says_what_changed(client, rep, deal, htmx):
    seen = deal.version
    services.update_opportunity(
        opportunity=deal, by=rep, version=seen, amount=Decimal("9100"), name="Renamed"
    )
    client.force_login(rep)
    response = client.post(
        _url(deal), {"field": "amount", "version": seen, "amount": "1234"}, **(HX if htmx else {})
    )
    assert _fresh(deal).amount == Decimal("9100")
    assert _fresh(deal).version == seen + 1
    assert response.status_code == (200 if htmx else 409)
    html = response.content.decode()
    assert "Someone else saved “Renamed” after you opened it" in html
    assert "its amount is now $9,100" in html and "Nothing was saved" in html
    # The value typed is kept, at the current version, to be saved again on purpose.
    assert 'value="1234"' in html and f'name="version" value="{seen + 1}"' in html
    if htmx:
        assert response["HX-Retarget"] == "#inline-amount"


def test_a_stale_stage_move_changes_nothing(client, rep, deal, pipeline):
    seen = deal.version
    services.update_opportunity(opportunity=deal, by=rep, version=seen, amount=Decimal("9100"))
    client.force_login(rep)
    proposal = stage(pipeline, "Proposal")
    response = client.post(
        _url(deal), {"field": "stage", "version": seen, "stage": proposal.pk}, **HX
    )
    assert _fresh(deal).stage.name == "Qualification"
    assert "it is now in Qualification" in response.content.decode()


@pytest.mark.parametrize(
    "data",
    [
        {"field": "amount", "amount": "-5"},
        {"field": "amount", "amount": "1e999"},
        {"field": "amount", "amount": ""},
        {"field": "close", "expected_close_date": "2026-02-30"},
        {"field": "stage", "stage": "99999999999999999999"},
        {"field": "next_step", "next_step": "x" * 300},
        {"field": "nonsense"},
        {"field": "amount", "amount": "5", "version": "abc"},
        {},
    ],
)
def test_bad_input_is_a_400_and_changes_nothing(client, rep, deal, data):
    client.force_login(rep)
    before = _fresh(deal)
    response = client.post(_url(deal), {"version": deal.version, **data})
    assert response.status_code == 400
    after = _fresh(deal)
    assert (after.version, after.amount, after.stage_id) == (
        before.version,
        before.amount,
        before.stage_id,
    )


def test_a_lost_stage_is_not_offered_inline(client, rep, deal, pipeline):
    client.force_login(rep)
    lost = stage(pipeline, "Lost")
    html = client.get(_url(deal), {"field": "stage"}, **HX).content.decode()
    assert f'value="{lost.pk}"' not in html and "Close lost…" in html
    response = client.post(
        _url(deal), {"field": "stage", "version": deal.version, "stage": lost.pk}
    )
    assert response.status_code == 400 and _fresh(deal).is_open


def test_an_amount_made_of_line_items_is_not_edited_inline(client, rep, deal):
    product = Product.objects.create(name="CRM Pro", code="CRM-PRO")
    services.add_line_item(
        opportunity=deal,
        by=rep,
        version=deal.version,
        product=product,
        quantity="1",
        unit_price="100",
    )
    client.force_login(rep)
    page = client.get(deal.get_absolute_url()).content.decode()
    assert "?field=amount" not in page
    response = client.post(
        _url(deal), {"field": "amount", "version": current_version(deal), "amount": "1"}
    )
    assert response.status_code == 400 and _fresh(deal).amount == Decimal("100")
    assert LineItem.objects.filter(opportunity=deal).count() == 1


def test_someone_who_may_not_see_the_deal_gets_a_404(client, outsider, rep2, deal):
    for user in (outsider, rep2):
        client.force_login(user)
        assert client.get(_url(deal), {"field": "amount"}, **HX).status_code == 404
        response = client.post(_url(deal), {"field": "amount", "version": 1, "amount": "1"})
        assert response.status_code == 404
    assert _fresh(deal).amount == Decimal("5000")
