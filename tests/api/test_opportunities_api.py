"""Deals through the API: reads follow the visibility rule, writes go through the services
with the version the client names (If-Match → 412, body version → 409, none → 428)."""

import datetime as dt
from decimal import Decimal

import pytest

from pipeline.models import Opportunity
from tests.factories import LostReasonFactory, OpportunityFactory, stage

pytestmark = pytest.mark.django_db


def test_api_deal_read_has_etag_money_as_string_and_iso_times(api_as, rep, opportunity):
    response = api_as(rep).get(f"/api/v1/opportunities/{opportunity.pk}/")
    assert response.status_code == 200
    assert response["ETag"] == '"1"'
    body = response.json()
    assert body["amount"] == "10000.00"
    assert body["weighted_amount"] == "1000.00"
    assert body["stage_name"] == "Qualification"
    assert body["created_at"].endswith(("Z", "+00:00"))


def test_api_deal_of_another_team_is_404_never_403(api_as, outsider, opportunity):
    client = api_as(outsider)
    assert client.get(f"/api/v1/opportunities/{opportunity.pk}/").status_code == 404
    response = client.post(
        f"/api/v1/opportunities/{opportunity.pk}/move/", {"stage": 1}, HTTP_IF_MATCH='"1"'
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_api_list_shows_only_visible_deals(api_as, rep, outsider, pipeline, opportunity):
    OpportunityFactory(owner=outsider, pipeline=pipeline, name="West deal")
    names = [d["name"] for d in api_as(rep).get("/api/v1/opportunities/").json()["results"]]
    assert names == ["Acme — 40 seats"]


def test_api_move_with_if_match_then_stale_if_match_is_412_with_current(
    api_as, rep, pipeline, opportunity
):
    client = api_as(rep)
    discovery = stage(pipeline, "Discovery")
    url = f"/api/v1/opportunities/{opportunity.pk}/move/"
    ok = client.post(url, {"stage": discovery.pk}, HTTP_IF_MATCH='"1"')
    assert ok.status_code == 200, ok.json()
    assert ok["ETag"] == '"2"'
    assert ok.json()["stage"] == discovery.pk
    stale = client.post(url, {"stage": stage(pipeline, "Qualification").pk}, HTTP_IF_MATCH='"1"')
    assert stale.status_code == 412
    assert stale.json()["error"]["current"]["version"] == 2
    assert stale["ETag"] == '"2"'
    assert Opportunity.objects.get(pk=opportunity.pk).stage_id == discovery.pk


def test_api_two_clients_second_body_version_is_409(api_as, rep, manager, opportunity):
    first, second = api_as(rep), api_as(manager)
    url = f"/api/v1/opportunities/{opportunity.pk}/"
    assert first.patch(url, {"amount": "12000.00", "version": 1}).status_code == 200
    response = second.patch(url, {"amount": "99.00", "version": 1})
    assert response.status_code == 409
    assert response.json()["error"]["current"]["amount"] == "12000.00"
    assert Opportunity.objects.get(pk=opportunity.pk).amount == Decimal("12000.00")


def test_api_write_without_version_is_428_and_changes_nothing(api_as, rep, opportunity):
    response = api_as(rep).patch(f"/api/v1/opportunities/{opportunity.pk}/", {"amount": "1.00"})
    assert response.status_code == 428
    assert response.json()["error"]["code"] == "version_required"
    assert Opportunity.objects.get(pk=opportunity.pk).amount == Decimal("10000.00")


def test_api_read_only_token_cannot_write(api_as, rep, opportunity):
    response = api_as(rep, scope="read").patch(
        f"/api/v1/opportunities/{opportunity.pk}/", {"amount": "1.00", "version": 1}
    )
    assert response.status_code == 403
    assert Opportunity.objects.get(pk=opportunity.pk).amount == Decimal("10000.00")


def test_api_exit_criteria_hold_through_the_api(api_as, rep, pipeline, opportunity):
    client = api_as(rep)
    negotiation = stage(pipeline, "Negotiation")  # needs a decision-maker contact
    response = client.post(
        f"/api/v1/opportunities/{opportunity.pk}/move/",
        {"stage": negotiation.pk},
        HTTP_IF_MATCH='"1"',
    )
    assert response.status_code == 400
    assert "decision-maker" in response.json()["error"]["message"]
    assert Opportunity.objects.get(pk=opportunity.pk).version == 1


def test_api_close_lost_needs_a_lost_reason(api_as, rep, opportunity):
    client = api_as(rep)
    url = f"/api/v1/opportunities/{opportunity.pk}/close-lost/"
    missing = client.post(url, {"version": 1})
    assert missing.status_code == 400
    assert "lost_reason" in missing.json()["error"]["fields"]
    reason = LostReasonFactory(name="Price")
    ok = client.post(url, {"version": 1, "lost_reason": reason.pk})
    assert ok.status_code == 200
    assert ok.json()["stage_kind"] == "lost"


def test_api_stage_of_another_pipeline_is_refused(api_as, rep, opportunity):
    from tests.factories import PipelineFactory

    other = PipelineFactory(name="Renewals")
    response = api_as(rep).post(
        f"/api/v1/opportunities/{opportunity.pk}/move/",
        {"stage": stage(other, "Discovery").pk},
        HTTP_IF_MATCH='"1"',
    )
    assert response.status_code == 400
    assert "another pipeline" in response.json()["error"]["message"]


def test_api_create_deal_and_close_won(api_as, rep, pipeline):
    from tests.factories import CompanyFactory

    client = api_as(rep)
    company = CompanyFactory(owner=rep)
    response = client.post(
        "/api/v1/opportunities/",
        {
            "name": "API deal",
            "company": company.pk,
            "pipeline": pipeline.pk,
            "amount": "5000.50",
            "expected_close_date": str(dt.date.today() + dt.timedelta(days=20)),
        },
    )
    assert response.status_code == 201, response.json()
    deal = response.json()
    won = client.post(
        f"/api/v1/opportunities/{deal['id']}/close-won/", HTTP_IF_MATCH=response["ETag"]
    )
    assert won.status_code == 200
    assert won.json()["stage_kind"] == "won"
    assert won.json()["closed_on"] == str(dt.date.today())


@pytest.mark.parametrize(
    "body,field",
    [
        ({"amount": "-1"}, "amount"),
        ({"amount": "1e20"}, "amount"),
        ({"amount": 12.5}, None),
        ({"probability": 101}, "probability"),
        ({"expected_close_date": "tomorrow"}, "expected_close_date"),
        ({"nonsense": 1}, "nonsense"),
        ({"company": 999999999}, "company"),
    ],
)
def test_api_bad_input_is_400_naming_the_field(api_as, rep, opportunity, body, field):
    response = api_as(rep).patch(f"/api/v1/opportunities/{opportunity.pk}/", {**body, "version": 1})
    if field is None:  # a JSON number for money is read as a decimal, never a float
        assert response.status_code in (200, 400)
        return
    assert response.status_code == 400, response.json()
    assert field in response.json()["error"]["fields"]
    assert Opportunity.objects.get(pk=opportunity.pk).version == 1


def test_api_company_of_another_team_is_answered_like_a_missing_one(
    api_as, rep, outsider, opportunity
):
    from tests.factories import CompanyFactory

    hidden = CompanyFactory(owner=outsider)
    client = api_as(rep)
    url = f"/api/v1/opportunities/{opportunity.pk}/"
    seen = client.patch(url, {"company": hidden.pk, "version": 1}).json()["error"]["fields"]
    gone = client.patch(url, {"company": 2**40, "version": 1}).json()["error"]["fields"]
    assert seen["company"] == [m.replace(str(2**40), str(hidden.pk)) for m in gone["company"]]


def test_api_malformed_json_and_wrong_content_type(api_as, rep, opportunity):
    client = api_as(rep)
    url = f"/api/v1/opportunities/{opportunity.pk}/"
    bad = client.generic("PATCH", url, "{not json", content_type="application/json")
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "parse_error"
    form = client.generic(
        "PATCH", url, "amount=1", content_type="application/x-www-form-urlencoded"
    )
    assert form.status_code == 415
    big = client.generic(
        "PATCH",
        url,
        '{"name": "' + "x" * (10 * 1024 * 1024) + '"}',
        content_type="application/json",
    )
    assert big.status_code in (400, 413)
    assert Opportunity.objects.get(pk=opportunity.pk).version == 1
