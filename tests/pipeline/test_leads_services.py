"""pipeline.services for leads: create, update, work, qualify, disqualify and convert."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError

from pipeline import services
from pipeline.models import Activity, Company, Contact, Lead, Opportunity, StageTransition
from tests.factories import (
    CompanyFactory,
    ContactFactory,
    LeadFactory,
    PipelineFactory,
    stage,
    stored_version,
)


@pytest.fixture
def prospect(rep):
    lead = LeadFactory(
        owner=rep,
        first_name="Ada",
        last_name="Lovelace",
        email="ada@example.com",
        title="CTO",
        company_name="Analytical Engines",
        need="Replace spreadsheets for 40 sellers",
        budget=Decimal("48000"),
        timeline="Decide in Q3",
    )
    return services.qualify_lead(lead=lead, by=rep)


def _counts():
    return (
        Company.objects.count(),
        Contact.objects.count(),
        Opportunity.objects.count(),
        StageTransition.objects.count(),
    )


# --- create / update -------------------------------------------------------------------------


def test_create_lead_starts_new_and_owned_by_creator(rep):
    lead = services.create_lead(
        by=rep, first_name="Grace", company_name="Navy", source="event", budget="1200.5"
    )
    lead.refresh_from_db()
    assert lead.status == Lead.Status.NEW and lead.owner == rep
    assert lead.budget == Decimal("1200.50") and lead.source == "event"


def test_create_lead_refuses_bad_input(rep, rep2):
    with pytest.raises(ValidationError) as exc:
        services.create_lead(by=rep, first_name="Grace", budget=12.5)
    assert exc.value.message_dict == {
        "budget": ["Amounts are exact decimals, not floating-point numbers."]
    }
    with pytest.raises(ValidationError) as exc:
        services.create_lead(by=rep, first_name="Grace", email="not-an-email")
    assert list(exc.value.message_dict) == ["email"]
    with pytest.raises(ValidationError) as exc:
        services.create_lead(by=rep, first_name="Grace", status="converted")
    assert exc.value.messages == ["Unknown fields: status."]
    with pytest.raises(ValidationError) as exc:
        services.create_lead(by=rep, owner=rep2, first_name="Grace")
    assert exc.value.message_dict == {
        "owner": ["You may only assign records to yourself or your team."]
    }
    assert not Lead.objects.exists()


def test_create_lead_empty_budget_means_unknown(rep):
    lead = services.create_lead(by=rep, first_name="Grace", budget="")
    lead.refresh_from_db()
    assert lead.budget is None


def test_update_lead_changes_fields_and_can_clear_budget(rep):
    lead = services.create_lead(by=rep, first_name="Grace", budget="500")
    lead = services.update_lead(
        lead=lead, version=stored_version(lead), by=rep, need="CRM", budget=""
    )
    lead.refresh_from_db()
    assert lead.need == "CRM" and lead.budget is None


def test_update_lead_refuses_closed_lead_and_outsider(rep, outsider, prospect):
    with pytest.raises(PermissionDenied, match="You may not change this lead."):
        services.update_lead(lead=prospect, version=stored_version(prospect), by=outsider, need="x")
    services.disqualify_lead(lead=prospect, by=rep, reason="No budget")
    with pytest.raises(ValidationError) as exc:
        services.update_lead(lead=prospect, version=stored_version(prospect), by=rep, need="x")
    assert exc.value.messages == ["This lead is disqualified and can no longer be edited."]


def test_update_lead_manager_may_reassign_within_team(manager, rep, rep2):
    lead = LeadFactory(owner=rep)
    services.update_lead(lead=lead, version=stored_version(lead), by=manager, owner=rep2)
    lead.refresh_from_db()
    assert lead.owner == rep2


# --- status workflow -------------------------------------------------------------------------


def test_start_working_lead_only_from_new(rep):
    lead = LeadFactory(owner=rep)
    lead = services.start_working_lead(lead=lead, by=rep)
    assert Lead.objects.get(pk=lead.pk).status == Lead.Status.WORKING
    with pytest.raises(ValidationError, match="Only a new lead can be started."):
        services.start_working_lead(lead=lead, by=rep)


def test_qualify_lead_marks_prospect_with_time(rep):
    lead = LeadFactory(owner=rep)
    with time_machine.travel(dt.datetime(2026, 5, 5, 9, tzinfo=dt.UTC), tick=False):
        lead = services.qualify_lead(lead=lead, by=rep)
    lead.refresh_from_db()
    assert lead.status == Lead.Status.PROSPECT
    assert lead.qualified_at == dt.datetime(2026, 5, 5, 9, tzinfo=dt.UTC)
    # Qualifying a prospect again changes nothing.
    again = services.qualify_lead(lead=lead, by=rep)
    assert again.qualified_at == lead.qualified_at


def test_qualify_lead_refuses_disqualified_and_outsider(rep, outsider):
    lead = LeadFactory(owner=rep)
    with pytest.raises(PermissionDenied):
        services.qualify_lead(lead=lead, by=outsider)
    services.disqualify_lead(lead=lead, by=rep, reason="Student")
    with pytest.raises(ValidationError) as exc:
        services.qualify_lead(lead=lead, by=rep)
    assert exc.value.messages == [
        "A disqualified lead cannot be qualified; only new or working leads can."
    ]


def test_disqualify_lead_requires_reason(rep):
    lead = LeadFactory(owner=rep)
    with pytest.raises(ValidationError) as exc:
        services.disqualify_lead(lead=lead, by=rep, reason="   ")
    assert exc.value.message_dict == {"reason": ["Say why the lead is disqualified."]}
    assert Lead.objects.get(pk=lead.pk).status == Lead.Status.NEW


def test_disqualify_lead_from_any_open_status(rep, prospect):
    working = services.start_working_lead(lead=LeadFactory(owner=rep), by=rep)
    for lead in (LeadFactory(owner=rep), working, prospect):
        services.disqualify_lead(lead=lead, by=rep, reason="  Not a fit  ")
        lead.refresh_from_db()
        assert lead.status == Lead.Status.DISQUALIFIED
        assert lead.disqualification_reason == "Not a fit"
        assert lead.disqualified_at is not None


def test_disqualify_lead_refuses_converted_lead_and_outsider(rep, outsider, pipeline, prospect):
    with pytest.raises(PermissionDenied):
        services.disqualify_lead(lead=prospect, by=outsider, reason="x")
    services.convert_lead(lead=prospect, by=rep, amount="1000", expected_close_date="2026-12-31")
    with pytest.raises(ValidationError) as exc:
        services.disqualify_lead(lead=prospect, by=rep, reason="Changed mind")
    assert exc.value.messages == ["A converted lead cannot be disqualified."]


# --- convert ---------------------------------------------------------------------------------


def test_convert_lead_creates_company_contact_and_deal_in_first_open_stage(rep, pipeline, prospect):
    deal = services.convert_lead(
        lead=prospect,
        by=rep,
        amount="48000",
        expected_close_date=dt.date(2026, 9, 30),
        contact_is_decision_maker=True,
    )
    deal = Opportunity.objects.select_related("company", "contact", "stage").get(pk=deal.pk)
    assert deal.stage == stage(pipeline, "Qualification")
    assert deal.name == "Analytical Engines — Replace spreadsheets for 40 sellers"
    assert deal.company.name == "Analytical Engines" and deal.company.owner == rep
    contact = deal.contact
    assert (contact.first_name, contact.last_name, contact.email, contact.title) == (
        "Ada",
        "Lovelace",
        "ada@example.com",
        "CTO",
    )
    assert contact.company == deal.company and contact.is_decision_maker
    assert deal.transitions.get().from_stage is None
    prospect.refresh_from_db()
    assert prospect.status == Lead.Status.CONVERTED and prospect.converted_at is not None
    assert (prospect.opportunity, prospect.company, prospect.contact) == (
        deal,
        deal.company,
        deal.contact,
    )


def test_convert_lead_links_given_company_and_creates_contact_there(rep, pipeline, prospect):
    company = CompanyFactory(owner=rep, name="Existing Ltd")
    deal = services.convert_lead(
        lead=prospect, by=rep, amount=1, expected_close_date="2026-10-01", company=company
    )
    assert deal.company == company
    assert deal.contact.company == company and deal.contact.last_name == "Lovelace"
    assert Company.objects.count() == 1


def test_convert_lead_links_given_contact_and_uses_its_company(rep, pipeline, prospect):
    contact = ContactFactory(owner=rep)
    deal = services.convert_lead(
        lead=prospect, by=rep, amount=1, expected_close_date="2026-10-01", contact=contact
    )
    assert deal.contact == contact
    assert deal.company == contact.company
    assert Company.objects.count() == 1 and Contact.objects.count() == 1


def test_convert_lead_with_company_name_and_explicit_name_and_pipeline(rep, pipeline, prospect):
    renewals = PipelineFactory(name="Renewals")
    deal = services.convert_lead(
        lead=prospect,
        by=rep,
        amount="10",
        expected_close_date="2026-10-01",
        company_name="AE Holdings",
        name="AE pilot",
        pipeline=renewals,
    )
    assert deal.name == "AE pilot" and deal.company.name == "AE Holdings"
    assert deal.pipeline == renewals and deal.stage == stage(renewals, "Qualification")


def test_convert_lead_moves_the_leads_activities_to_the_deal(rep, pipeline, prospect):
    call = services.log_activity(by=rep, kind="call", subject="Intro call", lead=prospect)
    deal = services.convert_lead(lead=prospect, by=rep, amount=1, expected_close_date="2026-10-01")
    call.refresh_from_db()
    assert call.opportunity == deal and call.lead == prospect


def test_convert_lead_requires_need_budget_and_timeline(rep, pipeline):
    lead = services.qualify_lead(lead=LeadFactory(owner=rep, need=" ", timeline=""), by=rep)
    before = _counts()
    with pytest.raises(ValidationError) as exc:
        services.convert_lead(lead=lead, by=rep, amount=1, expected_close_date="2026-10-01")
    assert exc.value.message_dict == {
        "need": ["Describe the customer's need before converting."],
        "budget": ["Enter the customer's budget before converting."],
        "timeline": ["Enter the customer's timeline before converting."],
    }
    assert _counts() == before
    assert Lead.objects.get(pk=lead.pk).status == Lead.Status.PROSPECT


def test_convert_lead_requires_a_prospect(rep, pipeline):
    lead = LeadFactory(owner=rep, need="x", budget=1, timeline="y")
    with pytest.raises(ValidationError) as exc:
        services.convert_lead(lead=lead, by=rep, amount=1, expected_close_date="2026-10-01")
    assert exc.value.messages == ["Qualify the lead as a prospect before converting it."]
    services.disqualify_lead(lead=lead, by=rep, reason="Competitor")
    with pytest.raises(ValidationError) as exc:
        services.convert_lead(lead=lead, by=rep, amount=1, expected_close_date="2026-10-01")
    assert exc.value.messages == ["A disqualified lead cannot be converted."]


def test_convert_lead_twice_is_refused(rep, pipeline, prospect):
    services.convert_lead(lead=prospect, by=rep, amount=1, expected_close_date="2026-10-01")
    with pytest.raises(ValidationError, match="A converted lead cannot be converted."):
        services.convert_lead(lead=prospect, by=rep, amount=1, expected_close_date="2026-10-01")
    assert Opportunity.objects.count() == 1


def test_convert_lead_bad_amount_leaves_nothing_half_written(rep, pipeline, prospect):
    before = _counts()
    with pytest.raises(ValidationError) as exc:
        services.convert_lead(lead=prospect, by=rep, amount="-1", expected_close_date="2026-10-01")
    assert exc.value.message_dict == {"amount": ["The amount cannot be negative."]}
    # The company and contact created on the way were rolled back with the deal.
    assert _counts() == before
    prospect.refresh_from_db()
    assert prospect.status == Lead.Status.PROSPECT and prospect.company is None


def test_convert_lead_without_company_name_asks_for_one(rep, pipeline, prospect):
    Lead.objects.filter(pk=prospect.pk).update(company_name="")
    with pytest.raises(ValidationError) as exc:
        services.convert_lead(lead=prospect, by=rep, amount=1, expected_close_date="2026-10-01")
    assert exc.value.message_dict == {"company": ["Choose a company or enter a company name."]}


def test_convert_lead_refuses_hidden_company_and_contact(rep, outsider, pipeline, prospect):
    before = _counts()
    with pytest.raises(ValidationError) as exc:
        services.convert_lead(
            lead=prospect,
            by=rep,
            amount=1,
            expected_close_date="2026-10-01",
            company=CompanyFactory(owner=outsider),
        )
    assert exc.value.message_dict == {"company": ["Choose a company you can see."]}
    hidden_contact = ContactFactory(owner=outsider)
    before = _counts()
    with pytest.raises(ValidationError) as exc:
        services.convert_lead(
            lead=prospect,
            by=rep,
            amount=1,
            expected_close_date="2026-10-01",
            contact=hidden_contact,
        )
    assert exc.value.message_dict == {"contact": ["Choose a contact you can see."]}
    assert _counts() == before


def test_convert_lead_without_active_pipeline_is_refused(rep, prospect):
    with pytest.raises(ValidationError, match="No active pipeline exists; ask an admin"):
        services.convert_lead(lead=prospect, by=rep, amount=1, expected_close_date="2026-10-01")
    assert Lead.objects.get(pk=prospect.pk).status == Lead.Status.PROSPECT


def test_convert_lead_outsider_gets_permission_denied(outsider, pipeline, prospect):
    before = _counts()
    with pytest.raises(PermissionDenied, match="You may not change this lead."):
        services.convert_lead(
            lead=prospect, by=outsider, amount=1, expected_close_date="2026-10-01"
        )
    assert _counts() == before


def test_convert_lead_by_manager_keeps_rep_as_owner(manager, rep, pipeline, prospect):
    deal = services.convert_lead(
        lead=prospect, by=manager, amount=1, expected_close_date="2026-10-01"
    )
    assert deal.owner == rep and deal.company.owner == rep and deal.contact.owner == rep
    assert deal.transitions.get().changed_by == manager


def test_log_activity_on_new_lead_starts_working_it_but_a_task_does_not(rep):
    lead = LeadFactory(owner=rep)
    services.log_activity(by=rep, kind="task", subject="Call back", lead=lead, due_on="2026-01-02")
    assert Lead.objects.get(pk=lead.pk).status == Lead.Status.NEW
    services.log_activity(by=rep, kind="email", subject="Sent deck", lead=lead)
    assert Lead.objects.get(pk=lead.pk).status == Lead.Status.WORKING
    assert Activity.objects.filter(lead=lead).count() == 2


def test_convert_lead_long_company_name_and_need_fit_the_deal_name(rep, pipeline, prospect):
    company = CompanyFactory(owner=rep, name="C" * 200)
    deal = services.convert_lead(
        lead=prospect, by=rep, amount=1, expected_close_date="2026-10-01", company=company
    )
    deal = Opportunity.objects.get(pk=deal.pk)
    assert len(deal.name) == 200 and deal.name.startswith("C" * 150)
