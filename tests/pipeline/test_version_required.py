"""Every stage change a user makes names the version of the deal it was made against, so two
people moving the same deal never overwrite each other silently."""

import inspect

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from pipeline import services
from pipeline.models import Opportunity, StageTransition
from tests.factories import current_version, stage


def _state(deal):
    fresh = Opportunity.objects.get(pk=deal.pk)
    return (
        fresh.stage_id,
        fresh.version,
        fresh.closed_on,
        StageTransition.objects.filter(opportunity=deal).count(),
    )


@pytest.mark.parametrize("name", ["move_opportunity", "close_won", "close_lost"])
def test_stage_services_require_a_keyword_only_version(name):
    parameter = inspect.signature(getattr(services, name)).parameters["version"]
    assert parameter.kind is inspect.Parameter.KEYWORD_ONLY
    assert parameter.default is inspect.Parameter.empty


def test_move_opportunity_refuses_a_none_version(rep, pipeline, opportunity):
    before = _state(opportunity)
    with pytest.raises(ValidationError) as exc:
        services.move_opportunity(
            opportunity=opportunity, to_stage=stage(pipeline, "Discovery"), by=rep, version=None
        )
    assert exc.value.messages == ["The deal's version is missing; reload the page."]
    assert _state(opportunity) == before


def test_close_services_refuse_a_none_version(rep, opportunity, lost_reason):
    before = _state(opportunity)
    with pytest.raises(ValidationError):
        services.close_won(opportunity=opportunity, by=rep, version=None)
    with pytest.raises(ValidationError):
        services.close_lost(opportunity=opportunity, by=rep, version=None, lost_reason=lost_reason)
    assert _state(opportunity) == before


def test_current_version_helper_reads_the_database(rep, pipeline, opportunity):
    services.move_opportunity(
        opportunity=opportunity,
        to_stage=stage(pipeline, "Discovery"),
        by=rep,
        version=current_version(opportunity),
    )
    assert current_version(opportunity) == 2 == opportunity.version + 1


@pytest.mark.parametrize("as_json", [False, True], ids=["form", "board"])
def test_versionless_move_post_is_a_400_and_changes_nothing(
    client, rep, pipeline, opportunity, as_json
):
    client.force_login(rep)
    before = _state(opportunity)
    headers = {"HTTP_ACCEPT": "application/json"} if as_json else {}
    response = client.post(
        reverse("pipeline:opportunity_move", args=[opportunity.pk]),
        {"stage": stage(pipeline, "Discovery").pk},
        **headers,
    )
    assert response.status_code == 400
    text = response.json()["message"] if as_json else response.content.decode()
    assert "version" in text and "reload the page" in text.lower()
    assert _state(opportunity) == before


@pytest.mark.parametrize("name", ["opportunity_close_won", "opportunity_next_step"])
def test_versionless_close_or_next_step_is_a_400(client, rep, opportunity, name):
    client.force_login(rep)
    before = _state(opportunity)
    response = client.post(reverse(f"pipeline:{name}", args=[opportunity.pk]), {"next_step": "x"})
    assert response.status_code == 400
    assert "reload the page" in response.content.decode().lower()
    assert _state(opportunity) == before
    assert Opportunity.objects.get(pk=opportunity.pk).next_step == ""


def test_versionless_close_lost_is_a_400(client, rep, opportunity, lost_reason):
    client.force_login(rep)
    before = _state(opportunity)
    response = client.post(
        reverse("pipeline:opportunity_close_lost", args=[opportunity.pk]),
        {"lost_reason": lost_reason.pk},
    )
    assert response.status_code == 400
    assert _state(opportunity) == before


def test_versionless_reopen_is_refused(client, rep, manager, pipeline, opportunity):
    won = services.close_won(opportunity=opportunity, by=rep, version=opportunity.version)
    client.force_login(manager)
    before = _state(won)
    response = client.post(
        reverse("pipeline:opportunity_move", args=[won.pk]),
        {"stage": stage(pipeline, "Discovery").pk},
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 400
    assert "reload the page" in response.json()["message"]
    assert _state(won) == before


def test_two_movers_with_the_same_version_one_wins_one_is_told(
    client, rep, manager, pipeline, opportunity
):
    url = reverse("pipeline:opportunity_move", args=[opportunity.pk])
    seen = opportunity.version
    client.force_login(rep)
    first = client.post(
        url,
        {"stage": stage(pipeline, "Discovery").pk, "version": seen},
        HTTP_ACCEPT="application/json",
    )
    assert first.status_code == 200 and first.json()["ok"] is True
    client.force_login(manager)
    second = client.post(
        url,
        {"stage": stage(pipeline, "Proposal").pk, "version": seen},
        HTTP_ACCEPT="application/json",
    )
    assert second.status_code == 409
    assert "Someone else changed" in second.json()["message"]
    fresh = Opportunity.objects.select_related("stage").get(pk=opportunity.pk)
    assert fresh.stage.name == "Discovery" and fresh.version == seen + 1
    # The plain form says the same and shows the deal as it is now.
    page = client.post(url, {"stage": stage(pipeline, "Proposal").pk, "version": seen})
    assert page.status_code == 409
    assert "Someone else changed" in page.content.decode()
