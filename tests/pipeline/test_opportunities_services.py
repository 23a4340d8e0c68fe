"""pipeline.services for deals: create, update, move, close; stage transitions, field history,
exit criteria, optimistic locking and who may reopen a closed deal."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from pipeline import services
from pipeline.models import Opportunity, Stage, StageTransition
from tests.factories import (
    CompanyFactory,
    ContactFactory,
    LostReasonFactory,
    OpportunityFactory,
    PipelineFactory,
    UserFactory,
    current_version,
    stage,
    stored_version,
)


def _fresh(deal):
    return Opportunity.objects.select_related("stage").get(pk=deal.pk)


def _snapshot(deal):
    """Everything a refused action must leave untouched."""
    row = Opportunity.objects.filter(pk=deal.pk).values().get()
    row.pop("updated_at")
    return (
        row,
        StageTransition.objects.filter(opportunity=deal).count(),
        Opportunity.history.filter(id=deal.pk).count(),
    )


def _deal_ready_for_negotiation(rep, pipeline, **kwargs):
    contact = ContactFactory(owner=rep, is_decision_maker=True)
    return OpportunityFactory(
        owner=rep, pipeline=pipeline, company=contact.company, contact=contact, **kwargs
    )


# --- create_opportunity ----------------------------------------------------------------------


def test_create_opportunity_starts_in_first_open_stage_with_creation_transition(rep, pipeline):
    with time_machine.travel(dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC), tick=False):
        deal = services.create_opportunity(
            by=rep,
            name="  Acme renewal  ",
            company=CompanyFactory(owner=rep),
            pipeline=pipeline,
            amount="12500.5",
            expected_close_date="2026-05-31",
        )
    deal = _fresh(deal)
    assert deal.name == "Acme renewal"
    assert deal.stage == stage(pipeline, "Qualification")
    assert deal.amount == Decimal("12500.50")
    assert deal.expected_close_date == dt.date(2026, 5, 31)
    assert deal.owner == rep and deal.version == 1
    (transition,) = deal.transitions.all()
    assert transition.from_stage is None
    assert transition.to_stage == deal.stage
    assert transition.changed_by == rep
    assert transition.changed_at == dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
    assert transition.changed_at == deal.stage_entered_at
    assert transition.amount == Decimal("12500.50") and transition.probability == 10


def test_create_opportunity_in_given_stage_records_override_probability(rep, pipeline):
    deal = OpportunityFactory(
        owner=rep, pipeline=pipeline, stage=stage(pipeline, "Discovery"), probability=40
    )
    transition = deal.transitions.get()
    assert transition.to_stage.name == "Discovery" and transition.probability == 40


def test_create_opportunity_writes_creation_history_row(rep, pipeline):
    deal = OpportunityFactory(owner=rep, pipeline=pipeline, amount=Decimal("900"))
    (row,) = Opportunity.history.filter(id=deal.pk)
    assert row.history_type == "+"
    assert row.amount == Decimal("900.00") and row.history_user == rep


def test_create_opportunity_refuses_a_closed_stage(rep, pipeline):
    with pytest.raises(ValidationError) as exc:
        OpportunityFactory(owner=rep, pipeline=pipeline, stage=stage(pipeline, "Won"))
    assert exc.value.message_dict == {"stage": ["A new deal starts in an open stage."]}
    assert not Opportunity.objects.exists()


def test_create_opportunity_refuses_a_stage_of_another_pipeline(rep, pipeline):
    other = PipelineFactory(name="Renewals")
    with pytest.raises(ValidationError) as exc:
        OpportunityFactory(owner=rep, pipeline=pipeline, stage=stage(other, "Discovery"))
    assert exc.value.message_dict["stage"] == ["Discovery is not a stage of New business."]
    assert not Opportunity.objects.exists()


def test_create_opportunity_refuses_an_archived_pipeline(rep, pipeline):
    pipeline.is_active = False
    pipeline.save()
    with pytest.raises(ValidationError) as exc:
        OpportunityFactory(owner=rep, pipeline=pipeline)
    assert "archived" in exc.value.message_dict["pipeline"][0]
    assert not StageTransition.objects.exists()


def test_create_opportunity_collects_every_field_error_at_once(rep, pipeline):
    with pytest.raises(ValidationError) as exc:
        services.create_opportunity(
            by=rep,
            name="  ",
            company=None,
            pipeline=pipeline,
            amount="-5",
            probability=101,
            expected_close_date="31/05/2026",
            forecast_category="closed",
        )
    errors = exc.value.message_dict
    assert errors["name"] == ["Give the deal a name."]
    assert "company" not in errors  # a deal may have no company
    assert errors["amount"] == ["The amount cannot be negative."]
    assert errors["probability"] == ["Probability must be between 0 and 100."]
    assert errors["expected_close_date"] == ["Enter a date as YYYY-MM-DD."]
    assert "close the deal" in errors["forecast_category"][0]
    assert not Opportunity.objects.exists()


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        (1.5, "Amounts are exact decimals, not floating-point numbers."),
        ("12,500", "Enter an amount such as 12500.00."),
        ("NaN", "Enter an amount such as 12500.00."),
        ("Infinity", "Enter an amount such as 12500.00."),
        (None, "Enter an amount such as 12500.00."),
        ("10.005", "Use at most two decimal places."),
        ("-0.01", "The amount cannot be negative."),
        ("1000000000000", "The amount is too large (at most 999,999,999,999.99)."),
    ],
)
def test_create_opportunity_refuses_bad_amounts(rep, pipeline, amount, message):
    with pytest.raises(ValidationError) as exc:
        OpportunityFactory(owner=rep, pipeline=pipeline, amount=amount)
    assert exc.value.message_dict == {"amount": [message]}
    assert not Opportunity.objects.exists()


def test_create_opportunity_accepts_the_largest_amount_and_zero(rep, pipeline):
    big = OpportunityFactory(owner=rep, pipeline=pipeline, amount="999999999999.99")
    zero = OpportunityFactory(owner=rep, pipeline=pipeline, amount=0)
    assert _fresh(big).amount == Decimal("999999999999.99")
    assert _fresh(zero).amount == Decimal("0.00")


@pytest.mark.parametrize("probability", [50.5, "fifty", -1, 101, "12.5"])
def test_create_opportunity_refuses_bad_probabilities(rep, pipeline, probability):
    with pytest.raises(ValidationError) as exc:
        OpportunityFactory(owner=rep, pipeline=pipeline, probability=probability)
    assert list(exc.value.message_dict) == ["probability"]
    assert not Opportunity.objects.exists()


def test_create_opportunity_refuses_entry_into_a_stage_whose_criteria_are_unmet(rep, pipeline):
    with pytest.raises(ValidationError) as exc:
        OpportunityFactory(
            owner=rep, pipeline=pipeline, stage=stage(pipeline, "Proposal"), amount=0, name="Hooli"
        )
    assert exc.value.messages == [
        "“Hooli” cannot enter Proposal: it needs an amount above zero. "
        "Fill these in on the deal, then move it again."
    ]
    assert not Opportunity.objects.exists()


def test_create_opportunity_owner_outside_scope_is_refused(rep, rep2, outsider, pipeline):
    company = CompanyFactory(owner=rep)
    with pytest.raises(ValidationError) as exc:
        OpportunityFactory(owner=rep2, by=rep, pipeline=pipeline, company=company)
    assert exc.value.message_dict == {
        "owner": ["You may only assign records to yourself or your team."]
    }
    # An outsider may not file a deal under a company they cannot see either.
    with pytest.raises(ValidationError) as exc:
        OpportunityFactory(owner=outsider, pipeline=pipeline, company=company)
    assert exc.value.message_dict == {"company": ["Choose a company you can see."]}
    assert not Opportunity.objects.exists()


def test_create_opportunity_contact_must_be_visible(rep, outsider, pipeline):
    hidden = ContactFactory(owner=outsider)
    with pytest.raises(ValidationError) as exc:
        OpportunityFactory(owner=rep, pipeline=pipeline, contact=hidden)
    assert exc.value.message_dict == {"contact": ["Choose a contact you can see."]}


def test_create_opportunity_by_manager_for_team_rep(manager, rep, pipeline):
    deal = OpportunityFactory(owner=rep, by=manager, pipeline=pipeline)
    assert deal.owner == rep
    assert deal.transitions.get().changed_by == manager


def test_create_opportunity_refuses_deactivated_owner(manager, rep, pipeline):
    rep.is_active = False
    rep.save()
    with pytest.raises(ValidationError) as exc:
        OpportunityFactory(owner=rep, by=manager, pipeline=pipeline, company=None)
    assert "deactivated" in exc.value.message_dict["owner"][0]


# --- update_opportunity ----------------------------------------------------------------------


def test_update_opportunity_changes_fields_bumps_version_and_records_history(rep, opportunity):
    with time_machine.travel(dt.datetime(2026, 4, 1, 12, tzinfo=dt.UTC), tick=False):
        deal = services.update_opportunity(
            opportunity=opportunity,
            by=rep,
            version=1,
            amount="45000",
            expected_close_date=dt.date(2026, 6, 30),
            probability="35",
            forecast_category="commit",
        )
    deal = _fresh(deal)
    assert deal.version == 2
    assert (deal.amount, deal.probability, deal.forecast_category) == (
        Decimal("45000.00"),
        35,
        "commit",
    )
    new, old = Opportunity.history.filter(id=deal.pk).order_by("-history_id")[:2]
    assert new.history_user == rep
    assert new.history_date == dt.datetime(2026, 4, 1, 12, tzinfo=dt.UTC)
    delta = new.diff_against(old)
    changes = {c.field: (c.old, c.new) for c in delta.changes}
    assert changes["amount"] == (Decimal("10000.00"), Decimal("45000.00"))
    assert changes["probability"] == (None, 35)
    assert changes["forecast_category"] == ("", "commit")
    assert changes["expected_close_date"][1] == dt.date(2026, 6, 30)
    assert set(changes) == {"amount", "probability", "forecast_category", "expected_close_date"}


def test_update_opportunity_untracked_change_writes_no_history(rep, opportunity):
    deal = services.update_opportunity(
        opportunity=opportunity, by=rep, version=1, name="Acme — 50 seats", next_step="Call CFO"
    )
    assert deal.version == 2
    assert _fresh(deal).next_step == "Call CFO"
    assert Opportunity.history.filter(id=deal.pk).count() == 1


def test_update_opportunity_owner_change_is_recorded(manager, rep, rep2, opportunity):
    services.update_opportunity(opportunity=opportunity, by=manager, version=1, owner=rep2)
    latest = Opportunity.history.filter(id=opportunity.pk).latest("history_id")
    assert latest.owner_id == rep2.pk and latest.history_user == manager
    assert latest.prev_record.owner_id == rep.pk


def test_update_opportunity_without_changes_keeps_version(rep, opportunity):
    deal = services.update_opportunity(
        opportunity=opportunity,
        by=rep,
        version=1,
        name=opportunity.name,
        amount="10000.00",
        owner=rep,
        expected_close_date=opportunity.expected_close_date.isoformat(),
    )
    assert deal.version == 1 and _fresh(deal).version == 1
    assert Opportunity.history.filter(id=deal.pk).count() == 1


def test_update_opportunity_stale_version_is_refused_with_message(rep, manager, opportunity):
    services.update_opportunity(opportunity=opportunity, by=manager, version=1, amount=20000)
    before = _snapshot(opportunity)
    with pytest.raises(ValidationError) as exc:
        services.update_opportunity(opportunity=opportunity, by=rep, version=1, amount=30000)
    assert exc.value.code == "stale"
    assert exc.value.messages == [
        "Someone else changed “Acme — 40 seats” since you opened it (your copy is version 1, "
        "the deal is now at version 2). Reload it and make your change again."
    ]
    assert _snapshot(opportunity) == before


@pytest.mark.parametrize("version", ["x", None, ""])
def test_update_opportunity_missing_or_garbage_version_is_refused(rep, opportunity, version):
    before = _snapshot(opportunity)
    with pytest.raises(ValidationError) as exc:
        services.update_opportunity(opportunity=opportunity, by=rep, version=version, amount=1)
    assert exc.value.messages == ["The deal's version is missing; reload the page."]
    assert _snapshot(opportunity) == before


def test_update_opportunity_refuses_stage_and_unknown_fields(rep, pipeline, opportunity):
    before = _snapshot(opportunity)
    with pytest.raises(ValidationError) as exc:
        services.update_opportunity(
            opportunity=opportunity, by=rep, version=1, stage=stage(pipeline, "Won"), version2=1
        )
    assert exc.value.messages == [
        "These fields cannot be changed here: stage, version2. Use the stage controls to move "
        "a deal."
    ]
    assert _snapshot(opportunity) == before


def test_update_opportunity_one_bad_field_writes_nothing(rep, opportunity):
    before = _snapshot(opportunity)
    with pytest.raises(ValidationError) as exc:
        services.update_opportunity(
            opportunity=opportunity, by=rep, version=1, name="Renamed", amount="-1"
        )
    assert exc.value.message_dict == {"amount": ["The amount cannot be negative."]}
    assert _snapshot(opportunity) == before


def test_update_opportunity_clearing_close_date_is_refused(rep, opportunity):
    with pytest.raises(ValidationError) as exc:
        services.update_opportunity(
            opportunity=opportunity, by=rep, version=1, expected_close_date=""
        )
    assert exc.value.message_dict == {"expected_close_date": ["Enter the expected close date."]}


def test_update_opportunity_closed_deal_refuses_amount_but_allows_name(rep, manager, opportunity):
    won = services.close_won(opportunity=opportunity, version=current_version(opportunity), by=rep)
    before = _snapshot(won)
    with pytest.raises(ValidationError) as exc:
        services.update_opportunity(opportunity=won, by=manager, version=won.version, amount=1)
    assert "This deal is closed; its manager or an admin must reopen it" in exc.value.messages[0]
    assert _snapshot(won) == before
    renamed = services.update_opportunity(
        opportunity=won, by=rep, version=won.version, name="Acme — signed", next_step="Kick-off"
    )
    assert renamed.version == won.version + 1
    assert _fresh(won).name == "Acme — signed"


def test_update_opportunity_closed_deal_refuses_probability_and_forecast(rep, lost_reason):
    deal = OpportunityFactory(owner=rep)
    lost = services.close_lost(
        opportunity=deal, version=current_version(deal), by=rep, lost_reason=lost_reason
    )
    for change in ({"probability": 20}, {"forecast_category": "commit"}, {"owner": rep}):
        if change.get("owner") == rep:
            # Re-posting the same owner is not a change and is accepted.
            services.update_opportunity(opportunity=lost, by=rep, version=lost.version, **change)
            continue
        with pytest.raises(ValidationError, match="This deal is closed"):
            services.update_opportunity(opportunity=lost, by=rep, version=lost.version, **change)
    assert _fresh(lost).probability is None


def test_update_opportunity_rep_cannot_hand_deal_to_colleague(rep, rep2, opportunity):
    with pytest.raises(ValidationError) as exc:
        services.update_opportunity(opportunity=opportunity, by=rep, version=1, owner=rep2)
    assert exc.value.message_dict == {
        "owner": ["You may only assign records to yourself or your team."]
    }
    assert _fresh(opportunity).owner == rep


def test_update_opportunity_unchanged_deactivated_owner_does_not_block_edits(
    manager, rep, opportunity
):
    """A deal of a rep who left stays editable (e.g. its amount) until it is reassigned."""
    rep.is_active = False
    rep.save()
    deal = services.update_opportunity(
        opportunity=opportunity, by=manager, version=1, owner=rep, amount="12000"
    )
    assert _fresh(deal).amount == Decimal("12000.00")
    with pytest.raises(ValidationError, match="deactivated"):
        other = OpportunityFactory(owner=manager, pipeline=opportunity.pipeline)
        services.update_opportunity(opportunity=other, by=manager, version=1, owner=rep)


def test_update_opportunity_outsider_gets_permission_denied(outsider, opportunity):
    before = _snapshot(opportunity)
    with pytest.raises(PermissionDenied, match="You may not change this deal."):
        services.update_opportunity(opportunity=opportunity, by=outsider, version=1, amount=1)
    assert _snapshot(opportunity) == before


def test_update_opportunity_company_and_contact_must_be_visible(rep, outsider, opportunity):
    hidden_company = CompanyFactory(owner=outsider)
    hidden_contact = ContactFactory(owner=outsider)
    with pytest.raises(ValidationError) as exc:
        services.update_opportunity(
            opportunity=opportunity,
            by=rep,
            version=1,
            company=hidden_company,
            contact=hidden_contact,
        )
    assert exc.value.message_dict == {
        "company": ["Choose a company you can see."],
        "contact": ["Choose a contact you can see."],
    }


# --- move_opportunity ------------------------------------------------------------------------


def test_move_opportunity_records_transition_with_amount_and_probability(
    rep, pipeline, opportunity
):
    discovery = stage(pipeline, "Discovery")
    with time_machine.travel(dt.datetime(2026, 2, 10, 8, tzinfo=dt.UTC), tick=False):
        deal = services.move_opportunity(
            opportunity=opportunity, to_stage=discovery, by=rep, version=1
        )
    assert deal.stage == discovery and deal.version == 2
    assert deal.stage_entered_at == dt.datetime(2026, 2, 10, 8, tzinfo=dt.UTC)
    first, second = deal.transitions.order_by("id")
    assert (second.from_stage, second.to_stage) == (first.to_stage, discovery)
    assert (second.amount, second.probability, second.changed_by) == (
        Decimal("10000.00"),
        25,
        rep,
    )


def test_move_opportunity_to_same_stage_is_a_no_op(rep, pipeline, opportunity):
    before = _snapshot(opportunity)
    deal = services.move_opportunity(
        opportunity=opportunity, to_stage=stage(pipeline, "Qualification"), by=rep, version=1
    )
    assert deal.version == 1
    assert _snapshot(opportunity) == before


def test_move_opportunity_refuses_stage_of_another_pipeline(rep, opportunity):
    other = PipelineFactory(name="Renewals")
    before = _snapshot(opportunity)
    with pytest.raises(ValidationError) as exc:
        services.move_opportunity(
            opportunity=opportunity,
            version=current_version(opportunity),
            to_stage=stage(other, "Won"),
            by=rep,
        )
    assert exc.value.messages == [
        "Won belongs to another pipeline; a deal moves only within New business."
    ]
    assert _snapshot(opportunity) == before


def test_move_opportunity_stale_version_is_refused(rep, manager, pipeline, opportunity):
    services.update_opportunity(opportunity=opportunity, by=manager, version=1, amount=5)
    before = _snapshot(opportunity)
    with pytest.raises(ValidationError) as exc:
        services.move_opportunity(
            opportunity=opportunity, to_stage=stage(pipeline, "Discovery"), by=rep, version=1
        )
    assert exc.value.code == "stale"
    assert _snapshot(opportunity) == before


def test_move_opportunity_exit_criteria_name_everything_missing(rep, pipeline):
    deal = OpportunityFactory(owner=rep, pipeline=pipeline, name="Globex", amount=0)
    st = stage(pipeline, "Proposal")
    st.exit_criteria = ["amount", "contact", "decision_maker", "next_step"]
    st.save()
    before = _snapshot(deal)
    with pytest.raises(ValidationError) as exc:
        services.move_opportunity(
            opportunity=deal, version=current_version(deal), to_stage=st, by=rep
        )
    assert exc.value.messages == [
        "“Globex” cannot enter Proposal: it needs an amount above zero, a primary contact, "
        "a decision-maker as primary contact, a next step. Fill these in on the deal, then "
        "move it again."
    ]
    assert _snapshot(deal) == before


def test_move_opportunity_into_negotiation_needs_decision_maker(rep, pipeline):
    contact = ContactFactory(owner=rep, is_decision_maker=False)
    deal = OpportunityFactory(owner=rep, pipeline=pipeline, contact=contact, name="Initech")
    with pytest.raises(ValidationError, match="needs a decision-maker as primary contact"):
        services.move_opportunity(
            opportunity=deal,
            version=current_version(deal),
            to_stage=stage(pipeline, "Negotiation"),
            by=rep,
        )
    services.update_contact(
        contact=contact, version=stored_version(contact), by=rep, is_decision_maker=True
    )
    moved = services.move_opportunity(
        opportunity=deal,
        version=current_version(deal),
        to_stage=stage(pipeline, "Negotiation"),
        by=rep,
    )
    assert moved.stage.name == "Negotiation"


def test_move_opportunity_to_won_sets_closed_date_and_clears_overrides(rep, pipeline):
    deal = OpportunityFactory(owner=rep, pipeline=pipeline, probability=60)
    deal = services.update_opportunity(
        opportunity=deal, by=rep, version=1, forecast_category="commit"
    )
    with time_machine.travel(dt.datetime(2026, 7, 15, 16, tzinfo=dt.UTC), tick=False):
        won = services.close_won(opportunity=deal, by=rep, version=deal.version)
    won = _fresh(won)
    assert won.stage.is_won and won.closed_on == dt.date(2026, 7, 15)
    assert won.probability is None and won.forecast_category == ""
    assert won.effective_probability == 100 and won.effective_forecast_category == "closed"
    assert won.transitions.latest("id").probability == 100
    latest = Opportunity.history.filter(id=won.pk).latest("history_id")
    assert (latest.probability, latest.forecast_category) == (None, "")


def test_move_opportunity_to_won_with_explicit_closed_date(rep, opportunity):
    won = services.close_won(
        opportunity=opportunity,
        version=current_version(opportunity),
        by=rep,
        closed_on="2026-01-31",
    )
    assert _fresh(won).closed_on == dt.date(2026, 1, 31)


def test_move_opportunity_to_lost_requires_a_reason(rep, pipeline, opportunity):
    before = _snapshot(opportunity)
    with pytest.raises(ValidationError) as exc:
        services.move_opportunity(
            opportunity=opportunity,
            version=current_version(opportunity),
            to_stage=stage(pipeline, "Lost"),
            by=rep,
        )
    assert exc.value.message_dict == {"lost_reason": ["Choose why the deal was lost."]}
    assert _snapshot(opportunity) == before


def test_move_opportunity_to_lost_refuses_retired_reason(rep, opportunity):
    retired = LostReasonFactory(name="Old reason", is_active=False)
    with pytest.raises(ValidationError) as exc:
        services.close_lost(
            opportunity=opportunity,
            version=current_version(opportunity),
            by=rep,
            lost_reason=retired,
        )
    assert exc.value.message_dict == {"lost_reason": ["That lost reason is no longer in use."]}
    assert _fresh(opportunity).is_open


def test_move_opportunity_to_lost_stores_reason_note_and_closed_date(rep, lost_reason, opportunity):
    with time_machine.travel(dt.datetime(2026, 9, 1, 10, tzinfo=dt.UTC), tick=False):
        lost = services.close_lost(
            opportunity=opportunity,
            version=current_version(opportunity),
            by=rep,
            lost_reason=lost_reason,
            lost_note="  went cheap  ",
        )
    lost = _fresh(lost)
    assert lost.stage.is_lost and lost.lost_reason == lost_reason
    assert lost.lost_note == "went cheap" and lost.closed_on == dt.date(2026, 9, 1)
    assert lost.transitions.latest("id").probability == 0


def test_move_opportunity_reopen_by_owner_rep_is_refused(rep, pipeline, lost_reason):
    deal = services.close_lost(
        opportunity=OpportunityFactory(owner=rep, pipeline=pipeline),
        version=1,
        by=rep,
        lost_reason=lost_reason,
    )
    before = _snapshot(deal)
    with pytest.raises(PermissionDenied, match="Only the owner's manager or an admin"):
        services.move_opportunity(
            opportunity=deal,
            version=current_version(deal),
            to_stage=stage(pipeline, "Discovery"),
            by=rep,
        )
    # Nor may the rep turn a lost deal into a won one.
    with pytest.raises(PermissionDenied):
        services.close_won(opportunity=deal, version=current_version(deal), by=rep)
    assert _snapshot(deal) == before


def test_move_opportunity_reopen_by_manager_clears_close_facts(rep, manager, pipeline, lost_reason):
    deal = services.close_lost(
        opportunity=OpportunityFactory(owner=rep, pipeline=pipeline),
        version=1,
        by=rep,
        lost_reason=lost_reason,
        lost_note="price",
    )
    reopened = services.move_opportunity(
        opportunity=deal,
        version=current_version(deal),
        to_stage=stage(pipeline, "Discovery"),
        by=manager,
    )
    reopened = _fresh(reopened)
    assert reopened.is_open and reopened.closed_on is None
    assert reopened.lost_reason is None and reopened.lost_note == ""
    assert [t.to_stage.name for t in reopened.transitions.all()] == [
        "Qualification",
        "Lost",
        "Discovery",
    ]


def test_move_opportunity_reopen_by_admin_and_not_by_other_manager(
    rep, admin_user, outsider, pipeline
):
    deal = services.close_won(
        opportunity=OpportunityFactory(owner=rep, pipeline=pipeline), version=1, by=rep
    )
    manager_west = outsider.team.manager
    with pytest.raises(PermissionDenied):
        services.move_opportunity(
            opportunity=deal,
            version=current_version(deal),
            to_stage=stage(pipeline, "Proposal"),
            by=manager_west,
        )
    reopened = services.move_opportunity(
        opportunity=deal,
        version=current_version(deal),
        to_stage=stage(pipeline, "Proposal"),
        by=admin_user,
    )
    assert reopened.stage.name == "Proposal"


def test_move_opportunity_outsider_gets_permission_denied(outsider, pipeline, opportunity):
    before = _snapshot(opportunity)
    with pytest.raises(PermissionDenied, match="You may not change this deal."):
        services.move_opportunity(
            opportunity=opportunity,
            version=current_version(opportunity),
            to_stage=stage(pipeline, "Discovery"),
            by=outsider,
        )
    assert _snapshot(opportunity) == before


def test_move_opportunity_inactive_owner_cannot_move_own_deal(rep, pipeline, opportunity):
    rep.is_active = False
    rep.save()
    with pytest.raises(PermissionDenied):
        services.move_opportunity(
            opportunity=opportunity,
            version=current_version(opportunity),
            to_stage=stage(pipeline, "Discovery"),
            by=rep,
        )


def test_move_opportunity_between_open_stages_clears_probability_override(rep, pipeline):
    deal = OpportunityFactory(owner=rep, pipeline=pipeline, probability=5)
    moved = services.move_opportunity(
        opportunity=deal,
        version=current_version(deal),
        to_stage=stage(pipeline, "Discovery"),
        by=rep,
    )
    assert _fresh(moved).probability is None
    assert moved.transitions.latest("id").probability == 25
    latest = Opportunity.history.filter(id=deal.pk).latest("history_id")
    assert latest.probability is None and latest.prev_record.probability == 5


def test_move_opportunity_without_override_writes_no_history(rep, pipeline, opportunity):
    services.move_opportunity(
        opportunity=opportunity,
        version=current_version(opportunity),
        to_stage=stage(pipeline, "Discovery"),
        by=rep,
    )
    assert Opportunity.history.filter(id=opportunity.pk).count() == 1


def test_move_opportunity_full_journey_keeps_transitions_in_order(rep, manager, pipeline):
    deal = _deal_ready_for_negotiation(rep, pipeline)
    path = ["Discovery", "Proposal", "Negotiation", "Won"]
    for name in path:
        deal = services.move_opportunity(
            opportunity=deal, to_stage=stage(pipeline, name), by=rep, version=deal.version
        )
    deal = services.move_opportunity(
        opportunity=deal, to_stage=stage(pipeline, "Negotiation"), by=manager, version=deal.version
    )
    transitions = list(deal.transitions.order_by("changed_at", "id"))
    assert [t.to_stage.name for t in transitions] == ["Qualification", *path, "Negotiation"]
    for previous, current in zip(transitions, transitions[1:], strict=False):
        assert current.from_stage == previous.to_stage
    assert deal.version == 1 + len(path) + 1
    assert _fresh(deal).stage == transitions[-1].to_stage


def test_close_won_and_close_lost_need_won_and_lost_stages(rep, lost_reason):
    bare = PipelineFactory(name="Bare", stages=[("Only", "open", 10, "pipeline", None, [])])
    deal = OpportunityFactory(owner=rep, pipeline=bare)
    with pytest.raises(ValidationError, match="Bare has no won stage; ask an admin."):
        services.close_won(opportunity=deal, version=current_version(deal), by=rep)
    with pytest.raises(ValidationError, match="Bare has no lost stage; ask an admin."):
        services.close_lost(
            opportunity=deal, version=current_version(deal), by=rep, lost_reason=lost_reason
        )


def test_create_opportunity_without_open_stage_is_refused(rep):
    closed_only = PipelineFactory(
        name="Closed only",
        stages=[("Won", "won", 100, "closed", None, []), ("Lost", "lost", 0, "omitted", None, [])],
    )
    with pytest.raises(ValidationError) as exc:
        OpportunityFactory(owner=rep, pipeline=closed_only)
    assert exc.value.message_dict == {"pipeline": ["This pipeline has no open stage yet."]}


def test_stage_entered_at_tracks_last_transition(rep, pipeline, opportunity):
    start = timezone.now()
    with time_machine.travel(start + dt.timedelta(days=3), tick=False):
        deal = services.move_opportunity(
            opportunity=opportunity,
            version=current_version(opportunity),
            to_stage=stage(pipeline, "Discovery"),
            by=rep,
        )
    assert _fresh(deal).stage_entered_at == deal.transitions.latest("id").changed_at


def test_services_accept_another_users_copy_of_the_deal(rep, manager, pipeline, opportunity):
    """Services re-read the row under lock: a stale in-memory copy never overwrites."""
    stale_copy = Opportunity.objects.get(pk=opportunity.pk)
    services.update_opportunity(opportunity=opportunity, by=manager, version=1, amount=777)
    moved = services.move_opportunity(
        opportunity=stale_copy,
        version=current_version(stale_copy),
        to_stage=stage(pipeline, "Discovery"),
        by=rep,
    )
    assert _fresh(moved).amount == Decimal("777.00")
    assert moved.transitions.latest("id").amount == Decimal("777.00")


def test_user_factory_smoke_inactive_admin_cannot_act(pipeline, opportunity):
    inactive_admin = UserFactory(username="gone", role="admin", is_active=False)
    with pytest.raises(PermissionDenied):
        services.update_opportunity(opportunity=opportunity, by=inactive_admin, version=1, amount=1)


def test_create_opportunity_name_too_long_is_a_field_error(rep, pipeline):
    with pytest.raises(ValidationError) as exc:
        OpportunityFactory(owner=rep, pipeline=pipeline, name="x" * 201)
    assert exc.value.message_dict == {"name": ["Keep the name to 200 characters or fewer."]}
    assert not Opportunity.objects.exists()
    assert OpportunityFactory(owner=rep, pipeline=pipeline, name="x" * 200).name == "x" * 200


def test_update_opportunity_name_too_long_is_a_field_error(rep, opportunity):
    before = _snapshot(opportunity)
    with pytest.raises(ValidationError) as exc:
        services.update_opportunity(opportunity=opportunity, by=rep, version=1, name="y" * 250)
    assert list(exc.value.message_dict) == ["name"]
    assert _snapshot(opportunity) == before


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_move_opportunity_concurrent_moves_one_wins_one_is_stale(rep, manager, pipeline):
    """Two people drag the same card at once (PostgreSQL row lock): exactly one move lands;
    the other is told the deal changed, and no transition is lost or doubled."""
    import threading

    from django.db import connection, connections

    if connection.vendor != "postgresql":
        pytest.skip("row locks are PostgreSQL's (set DATABASE_URL)")
    deal = OpportunityFactory(owner=rep, pipeline=pipeline)
    targets = {rep: stage(pipeline, "Discovery"), manager: stage(pipeline, "Proposal")}
    barrier = threading.Barrier(2)
    outcomes = {}

    def drag(user):
        try:
            barrier.wait(timeout=10)
            services.move_opportunity(opportunity=deal, to_stage=targets[user], by=user, version=1)
            outcomes[user] = "moved"
        except ValidationError as exc:
            outcomes[user] = exc.code
        finally:
            connections.close_all()

    threads = [threading.Thread(target=drag, args=(u,)) for u in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes.values()) == ["moved", "stale"]
    winner = next(u for u, outcome in outcomes.items() if outcome == "moved")
    fresh = _fresh(deal)
    assert fresh.stage == targets[winner] and fresh.version == 2
    assert [t.to_stage for t in fresh.transitions.all()][1:] == [targets[winner]]


def test_move_opportunity_query_count_does_not_grow_with_history(
    rep, manager, pipeline, django_assert_max_num_queries
):
    deal = _deal_ready_for_negotiation(rep, pipeline)
    discovery, proposal = stage(pipeline, "Discovery"), stage(pipeline, "Proposal")

    def move(to):
        with django_assert_max_num_queries(20) as queries:
            moved = services.move_opportunity(
                opportunity=deal, version=current_version(deal), to_stage=to, by=manager
            )
        return moved, len(queries.captured_queries)

    deal, _n = move(discovery)  # caches the manager's teams on the user object
    deal, first = move(proposal)
    deal, _n = move(discovery)
    for _ in range(14):
        deal, _n = move(proposal)
        deal, _n = move(discovery)
    deal, last = move(proposal)
    assert deal.transitions.count() == 33
    assert last == first


def test_update_opportunity_next_step_due_set_cleared_and_validated(rep, opportunity):
    deal = services.update_opportunity(
        opportunity=opportunity, by=rep, version=1, next_step="Demo", next_step_due="2026-02-03"
    )
    assert _fresh(deal).next_step_due == dt.date(2026, 2, 3)
    with pytest.raises(ValidationError) as exc:
        services.update_opportunity(
            opportunity=deal, by=rep, version=deal.version, next_step_due="3 Feb"
        )
    assert exc.value.message_dict == {"next_step_due": ["Enter a date as YYYY-MM-DD."]}
    deal = services.update_opportunity(
        opportunity=deal, by=rep, version=deal.version, next_step_due=""
    )
    assert _fresh(deal).next_step_due is None


def test_close_lost_into_a_chosen_lost_stage(rep, pipeline, lost_reason, opportunity):
    no_decision = Stage.objects.create(
        pipeline=pipeline,
        name="No decision",
        kind="lost",
        probability=0,
        forecast_category="omitted",
        position=10,
    )
    lost = services.close_lost(
        opportunity=opportunity,
        version=current_version(opportunity),
        by=rep,
        lost_reason=lost_reason,
        stage=no_decision,
    )
    assert _fresh(lost).stage == no_decision
    assert lost.transitions.latest("id").to_stage == no_decision


def test_move_opportunity_won_to_lost_by_manager_swaps_close_facts(
    rep, manager, pipeline, lost_reason, opportunity
):
    won = services.close_won(
        opportunity=opportunity,
        version=current_version(opportunity),
        by=rep,
        closed_on="2026-03-01",
    )
    lost = services.close_lost(
        opportunity=won,
        version=current_version(won),
        by=manager,
        lost_reason=lost_reason,
        closed_on="2026-03-02",
    )
    lost = _fresh(lost)
    assert lost.stage.is_lost and lost.lost_reason == lost_reason
    assert lost.closed_on == dt.date(2026, 3, 2)
    rewon = services.close_won(opportunity=lost, version=current_version(lost), by=manager)
    assert _fresh(rewon).lost_reason is None


def test_close_won_in_the_future_is_refused_and_changes_nothing(rep, opportunity):
    before = _snapshot(opportunity)
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    with pytest.raises(ValidationError) as exc:
        services.close_won(
            opportunity=opportunity,
            version=current_version(opportunity),
            by=rep,
            closed_on=tomorrow,
        )
    assert "future" in exc.value.message_dict["closed_on"][0]
    assert _snapshot(opportunity) == before


def test_move_opportunity_closes_the_stay_in_the_stage_it_leaves(rep, pipeline, opportunity):
    created = opportunity.transitions.get()
    assert created.left_at is None and created.next_stage is None
    moved = services.move_opportunity(
        opportunity=opportunity, to_stage=stage(pipeline, "Discovery"), by=rep, version=1
    )
    created.refresh_from_db()
    entered = moved.transitions.latest("id")
    assert created.left_at == entered.changed_at
    assert created.next_stage == stage(pipeline, "Discovery")
    assert entered.left_at is None and entered.next_stage is None


@pytest.mark.django_db
def test_close_pushes_count_each_later_close_date_as_the_field_history_says():
    """A deal's close-date pushes: moved later twice (by 10 and 21 days), pulled in once
    (not a push), other fields changed (no push); the counter equals the recount from the
    field history, and a deal created with a date has none."""
    from django.db import connection

    from pipeline.services.close_pushes import recount_close_pushes

    rep = UserFactory(role="rep")
    deal = OpportunityFactory(owner=rep, expected_close_date=dt.date(2026, 5, 1))
    other = OpportunityFactory(owner=rep, expected_close_date=dt.date(2026, 6, 1))
    steps = [
        {"expected_close_date": dt.date(2026, 5, 11)},  # +10
        {"amount": Decimal("1234")},
        {"expected_close_date": dt.date(2026, 5, 4)},  # pulled in
        {"expected_close_date": dt.date(2026, 5, 25)},  # +21
        {"expected_close_date": dt.date(2026, 5, 25), "next_step": "Call"},
    ]
    for change in steps:
        services.update_opportunity(
            opportunity=deal, by=rep, version=current_version(deal), **change
        )
    deal.refresh_from_db()
    assert (deal.close_pushes, deal.close_pushed_days) == (2, 31)
    assert (Opportunity.objects.get(pk=other.pk).close_pushes, other.close_pushed_days) == (0, 0)
    Opportunity.objects.update(close_pushes=7, close_pushed_days=70)
    recount_close_pushes(connection)
    assert set(Opportunity.objects.values_list("pk", "close_pushes", "close_pushed_days")) == {
        (deal.pk, 2, 31),
        (other.pk, 0, 0),
    }
