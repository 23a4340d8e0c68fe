"""pipeline.services for activities and tasks, companies and contacts."""

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError

from pipeline import services
from pipeline.models import Activity, Company, Contact, Opportunity
from tests.factories import CompanyFactory, ContactFactory, LeadFactory, stored_version

NOON = dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC)


# --- log_activity ----------------------------------------------------------------------------


def test_log_activity_on_deal_updates_last_activity(rep, opportunity):
    with time_machine.travel(NOON, tick=False):
        call = services.log_activity(
            by=rep, kind="call", subject="  Discovery call  ", body="Notes", opportunity=opportunity
        )
    call.refresh_from_db()
    assert (call.kind, call.subject, call.owner, call.occurred_at) == (
        "call",
        "Discovery call",
        rep,
        NOON,
    )
    assert call.due_on is None and call.done_at is None
    assert Opportunity.objects.get(pk=opportunity.pk).last_activity_at == NOON


def test_log_activity_keeps_given_occurred_at(rep, opportunity):
    earlier = NOON - dt.timedelta(days=2)
    meeting = services.log_activity(
        by=rep, kind="meeting", subject="Demo", opportunity=opportunity, occurred_at=earlier
    )
    assert meeting.occurred_at == earlier
    assert Opportunity.objects.get(pk=opportunity.pk).last_activity_at == earlier


def test_log_activity_backdated_never_moves_last_activity_back(rep, opportunity):
    with time_machine.travel(NOON, tick=False):
        services.log_activity(by=rep, kind="call", subject="Today", opportunity=opportunity)
        services.log_activity(
            by=rep,
            kind="meeting",
            subject="Last week's demo, logged late",
            opportunity=opportunity,
            occurred_at=NOON - dt.timedelta(days=7),
        )
    assert Opportunity.objects.get(pk=opportunity.pk).last_activity_at == NOON


def test_log_activity_task_needs_due_date_and_does_not_count_as_activity(rep, opportunity):
    with pytest.raises(ValidationError) as exc:
        services.log_activity(by=rep, kind="task", subject="Send quote", opportunity=opportunity)
    assert exc.value.message_dict == {"due_on": ["A task needs a due date."]}
    task = services.log_activity(
        by=rep, kind="task", subject="Send quote", opportunity=opportunity, due_on="2026-03-12"
    )
    assert task.due_on == dt.date(2026, 3, 12)
    assert Opportunity.objects.get(pk=opportunity.pk).last_activity_at is None


@pytest.mark.parametrize(
    ("kwargs", "errors"),
    [
        ({"kind": "fax", "subject": "x"}, {"kind": ["Choose call, email, meeting, note or task."]}),
        ({"kind": "call", "subject": "   "}, {"subject": ["Give the activity a subject."]}),
        (
            {"kind": "note", "subject": "x", "due_on": "2026-01-01"},
            {"due_on": ["Only tasks have a due date."]},
        ),
        (
            {"kind": "task", "subject": "x", "due_on": "next week"},
            {"due_on": ["Enter a date as YYYY-MM-DD."]},
        ),
    ],
)
def test_log_activity_refuses_bad_input(rep, opportunity, kwargs, errors):
    with pytest.raises(ValidationError) as exc:
        services.log_activity(by=rep, opportunity=opportunity, **kwargs)
    assert exc.value.message_dict == errors
    assert not Activity.objects.exists()


def test_log_activity_needs_exactly_one_subject_record(rep, opportunity):
    message = "An activity belongs to exactly one lead, deal, contact or company."
    with pytest.raises(ValidationError, match=message):
        services.log_activity(by=rep, kind="note", subject="x")
    with pytest.raises(ValidationError, match=message):
        services.log_activity(
            by=rep, kind="note", subject="x", opportunity=opportunity, company=opportunity.company
        )
    assert not Activity.objects.exists()


def test_log_activity_on_each_kind_of_record(rep):
    company = CompanyFactory(owner=rep)
    contact = ContactFactory(owner=rep, company=company)
    lead = LeadFactory(owner=rep)
    for target in ({"company": company}, {"contact": contact}, {"lead": lead}):
        activity = services.log_activity(by=rep, kind="note", subject="Noted", **target)
        assert activity.target == next(iter(target.values()))
    assert Activity.objects.count() == 3


def test_log_activity_outsider_gets_permission_denied(outsider, opportunity):
    with pytest.raises(PermissionDenied, match="You may not change this record."):
        services.log_activity(by=outsider, kind="call", subject="x", opportunity=opportunity)
    assert not Activity.objects.exists()


def test_log_activity_manager_assigns_task_to_team_rep_not_to_outsider(
    manager, rep, outsider, opportunity
):
    task = services.log_activity(
        by=manager,
        kind="task",
        subject="Update forecast",
        opportunity=opportunity,
        due_on=dt.date(2026, 4, 1),
        owner=rep,
    )
    assert task.owner == rep
    with pytest.raises(ValidationError) as exc:
        services.log_activity(
            by=manager,
            kind="task",
            subject="x",
            opportunity=opportunity,
            due_on=dt.date(2026, 4, 1),
            owner=outsider,
        )
    assert exc.value.message_dict == {
        "owner": ["You may only assign records to yourself or your team."]
    }


# --- complete_task / reopen_task -------------------------------------------------------------


@pytest.fixture
def task(rep, opportunity):
    return services.log_activity(
        by=rep, kind="task", subject="Send quote", opportunity=opportunity, due_on="2026-03-12"
    )


def test_complete_task_sets_done_time_and_deal_activity(rep, task):
    with time_machine.travel(NOON, tick=False):
        done = services.complete_task(activity=task, by=rep)
    assert done.done_at == NOON and Activity.objects.get(pk=task.pk).is_done
    assert Opportunity.objects.get(pk=task.opportunity_id).last_activity_at == NOON


def test_complete_task_never_moves_last_activity_back(rep, opportunity, task):
    later = NOON + dt.timedelta(days=1)
    services.log_activity(
        by=rep, kind="meeting", subject="Booked demo", opportunity=opportunity, occurred_at=later
    )
    with time_machine.travel(NOON, tick=False):
        services.complete_task(activity=task, by=rep)
    assert Opportunity.objects.get(pk=opportunity.pk).last_activity_at == later


def test_complete_task_twice_keeps_first_completion(rep, task):
    with time_machine.travel(NOON, tick=False):
        services.complete_task(activity=task, by=rep)
    with time_machine.travel(NOON + dt.timedelta(hours=5), tick=False):
        again = services.complete_task(activity=task, by=rep)
    assert again.done_at == NOON


def test_complete_task_refuses_non_task_and_outsider(rep, outsider, opportunity, task):
    note = services.log_activity(by=rep, kind="note", subject="x", opportunity=opportunity)
    with pytest.raises(ValidationError, match="Only tasks can be completed."):
        services.complete_task(activity=note, by=rep)
    with pytest.raises(PermissionDenied, match="You may not change this task."):
        services.complete_task(activity=task, by=outsider)
    assert Activity.objects.get(pk=task.pk).done_at is None


def test_complete_task_by_manager_of_owner(manager, task):
    assert services.complete_task(activity=task, by=manager).is_done


def test_reopen_task_clears_done_time(rep, outsider, opportunity, task):
    services.complete_task(activity=task, by=rep)
    with pytest.raises(PermissionDenied):
        services.reopen_task(activity=task, by=outsider)
    reopened = services.reopen_task(activity=task, by=rep)
    assert reopened.done_at is None and Activity.objects.get(pk=task.pk).done_at is None
    call = services.log_activity(by=rep, kind="call", subject="x", opportunity=opportunity)
    with pytest.raises(ValidationError, match="Only tasks can be reopened."):
        services.reopen_task(activity=call, by=rep)


# --- companies and contacts ------------------------------------------------------------------


def test_create_company_owned_by_creator_and_validated(rep, rep2):
    company = services.create_company(by=rep, name="Umbrella", city="Raccoon", employees="")
    company.refresh_from_db()
    assert company.owner == rep and company.city == "Raccoon" and company.employees is None
    with pytest.raises(ValidationError) as exc:
        services.create_company(by=rep, name="")
    assert list(exc.value.message_dict) == ["name"]
    with pytest.raises(ValidationError, match="Unknown fields: owner_id."):
        services.create_company(by=rep, name="X", owner_id=rep2.pk)
    with pytest.raises(ValidationError) as exc:
        services.create_company(by=rep, owner=rep2, name="X")
    assert list(exc.value.message_dict) == ["owner"]
    assert Company.objects.count() == 1


def test_update_company_by_manager_and_refused_to_outsider(manager, rep, rep2, outsider):
    company = CompanyFactory(owner=rep)
    services.update_company(
        company=company, version=stored_version(company), by=manager, owner=rep2, industry="Biotech"
    )
    company.refresh_from_db()
    assert company.owner == rep2 and company.industry == "Biotech"
    with pytest.raises(PermissionDenied, match="You may not change this company."):
        services.update_company(
            company=company, version=stored_version(company), by=outsider, industry="x"
        )


def test_create_contact_at_visible_company_only(rep, outsider):
    mine = CompanyFactory(owner=rep)
    contact = services.create_contact(
        by=rep, company=mine, first_name="Dana", is_decision_maker=True
    )
    assert contact.company == mine and contact.owner == rep and contact.is_decision_maker
    with pytest.raises(ValidationError) as exc:
        services.create_contact(by=rep, company=CompanyFactory(owner=outsider), first_name="Eve")
    assert exc.value.message_dict == {"company": ["Choose a company you can see."]}
    with pytest.raises(ValidationError) as exc:
        services.create_contact(by=rep, first_name="Eve", email="nope")
    assert list(exc.value.message_dict) == ["email"]
    assert Contact.objects.count() == 1


def test_update_contact_moves_or_detaches_company(rep, outsider):
    contact = ContactFactory(owner=rep)
    other = CompanyFactory(owner=rep)
    services.update_contact(
        contact=contact, version=stored_version(contact), by=rep, company=other, title="CFO"
    )
    contact.refresh_from_db()
    assert contact.company == other and contact.title == "CFO"
    services.update_contact(contact=contact, version=stored_version(contact), by=rep, company=None)
    contact.refresh_from_db()
    assert contact.company is None
    with pytest.raises(ValidationError):
        services.update_contact(
            contact=contact,
            version=stored_version(contact),
            by=rep,
            company=CompanyFactory(owner=outsider),
        )
    with pytest.raises(PermissionDenied, match="You may not change this contact."):
        services.update_contact(
            contact=contact, version=stored_version(contact), by=outsider, title="x"
        )
