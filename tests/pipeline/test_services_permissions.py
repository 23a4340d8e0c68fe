"""Every service that acts on an existing record refuses a caller outside its scope with
PermissionDenied and writes nothing; a rep of the same team is as much an outsider to another
rep's records as someone from another team."""

import pytest
from django.core.exceptions import PermissionDenied

from pipeline import services
from pipeline.models import Activity, Company, Contact, Lead, Opportunity, StageTransition
from tests.factories import (
    CompanyFactory,
    ContactFactory,
    LeadFactory,
    current_version,
    stage,
    stored_version,
)


@pytest.fixture
def owned(rep, pipeline, opportunity):
    lead = LeadFactory(owner=rep, need="n", budget=1, timeline="t")
    prospect = services.qualify_lead(
        lead=LeadFactory(owner=rep, need="n", budget=1, timeline="t"), by=rep
    )
    task = services.log_activity(
        by=rep, kind="task", subject="t", opportunity=opportunity, due_on="2026-01-01"
    )
    return {
        "lead": lead,
        "prospect": prospect,
        "deal": opportunity,
        "company": CompanyFactory(owner=rep),
        "contact": ContactFactory(owner=rep),
        "task": task,
        "stage": stage(pipeline, "Discovery"),
    }


ACTIONS = {
    "update_company": lambda o, by: services.update_company(
        company=o["company"], version=stored_version(o["company"]), by=by, city="x"
    ),
    "update_contact": lambda o, by: services.update_contact(
        contact=o["contact"], version=stored_version(o["contact"]), by=by, title="x"
    ),
    "update_lead": lambda o, by: services.update_lead(
        lead=o["lead"], version=stored_version(o["lead"]), by=by, need="x"
    ),
    "start_working_lead": lambda o, by: services.start_working_lead(lead=o["lead"], by=by),
    "qualify_lead": lambda o, by: services.qualify_lead(lead=o["lead"], by=by),
    "disqualify_lead": lambda o, by: services.disqualify_lead(lead=o["lead"], by=by, reason="x"),
    "convert_lead": lambda o, by: services.convert_lead(
        lead=o["prospect"], by=by, amount=1, expected_close_date="2026-12-31"
    ),
    "update_opportunity": lambda o, by: services.update_opportunity(
        opportunity=o["deal"], by=by, version=1, amount=1
    ),
    "move_opportunity": lambda o, by: services.move_opportunity(
        opportunity=o["deal"], version=current_version(o["deal"]), to_stage=o["stage"], by=by
    ),
    "close_won": lambda o, by: services.close_won(
        opportunity=o["deal"], version=current_version(o["deal"]), by=by
    ),
    "log_activity": lambda o, by: services.log_activity(
        by=by, kind="note", subject="x", opportunity=o["deal"]
    ),
    "complete_task": lambda o, by: services.complete_task(activity=o["task"], by=by),
    "reopen_task": lambda o, by: services.reopen_task(activity=o["task"], by=by),
}


def _state():
    return [
        list(model.objects.order_by("pk").values())
        for model in (Company, Contact, Lead, Opportunity, StageTransition, Activity)
    ]


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("who", ["outsider", "rep2"])
def test_service_refuses_caller_outside_scope(request, owned, action, who):
    caller = request.getfixturevalue(who)
    before = _state()
    with pytest.raises(PermissionDenied):
        ACTIONS[action](owned, caller)
    assert _state() == before


@pytest.mark.parametrize("action", ACTIONS)
def test_service_allows_the_owners_manager(manager, owned, action):
    ACTIONS[action](owned, manager)
