import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.template.loader import render_to_string
from django.utils import timezone

from pipeline import services
from pipeline.selectors.timeline import timeline_for
from tests.factories import (
    CompanyFactory,
    ContactFactory,
    LeadFactory,
    OpportunityFactory,
    stage,
)

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def _at(days):
    return time_machine.travel(T0 + dt.timedelta(days=days), tick=False)


@pytest.fixture
def history(rep, manager, pipeline, lost_reason):
    """A deal created, edited, moved, noted and lost over five days."""
    with _at(0):
        opp = OpportunityFactory(owner=rep, pipeline=pipeline, name="Acme", amount=Decimal("100"))
    with _at(1):
        opp = services.update_opportunity(
            opportunity=opp, by=rep, version=opp.version, amount=Decimal("250.50")
        )
    with _at(2):
        opp = services.move_opportunity(
            opportunity=opp, to_stage=stage(pipeline, "Discovery"), by=rep, version=opp.version
        )
    with _at(3):
        services.log_activity(by=manager, kind="call", subject="Pricing call", opportunity=opp)
    with _at(4):
        opp = services.close_lost(
            opportunity=opp, by=rep, lost_reason=lost_reason, version=opp.version
        )
    return opp


def test_timeline_for_opportunity_lists_everything_newest_first(history, rep):
    entries = timeline_for(user=rep, opportunity=history)
    texts = [e.text for e in entries]
    assert texts == [
        "Lost (from Discovery) — Price",
        "Pricing call",
        "Moved from Qualification to Discovery",
        "Amount changed from $100.00 to $250.50",
        "Created in Qualification",
    ]
    assert [e.kind for e in entries] == [
        "transition",
        "activity",
        "transition",
        "field_change",
        "transition",
    ]
    # A move gives the amount and the probability it carried: Discovery is at 25%.
    assert entries[2].detail == "$251 at 25%"
    assert entries[1].who == str(history.owner.team.manager)
    assert entries[0].who == str(rep)
    assert entries[0].when == T0 + dt.timedelta(days=4)


def test_timeline_for_opportunity_field_changes_cover_owner_date_probability_category(
    rep, rep2, pipeline
):
    with _at(0):
        opp = OpportunityFactory(owner=rep, pipeline=pipeline)
    with _at(1):
        opp = services.update_opportunity(
            opportunity=opp,
            by=rep,
            version=opp.version,
            expected_close_date=dt.date(2026, 12, 12),
            probability=40,
            forecast_category="commit",
        )
    with _at(2):
        opp = services.update_opportunity(
            opportunity=opp, by=rep.team.manager, version=opp.version, owner=rep2
        )
    texts = [e.text for e in timeline_for(user=rep.team.manager, opportunity=opp)]
    assert f"Owner changed from {rep} to {rep2}" in texts
    assert "Probability changed from the stage's default to 40%" in texts
    assert "Forecast category changed from the stage's default to Commit" in texts
    assert any(
        t.startswith("Expected close date changed from") and "Dec 12, 2026" in t for t in texts
    )


def test_timeline_for_opportunity_respects_limit(history, rep):
    entries = timeline_for(user=rep, opportunity=history, limit=2)
    assert [e.text for e in entries] == ["Lost (from Discovery) — Price", "Pricing call"]


def test_timeline_for_opportunity_query_count_does_not_grow(
    rep, pipeline, django_assert_max_num_queries
):
    opp = OpportunityFactory(owner=rep, pipeline=pipeline)
    for i in range(3):
        services.log_activity(by=rep, kind="note", subject=f"n{i}", opportunity=opp)
    opp = services.update_opportunity(opportunity=opp, by=rep, version=opp.version, amount=5)
    with django_assert_max_num_queries(3):
        small = timeline_for(user=rep, opportunity=opp)
    for i in range(60):
        services.log_activity(by=rep, kind="note", subject=f"m{i}", opportunity=opp)
        opp = services.update_opportunity(
            opportunity=opp, by=rep, version=opp.version, amount=100 + i
        )
    with django_assert_max_num_queries(3):
        big = timeline_for(user=rep, opportunity=opp)
    assert len(small) == 5 and len(big) == 100


def test_timeline_for_company_includes_contacts_and_deals_but_not_hidden_deals(
    rep, outsider, admin_user, pipeline
):
    company = CompanyFactory(owner=rep, name="Globex")
    contact = ContactFactory(owner=rep, company=company, first_name="Dana", last_name="Lee")
    with _at(0):
        mine = OpportunityFactory(owner=rep, pipeline=pipeline, company=company, name="Mine")
        theirs = OpportunityFactory(
            owner=outsider, pipeline=pipeline, company=company, name="Theirs", by=admin_user
        )
    with _at(1):
        services.log_activity(by=rep, kind="email", subject="Intro", company=company)
        services.log_activity(by=rep, kind="call", subject="Call Dana", contact=contact)
        services.log_activity(by=rep, kind="meeting", subject="Demo", opportunity=mine)
        services.log_activity(by=outsider, kind="note", subject="Secret", opportunity=theirs)
    entries = timeline_for(user=rep, company=company)
    texts = {e.text for e in entries}
    assert {"Intro", "Call Dana", "Demo", "Created in Qualification"} <= texts
    assert "Secret" not in texts
    assert [e.link_text for e in entries if e.kind == "transition"] == ["Mine"]
    demo = next(e for e in entries if e.text == "Demo")
    assert demo.link == mine.get_absolute_url()


def test_timeline_for_contact_shows_its_activities_and_deal_transitions(rep, pipeline):
    contact = ContactFactory(owner=rep)
    opp = OpportunityFactory(owner=rep, pipeline=pipeline, company=contact.company, contact=contact)
    services.log_activity(by=rep, kind="call", subject="Rang", contact=contact)
    other = ContactFactory(owner=rep, company=contact.company)
    services.log_activity(by=rep, kind="call", subject="Other person", contact=other)
    texts = [e.text for e in timeline_for(user=rep, contact=contact)]
    assert "Rang" in texts and "Created in Qualification" in texts
    assert "Other person" not in texts
    assert opp.pk


def test_timeline_for_lead_shows_activities_and_conversion_link(rep, pipeline):
    lead = LeadFactory(
        owner=rep, need="CRM", budget=Decimal("1000"), timeline="Q3", company_name="Initech"
    )
    with _at(0):
        services.log_activity(by=rep, kind="call", subject="First call", lead=lead)
        services.qualify_lead(lead=lead, by=rep)
    with _at(1):
        opp = services.convert_lead(
            lead=lead,
            by=rep,
            amount=Decimal("900"),
            expected_close_date="2026-09-30",
            pipeline=pipeline,
        )
    lead.refresh_from_db()
    entries = timeline_for(user=rep, lead=lead)
    assert [e.text for e in entries] == ["Converted to an opportunity", "First call"]
    assert entries[0].link == opp.get_absolute_url()


def test_timeline_for_task_shows_due_and_done(rep, pipeline):
    opp = OpportunityFactory(owner=rep, pipeline=pipeline)
    task = services.log_activity(
        by=rep, kind="task", subject="Send quote", opportunity=opp, due_on="2026-04-01"
    )
    assert timeline_for(user=rep, opportunity=opp)[0].text == "Send quote (due Apr 1, 2026)"
    services.complete_task(activity=task, by=rep)
    done = timeline_for(user=rep, opportunity=opp)[0]
    assert done.text.startswith("Send quote (done ") and done.tone == "done"


def test_timeline_for_hides_a_deal_the_user_cannot_see(history, outsider):
    assert timeline_for(user=outsider, opportunity=history) == []


def test_timeline_for_needs_exactly_one_record(rep):
    with pytest.raises(TypeError):
        timeline_for(user=rep)


def test_timeline_partial_renders_entries_and_empty_state(history, rep):
    html = render_to_string(
        "pipeline/_timeline.html", {"timeline": timeline_for(user=rep, opportunity=history)}
    )
    assert "Moved from Qualification to Discovery" in html
    assert 'datetime="2026-03-06T09:00:00+00:00"' in html
    empty = render_to_string("pipeline/_timeline.html", {"timeline": []})
    assert "Nothing has happened here yet" in empty
    assert timezone.is_aware(T0)
