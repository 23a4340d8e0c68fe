"""Small derived properties of the domain models and Stage's own validation."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from pipeline import services
from pipeline.models import Opportunity, Stage
from tests.factories import (
    ContactFactory,
    LeadFactory,
    OpportunityFactory,
    PipelineFactory,
    current_version,
    stage,
)


def _fresh(deal):
    return Opportunity.objects.select_related("stage").get(pk=deal.pk)


def test_opportunity_effective_probability_and_weighted_amount(rep, pipeline, lost_reason):
    plain = _fresh(OpportunityFactory(owner=rep, pipeline=pipeline, amount="333.33"))
    assert plain.effective_probability == 10
    assert plain.weighted_amount == Decimal("33.33")
    override = _fresh(
        OpportunityFactory(owner=rep, pipeline=pipeline, amount="1000", probability=0)
    )
    assert override.effective_probability == 0 and override.weighted_amount == Decimal("0.00")
    won = _fresh(services.close_won(opportunity=OpportunityFactory(owner=rep), version=1, by=rep))
    assert won.effective_probability == 100 and won.weighted_amount == won.amount
    lost = _fresh(
        services.close_lost(
            opportunity=OpportunityFactory(owner=rep), version=1, by=rep, lost_reason=lost_reason
        )
    )
    assert lost.effective_probability == 0 and lost.weighted_amount == Decimal("0.00")


def test_opportunity_weighted_amount_is_exact_decimal(rep, pipeline):
    deal = _fresh(OpportunityFactory(owner=rep, pipeline=pipeline, amount="0.05", probability=50))
    # 0.05 × 50 % = 0.025, rounded half-even to cents, never a float.
    assert deal.weighted_amount == Decimal("0.02")
    assert isinstance(deal.weighted_amount, Decimal)


def test_opportunity_effective_forecast_category(rep, pipeline, lost_reason):
    deal = _fresh(OpportunityFactory(owner=rep, pipeline=pipeline))
    assert deal.effective_forecast_category == "pipeline"
    deal = services.update_opportunity(
        opportunity=deal, by=rep, version=1, forecast_category="best_case"
    )
    assert _fresh(deal).effective_forecast_category == "best_case"
    lost = services.close_lost(
        opportunity=deal, version=current_version(deal), by=rep, lost_reason=lost_reason
    )
    assert _fresh(lost).effective_forecast_category == "omitted"


def test_opportunity_days_in_stage_and_rotting(rep, pipeline, opportunity):
    deal = _fresh(opportunity)
    entered = deal.stage_entered_at
    assert deal.days_in_stage(entered + dt.timedelta(days=30)) == 30
    assert deal.days_in_stage(entered - dt.timedelta(days=1)) == 0
    # Qualification rots after 30 days: day 30 is fine, day 31 is rotting.
    assert not deal.is_rotting(entered + dt.timedelta(days=30))
    assert deal.is_rotting(entered + dt.timedelta(days=31))
    won = _fresh(services.close_won(opportunity=deal, version=current_version(deal), by=rep))
    assert not won.is_rotting(entered + dt.timedelta(days=365))


def test_opportunity_is_overdue_only_when_open(rep, opportunity):
    deal = _fresh(opportunity)
    after = deal.expected_close_date + dt.timedelta(days=1)
    assert not deal.is_overdue(deal.expected_close_date)
    assert deal.is_overdue(after)
    won = _fresh(services.close_won(opportunity=deal, version=current_version(deal), by=rep))
    assert won.is_closed and not won.is_overdue(after)


def test_history_tracks_only_the_forecast_fields(opportunity):
    tracked = {
        f.name for f in Opportunity.history.model._meta.fields if not f.name.startswith("history")
    }
    assert tracked == {
        "id",
        "amount",
        "currency",
        "expected_close_date",
        "owner",
        "probability",
        "forecast_category",
    }
    assert set(Opportunity.TRACKED_FIELDS) == tracked - {"id"}


def test_pipeline_stage_helpers(pipeline):
    assert pipeline.first_open_stage().name == "Qualification"
    assert pipeline.won_stage().name == "Won"
    services_lost = Stage.objects.create(
        pipeline=pipeline, name="No decision", kind="lost", probability=0, position=9
    )
    assert list(pipeline.lost_stages()) == [stage(pipeline, "Lost"), services_lost]


@pytest.mark.parametrize(
    ("attrs", "errors"),
    [
        ({"kind": "won", "probability": 90, "forecast_category": "closed"}, {"probability"}),
        (
            {"kind": "lost", "probability": 0, "forecast_category": "pipeline"},
            {"forecast_category"},
        ),
        ({"kind": "open", "probability": 20, "forecast_category": "closed"}, {"forecast_category"}),
        ({"kind": "open", "probability": 20, "exit_criteria": ["budget"]}, {"exit_criteria"}),
        ({"kind": "open", "probability": 101}, {"probability"}),
    ],
)
def test_stage_clean_refuses_inconsistent_settings(db, attrs, errors):
    empty = PipelineFactory(name="Empty", stages=False)
    candidate = Stage(pipeline=empty, name="Check", **attrs)
    with pytest.raises(ValidationError) as exc:
        candidate.full_clean()
    assert set(exc.value.message_dict) == errors


def test_stage_clean_second_won_stage_is_refused(pipeline):
    with pytest.raises(ValidationError) as exc:
        Stage(
            pipeline=pipeline,
            name="Won twice",
            kind="won",
            probability=100,
            forecast_category="closed",
        ).full_clean()
    assert list(exc.value.message_dict) == ["__all__"]


def test_stage_clean_accepts_consistent_settings(pipeline):
    Stage(
        pipeline=pipeline,
        name="Verbal",
        kind="open",
        probability=90,
        forecast_category="commit",
        exit_criteria=["amount", "next_step"],
    ).full_clean()


def test_model_strings_and_names(rep, pipeline, opportunity):
    contact = ContactFactory(owner=rep, first_name="Dana", last_name="")
    assert contact.full_name == "Dana" and str(contact) == "Dana"
    lead = LeadFactory(owner=rep, first_name="Ada", last_name="Lovelace", company_name="AE")
    assert str(lead) == "Ada Lovelace (AE)" and lead.is_open
    assert str(LeadFactory(owner=rep, first_name="Bo", last_name="", company_name="")) == "Bo"
    transition = opportunity.transitions.get()
    assert str(transition) == f"{opportunity.pk}: created → Qualification"
    assert str(opportunity) == "Acme — 40 seats"
    assert str(stage(pipeline, "Won")) == "Won"


def test_stage_entered_at_defaults_to_now(rep, pipeline):
    before = timezone.now()
    deal = OpportunityFactory(owner=rep, pipeline=PipelineFactory(name="Fresh"))
    assert before <= _fresh(deal).stage_entered_at <= timezone.now()
