import datetime as dt
import json
from decimal import Decimal

import pytest
from django.urls import reverse

from pipeline import services
from pipeline.models import Company, Opportunity, StageTransition
from tests.factories import (
    CompanyFactory,
    ContactFactory,
    LostReasonFactory,
    OpportunityFactory,
    PipelineFactory,
    current_version,
    stage,
)

LIST = "/pipeline/opportunities/"


def _url(name, deal):
    return reverse(f"pipeline:{name}", args=[deal.pk])


def _fresh(deal):
    return Opportunity.objects.select_related("stage").get(pk=deal.pk)


def _json(client, url, data):
    return client.post(url, data, HTTP_ACCEPT="application/json")


# --- URLs and login --------------------------------------------------------------------------


def test_opportunity_urls_are_the_agreed_ones(opportunity):
    assert reverse("pipeline:opportunity_list") == LIST
    assert opportunity.get_absolute_url() == f"/pipeline/opportunities/{opportunity.pk}/"
    for name in ("edit", "move", "close_won", "close_lost", "next_step"):
        assert _url(f"opportunity_{name}", opportunity).startswith(opportunity.get_absolute_url())


@pytest.mark.parametrize("name", ["detail", "edit", "move", "close_won", "close_lost", "next_step"])
def test_opportunity_pages_require_login(client, opportunity, name):
    response = client.get(_url(f"opportunity_{name}", opportunity))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_opportunity_list_and_create_require_login(client, db):
    for url in (LIST, reverse("pipeline:opportunity_create")):
        assert client.get(url).status_code == 302


# --- refusals by role ------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["rep2", "outsider"])
@pytest.mark.parametrize(
    "name,method",
    [
        ("detail", "get"),
        ("edit", "get"),
        ("edit", "post"),
        ("move", "post"),
        ("close_won", "get"),
        ("close_won", "post"),
        ("close_lost", "get"),
        ("close_lost", "post"),
        ("next_step", "post"),
    ],
)
def test_opportunity_other_reps_record_is_404(
    client, request, opportunity, pipeline, lost_reason, who, name, method
):
    client.force_login(request.getfixturevalue(who))
    data = {
        "version": opportunity.version,
        "stage": stage(pipeline, "Discovery").pk,
        "lost_reason": lost_reason.pk,
        "name": "Hijacked",
        "amount": "1",
    }
    response = getattr(client, method)(_url(f"opportunity_{name}", opportunity), data)
    assert response.status_code == 404
    fresh = _fresh(opportunity)
    assert fresh.version == opportunity.version and fresh.name == "Acme — 40 seats"


def test_opportunity_other_team_manager_gets_404(client, opportunity, outsider):
    client.force_login(outsider.team.manager)
    assert client.get(_url("opportunity_detail", opportunity)).status_code == 404


def test_opportunity_manager_sees_and_edits_team_deal(client, opportunity, manager):
    client.force_login(manager)
    assert client.get(_url("opportunity_detail", opportunity)).status_code == 200
    response = client.post(
        _url("opportunity_next_step", opportunity),
        {"next_step": "Call the CFO", "version": opportunity.version},
    )
    assert response.status_code == 302
    assert _fresh(opportunity).next_step == "Call the CFO"


def test_opportunity_admin_sees_any_deal(client, opportunity, admin_user):
    client.force_login(admin_user)
    assert client.get(_url("opportunity_detail", opportunity)).status_code == 200


# --- list ------------------------------------------------------------------------------------


def test_opportunity_list_shows_only_visible_deals(client, rep, rep2, outsider, pipeline):
    OpportunityFactory(owner=rep, pipeline=pipeline, name="Mine")
    OpportunityFactory(owner=rep2, pipeline=pipeline, name="Colleague")
    OpportunityFactory(owner=outsider, pipeline=pipeline, name="West")
    client.force_login(rep)
    response = client.get(LIST)
    assert [o.name for o in response.context["page"].object_list] == ["Mine"]
    assert response.context["page"].paginator.count == 1
    client.force_login(rep2.team.manager)
    names = {o.name for o in client.get(LIST).context["page"].object_list}
    assert names == {"Mine", "Colleague"}


def test_opportunity_list_filters_status_stage_and_search(client, rep, pipeline, lost_reason):
    open_deal = OpportunityFactory(owner=rep, pipeline=pipeline, name="Open one")
    lost = OpportunityFactory(owner=rep, pipeline=pipeline, name="Lost one")
    services.close_lost(
        opportunity=lost, version=current_version(lost), by=rep, lost_reason=lost_reason
    )
    client.force_login(rep)

    def names(params):
        return {o.name for o in client.get(LIST, params).context["page"].object_list}

    assert names({}) == {"Open one"}  # the list opens on open deals
    # Open is the default, not a filter the user set; any other status is.
    assert "match the filters" not in client.get(LIST).content.decode()
    assert "match the filters" in client.get(LIST, {"status": "lost"}).content.decode()
    assert names({"status": "all"}) == {"Open one", "Lost one"}
    assert names({"status": "open"}) == {"Open one"}
    assert names({"status": "lost"}) == {"Lost one"}
    assert names({"status": "closed"}) == {"Lost one"}
    assert names({"stage": stage(pipeline, "Qualification").pk}) == {"Open one"}
    assert names({"q": "lost"}) == {"Lost one"}
    assert names({"pipeline": pipeline.pk}) == {"Open one"}
    assert names({"pipeline": pipeline.pk, "status": "all"}) == {"Open one", "Lost one"}
    assert open_deal.pk


def test_opportunity_list_sorts_by_column_both_ways(client, rep, pipeline):
    for name, amount in (("B", 300), ("A", 100), ("C", 200)):
        OpportunityFactory(owner=rep, pipeline=pipeline, name=name, amount=Decimal(amount))
    client.force_login(rep)

    def order(o):
        return [d.name for d in client.get(LIST, {"o": o}).context["page"].object_list]

    assert order("amount") == ["A", "C", "B"]
    assert order("-amount") == ["B", "C", "A"]
    assert order("name") == ["A", "B", "C"]
    assert order("-weighted") == ["B", "C", "A"]
    response = client.get(LIST, {"o": "amount"})
    headers = {c["label"]: c for c in response.context["columns"]}
    assert headers["Amount"]["dir"] == "ascending" and "o=-amount" in headers["Amount"]["url"]
    assert client.get(LIST, {"o": "bogus"}).status_code == 200


def test_opportunity_list_paginates(client, rep, pipeline):
    for i in range(55):
        OpportunityFactory(owner=rep, pipeline=pipeline, name=f"D{i}")
    client.force_login(rep)
    first = client.get(LIST)
    assert len(first.context["page"].object_list) == 50
    assert "page=2" in first.content.decode()
    second = client.get(LIST, {"page": 2})
    assert len(second.context["page"].object_list) == 5
    assert client.get(LIST, {"page": "999"}).context["page"].number == 2
    assert client.get(LIST, {"page": "x"}).status_code == 200


@pytest.mark.parametrize(
    "params",
    [{"amount_min": "x"}, {"stage": "abc"}, {"status": "maybe"}, {"owner": "0"}, {"o": "-"}],
)
def test_opportunity_list_bad_filter_input_is_not_a_500(client, rep, pipeline, params):
    OpportunityFactory(owner=rep, pipeline=pipeline, name="Mine")
    client.force_login(rep)
    response = client.get(LIST, params)
    assert response.status_code == 200
    assert [o.name for o in response.context["page"].object_list] == ["Mine"]


def test_opportunity_list_empty_state_says_what_to_do(client, rep):
    client.force_login(rep)
    assert "Create a deal" in client.get(LIST).content.decode()


def test_opportunity_list_query_count_does_not_grow(
    client, manager, rep, rep2, pipeline, django_assert_max_num_queries
):
    client.force_login(manager)
    for i in range(5):
        OpportunityFactory(owner=rep if i % 2 else rep2, pipeline=pipeline)
    # Today's exchange rates and the product filter's choices are one query each; the
    # pipelines' probability sources and the as-of form add a few more, none per row.
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        client.get(LIST, {"o": "-amount", "status": "open"})
    for i in range(120):
        OpportunityFactory(
            owner=rep if i % 2 else rep2, pipeline=pipeline, currency="EUR" if i % 3 else "USD"
        )
    with CaptureQueriesContext(connection) as many:
        response = client.get(LIST, {"o": "-amount", "status": "open"})
    assert len(many) == len(few) <= 17
    assert len(response.context["page"].object_list) == 50


# --- create ----------------------------------------------------------------------------------


def _create_data(company, pipeline, owner, **extra):
    data = {
        "name": "Globex renewal",
        "company": company.pk,
        "contact": "",
        "owner": owner.pk,
        "pipeline": pipeline.pk,
        "amount": "120000.00",
        "expected_close_date": "2027-01-30",
        "probability": "",
        "forecast_category": "",
        "next_step": "Demo",
        "next_step_due": "",
    }
    data.update(extra)
    return data


def test_opportunity_create_makes_a_deal_in_the_first_stage(client, rep, pipeline):
    company = CompanyFactory(owner=rep)
    client.force_login(rep)
    response = client.post(
        reverse("pipeline:opportunity_create"), _create_data(company, pipeline, rep)
    )
    deal = Opportunity.objects.get(name="Globex renewal")
    assert response.status_code == 302 and response["Location"] == deal.get_absolute_url()
    assert deal.stage.name == "Qualification" and deal.amount == Decimal("120000.00")
    assert deal.owner == rep and deal.next_step == "Demo"
    assert StageTransition.objects.filter(opportunity=deal).count() == 1


def test_the_deal_form_marks_its_required_fields_as_every_form_does(client, rep, pipeline):
    """The lead, company and contact forms end a required field's label in "*" and say so
    above their fields; the deal form does the same (it wrote "(optional)" instead)."""
    client.force_login(rep)
    body = client.get(reverse("pipeline:opportunity_create")).content.decode()
    assert "Fields marked" in body and "(optional)" not in body
    for name in ("name", "amount", "expected_close_date"):
        assert f'<div class="field field-{name} is-required">' in body
    for name in ("next_step", "probability"):
        assert f'<div class="field field-{name}">' in body


def test_opportunity_create_choices_only_offer_what_the_user_may_see(
    client, rep, rep2, outsider, pipeline
):
    mine = CompanyFactory(owner=rep, name="Mine Inc")
    CompanyFactory(owner=rep2, name="Colleague Inc")
    ContactFactory(owner=outsider, first_name="Secret", last_name="Person")
    client.force_login(rep)
    response = client.get(reverse("pipeline:opportunity_create"), {"pipeline": pipeline.pk})
    form = response.context["form"]
    assert list(form.fields["owner"].queryset) == [rep]
    assert list(form.fields["company"].queryset) == [mine]
    assert list(form.fields["contact"].queryset) == []
    body = response.content.decode()
    assert "Colleague Inc" not in body and "Secret" not in body and "rep2" not in body


def test_opportunity_create_manager_may_assign_to_team_not_other_team(
    client, manager, rep, outsider, pipeline
):
    company = CompanyFactory(owner=rep)
    client.force_login(manager)
    ok = client.post(
        reverse("pipeline:opportunity_create"), _create_data(company, pipeline, rep, name="T")
    )
    assert ok.status_code == 302 and Opportunity.objects.get(name="T").owner == rep
    bad = client.post(
        reverse("pipeline:opportunity_create"),
        _create_data(company, pipeline, outsider, name="U"),
    )
    assert bad.status_code == 200 and not Opportunity.objects.filter(name="U").exists()
    assert "Select a valid choice" in bad.context["form"].errors["owner"][0]


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("name", "   ", "Give the deal a name."),
        ("amount", "-5", "greater than or equal to 0"),
        ("amount", "abc", "Enter a number."),
        ("amount", "1e3000", "no more than 14 digits"),
        ("amount", "1.999", "no more than 2 decimal places"),
        ("expected_close_date", "2026-02-30", "Enter a valid date."),
        ("expected_close_date", "", "Enter the expected close date."),
        ("probability", "150", "less than or equal to 100"),
        ("forecast_category", "closed", "Select a valid choice"),
        ("company", "999999", "Select a valid choice"),
        ("company", "99999999999999999999", "Select a valid choice"),
        ("contact", "99999999999999999999", "Select a valid choice"),
        ("owner", "99999999999999999999", "Select a valid choice"),
        ("pipeline", "x", "Select a valid choice"),
    ],
)
def test_opportunity_create_bad_input_errors_in_place_and_keeps_input(
    client, rep, pipeline, field, value, message
):
    company = CompanyFactory(owner=rep)
    client.force_login(rep)
    data = _create_data(company, pipeline, rep)
    data[field] = value
    response = client.post(reverse("pipeline:opportunity_create"), data)
    assert response.status_code == 200
    assert not Opportunity.objects.exists()
    errors = response.context["form"].errors
    assert any(message in e for e in errors.get(field, [])), errors
    body = response.content.decode()
    assert 'value="Demo"' in body  # what was typed is kept
    assert f'id="id_{field}_error"' in body


def test_opportunity_create_contact_of_another_company_is_refused(client, rep, pipeline):
    company = CompanyFactory(owner=rep, name="Acme")
    other = ContactFactory(owner=rep, first_name="Dana")
    client.force_login(rep)
    response = client.post(
        reverse("pipeline:opportunity_create"),
        _create_data(company, pipeline, rep, contact=other.pk),
    )
    assert response.status_code == 200
    assert "works at" in response.context["form"].errors["contact"][0]


def test_opportunity_create_service_errors_go_next_to_fields(client, rep, pipeline):
    archived = PipelineFactory(name="Old", is_active=False)
    company = CompanyFactory(owner=rep)
    client.force_login(rep)
    response = client.post(
        reverse("pipeline:opportunity_create"), _create_data(company, archived, rep)
    )
    assert response.status_code == 200
    assert "pipeline" in response.context["form"].errors


# --- detail ----------------------------------------------------------------------------------


def test_opportunity_detail_shows_header_stage_bar_timeline_and_activity_form(
    client, rep, opportunity, pipeline
):
    opp = services.move_opportunity(
        opportunity=opportunity,
        to_stage=stage(pipeline, "Discovery"),
        by=rep,
        version=opportunity.version,
    )
    services.log_activity(by=rep, kind="call", subject="Kick-off call", opportunity=opp)
    client.force_login(rep)
    response = client.get(opp.get_absolute_url())
    body = response.content.decode()
    assert response.status_code == 200
    for text in (
        "Acme — 40 seats",
        "$10,000",
        "Discovery",
        "Moved from Qualification to Discovery",
        "Kick-off call",
        "Log activity",
        'aria-current="step"',
        "0 days here",
        "Pipeline",  # forecast category label
    ):
        assert text in body, text
    steps = {s.stage.name: s.state for s in response.context["stage_bar"]}
    assert steps["Qualification"] == "done" and steps["Discovery"] == "current"
    assert steps["Proposal"] == "ahead"


# Session, user, scope, the deal, its pipeline's stages, the timeline's three sources, line
# items, products and prices, the notification count.
DEAL_PAGE_BUDGET = 12


def test_opportunity_detail_query_count_does_not_grow(
    client, rep, opportunity, django_assert_max_num_queries
):
    client.force_login(rep)
    with django_assert_max_num_queries(DEAL_PAGE_BUDGET):
        client.get(opportunity.get_absolute_url())
    opp = opportunity
    for i in range(40):
        services.log_activity(by=rep, kind="note", subject=f"Note {i}", opportunity=opp)
        opp = services.update_opportunity(opportunity=opp, by=rep, version=opp.version, amount=i)
    with django_assert_max_num_queries(DEAL_PAGE_BUDGET):
        response = client.get(opportunity.get_absolute_url())
    assert len(response.context["timeline"]) == 81


def test_opportunity_detail_closed_deal_offers_reopen_only_to_manager(
    client, rep, manager, opportunity, lost_reason
):
    services.close_lost(
        opportunity=opportunity,
        version=current_version(opportunity),
        by=rep,
        lost_reason=lost_reason,
    )
    client.force_login(rep)
    body = client.get(opportunity.get_absolute_url()).content.decode()
    assert "Only the owner's manager or an admin can reopen it" in body
    assert "Lost reason" in body and "Price" in body
    client.force_login(manager)
    response = client.get(opportunity.get_absolute_url())
    assert response.context["can_reopen"] is True
    assert "Reopen in Discovery" in response.content.decode()


# --- edit ------------------------------------------------------------------------------------


def _edit_data(deal, **extra):
    data = {
        "name": deal.name,
        "company": deal.company_id,
        "contact": deal.contact_id or "",
        "owner": deal.owner_id,
        "amount": str(deal.amount),
        "expected_close_date": deal.expected_close_date.isoformat(),
        "probability": deal.probability if deal.probability is not None else "",
        "forecast_category": deal.forecast_category,
        "next_step": deal.next_step,
        "next_step_due": "",
        "version": deal.version,
    }
    for name in list(data):
        if name != "version":
            data[f"initial-{name}"] = data[name]
    data.update(extra)
    return data


def test_opportunity_edit_saves_and_records_history(client, rep, opportunity):
    client.force_login(rep)
    response = client.post(
        _url("opportunity_edit", opportunity), _edit_data(opportunity, amount="52000")
    )
    assert response.status_code == 302
    fresh = _fresh(opportunity)
    assert fresh.amount == Decimal("52000") and fresh.version == opportunity.version + 1
    assert fresh.history.count() == 2


def test_opportunity_edit_form_shows_current_values(client, rep, opportunity):
    client.force_login(rep)
    body = client.get(_url("opportunity_edit", opportunity)).content.decode()
    assert 'value="Acme — 40 seats"' in body and 'name="initial-amount"' in body


def test_a_probability_changed_meanwhile_shows_as_a_percentage(client, rep, manager, opportunity):
    client.force_login(rep)
    mine = _edit_data(opportunity, next_step="My plan")
    services.update_opportunity(
        opportunity=opportunity, by=manager, version=opportunity.version, probability=40
    )
    response = client.post(_url("opportunity_edit", opportunity), mine)
    conflicts = {c["field"]: c for c in response.context["conflicts"]}
    assert (conflicts["probability"]["seen"], conflicts["probability"]["now"]) == ("empty", "40%")


def test_opportunity_edit_stale_version_shows_what_changed_and_keeps_input(
    client, rep, manager, opportunity
):
    client.force_login(rep)
    mine = _edit_data(opportunity, amount="99999", next_step="My plan")
    services.update_opportunity(
        opportunity=opportunity,
        by=manager,
        version=opportunity.version,
        amount=Decimal("20000"),
        expected_close_date=dt.date(2027, 3, 1),
    )
    response = client.post(_url("opportunity_edit", opportunity), mine)
    assert response.status_code == 200
    fresh = _fresh(opportunity)
    assert fresh.amount == Decimal("20000")  # nothing overwritten
    conflicts = {c["field"]: c for c in response.context["conflicts"]}
    assert set(conflicts) == {"amount", "expected_close_date"}
    assert (
        conflicts["amount"]["seen"] == "$10,000.00" and conflicts["amount"]["now"] == "$20,000.00"
    )
    body = response.content.decode()
    assert "Someone else changed this deal" in body
    assert 'value="99999"' in body and 'value="My plan"' in body  # input kept
    form = response.context["form"]
    assert form.data["version"] == str(fresh.version)
    # Saving again applies the user's version knowingly.
    again = client.post(_url("opportunity_edit", opportunity), form.data)
    assert again.status_code == 302
    assert _fresh(opportunity).amount == Decimal("99999")


def test_opportunity_edit_bad_input_errors_in_place(client, rep, opportunity):
    client.force_login(rep)
    response = client.post(
        _url("opportunity_edit", opportunity),
        _edit_data(opportunity, amount="lots", name="Renamed"),
    )
    assert response.status_code == 200
    assert "amount" in response.context["form"].errors
    assert 'value="Renamed"' in response.content.decode()
    assert _fresh(opportunity).name == "Acme — 40 seats"


def test_opportunity_edit_missing_version_is_a_form_error(client, rep, opportunity):
    client.force_login(rep)
    data = _edit_data(opportunity)
    data.pop("version")
    response = client.post(_url("opportunity_edit", opportunity), data)
    assert response.status_code == 200
    # A hidden field has no place on the page: its error is shown at the top of the form.
    assert response.context["form"].non_field_errors() == [
        "The deal's version is missing; reload the page."
    ]
    assert "The deal&#x27;s version is missing; reload the page." in response.content.decode()


def test_opportunity_edit_closed_deal_locks_amount_but_allows_name(client, rep, opportunity):
    won = services.close_won(opportunity=opportunity, version=current_version(opportunity), by=rep)
    client.force_login(rep)
    response = client.post(
        _url("opportunity_edit", won), _edit_data(won, amount="1", name="Acme — signed")
    )
    assert response.status_code == 302
    fresh = _fresh(won)
    assert fresh.name == "Acme — signed" and fresh.amount == Decimal("10000")


# --- next step -------------------------------------------------------------------------------


def test_opportunity_next_step_bad_date_keeps_input(client, rep, opportunity):
    client.force_login(rep)
    response = client.post(
        _url("opportunity_next_step", opportunity),
        {"next_step": "Send contract", "next_step_due": "31/31/2026", "version": 1},
    )
    assert response.status_code == 400
    assert "Enter a valid date." in response.content.decode()
    assert 'value="Send contract"' in response.content.decode()


def test_opportunity_next_step_stale_version_is_refused(client, rep, opportunity):
    services.update_opportunity(opportunity=opportunity, by=rep, version=1, next_step="A")
    client.force_login(rep)
    response = client.post(
        _url("opportunity_next_step", opportunity), {"next_step": "B", "version": 1}
    )
    assert response.status_code == 400
    assert "Someone else changed" in response.content.decode()
    assert _fresh(opportunity).next_step == "A"


# --- move ------------------------------------------------------------------------------------


def test_opportunity_move_form_post_redirects_back_with_message(client, rep, opportunity, pipeline):
    client.force_login(rep)
    response = client.post(
        _url("opportunity_move", opportunity),
        {"stage": stage(pipeline, "Discovery").pk, "version": 1, "next": "/pipeline/board/?q=a"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == "/pipeline/board/?q=a"
    assert "moved to Discovery" in response.content.decode()
    assert _fresh(opportunity).stage.name == "Discovery"


def test_opportunity_move_ignores_unsafe_next(client, rep, opportunity, pipeline):
    client.force_login(rep)
    response = client.post(
        _url("opportunity_move", opportunity),
        {"stage": stage(pipeline, "Discovery").pk, "version": 1, "next": "https://evil.test/"},
    )
    assert response["Location"] == opportunity.get_absolute_url()


def test_opportunity_move_json_returns_card_and_column_totals(client, rep, opportunity, pipeline):
    client.force_login(rep)
    discovery = stage(pipeline, "Discovery")
    response = _json(
        client,
        _url("opportunity_move", opportunity),
        {"stage": discovery.pk, "version": 1, "board": f"?pipeline={pipeline.pk}"},
    )
    data = response.json()
    assert response.status_code == 200 and data["ok"] is True
    assert data["stage"] == discovery.pk and data["version"] == 2
    assert 'data-version="2"' in data["card"]
    assert set(data["headers"]) == {
        str(stage(pipeline, n).pk)
        for n in ("Qualification", "Discovery", "Proposal", "Negotiation")
    }
    assert "1</span> deal" in data["headers"][str(discovery.pk)]
    assert "$3k" in data["headers"][str(discovery.pk)]  # weighted 25 % of $10,000 = $2,500
    assert StageTransition.objects.filter(opportunity=opportunity, to_stage=discovery).exists()


def test_opportunity_move_stale_version_is_a_409_with_the_fresh_card(
    client, rep, manager, opportunity, pipeline
):
    services.update_opportunity(
        opportunity=opportunity, by=manager, version=1, amount=Decimal("777")
    )
    client.force_login(rep)
    response = _json(
        client,
        _url("opportunity_move", opportunity),
        {"stage": stage(pipeline, "Discovery").pk, "version": 1},
    )
    assert response.status_code == 409
    data = response.json()
    assert data["ok"] is False and "Someone else changed" in data["message"]
    assert "$777" in data["card"] and data["version"] == 2
    assert _fresh(opportunity).stage.name == "Qualification"


def test_opportunity_move_to_lost_needs_a_reason(client, rep, opportunity, pipeline, lost_reason):
    client.force_login(rep)
    lost = stage(pipeline, "Lost")
    response = _json(
        client, _url("opportunity_move", opportunity), {"stage": lost.pk, "version": 1}
    )
    assert response.status_code == 400 and "Choose why" in response.json()["message"]
    plain = client.post(_url("opportunity_move", opportunity), {"stage": lost.pk, "version": 1})
    assert plain.status_code == 400
    assert plain.context["form"].errors["lost_reason"] == ["Choose why the deal was lost."]
    assert f'<option value="{lost.pk}" selected>' in plain.content.decode()
    ok = _json(
        client,
        _url("opportunity_move", opportunity),
        {"stage": lost.pk, "version": 1, "lost_reason": lost_reason.pk, "lost_note": "Too dear"},
    )
    assert ok.status_code == 200 and ok.json()["open"] is False and ok.json()["card"] == ""
    fresh = _fresh(opportunity)
    assert (
        fresh.stage == lost and fresh.lost_reason == lost_reason and fresh.lost_note == "Too dear"
    )


def test_opportunity_move_exit_criteria_refusal_is_a_400(client, rep, opportunity, pipeline):
    client.force_login(rep)
    response = _json(
        client,
        _url("opportunity_move", opportunity),
        {"stage": stage(pipeline, "Negotiation").pk, "version": 1},
    )
    assert response.status_code == 400
    assert "decision-maker" in response.json()["message"]
    assert _fresh(opportunity).stage.name == "Qualification"


def test_opportunity_move_to_another_pipelines_stage_is_refused(client, rep, opportunity):
    other = PipelineFactory(name="Other")
    client.force_login(rep)
    response = _json(
        client,
        _url("opportunity_move", opportunity),
        {"stage": stage(other, "Discovery").pk, "version": 1},
    )
    assert response.status_code == 400 and "stage of this deal" in response.json()["message"]


@pytest.mark.parametrize("data", [{}, {"stage": "x"}, {"stage": "1", "version": "abc"}])
def test_opportunity_move_bad_input_is_a_400(client, rep, opportunity, data):
    client.force_login(rep)
    assert _json(client, _url("opportunity_move", opportunity), data).status_code == 400


def test_opportunity_move_page_offers_every_stage_and_a_lost_reason(
    client, rep, opportunity, pipeline, lost_reason
):
    client.force_login(rep)
    response = client.get(_url("opportunity_move", opportunity) + "?next=/pipeline/board/?q=a")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Move “" in body and "now in <strong>Qualification</strong>" in body
    qualification = stage(pipeline, "Qualification")
    assert f'<option value="{qualification.pk}" selected>Qualification (10%)</option>' in body
    assert f'<option value="{stage(pipeline, "Won").pk}">Won (closes the deal)</option>' in body
    assert f'<option value="{lost_reason.pk}">{lost_reason.name}</option>' in body
    assert 'name="version" value="1"' in body
    assert 'name="next" value="/pipeline/board/?q=a"' in body
    assert 'class="btn" href="/pipeline/board/?q=a">Cancel' in body


def test_opportunity_move_page_asks_why_lost_only_for_lost_stages(
    client, rep, opportunity, pipeline, lost_reason
):
    """The reason sits in a group shown for the lost stages only (the page's script hides
    it otherwise; without the script its legend says when it applies), marked required as
    every form marks its required fields (the form leaves it optional for open stages)."""
    client.force_login(rep)
    body = client.get(_url("opportunity_move", opportunity)).content.decode()
    lost_ids = ",".join(str(s.pk) for s in pipeline.stages.filter(kind="lost").order_by("pk"))
    assert f'data-lost-stages="{lost_ids}"' in body
    assert "<legend>Only when moving to a lost stage</legend>" in body
    assert '<div class="field field-lost_reason is-required">' in body
    assert 'name="lost_reason" aria-required="true"' in body  # as a screen reader hears it
    assert "(optional)" not in body
    assert "Fields marked" in body
    assert f"· {rep} ·" in body and f"@{rep.username}" not in body  # the owner's name


def test_opportunity_move_page_posts_and_returns_to_the_board(
    client, rep, opportunity, pipeline, lost_reason
):
    client.force_login(rep)
    lost = stage(pipeline, "Lost")
    response = client.post(
        _url("opportunity_move", opportunity),
        {"stage": lost.pk, "version": 1, "lost_reason": lost_reason.pk, "next": "/pipeline/board/"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == "/pipeline/board/"
    assert "moved to Lost" in response.content.decode()
    assert _fresh(opportunity).lost_reason == lost_reason


def test_opportunity_move_to_the_same_stage_says_nothing_changed(
    client, rep, opportunity, pipeline
):
    client.force_login(rep)
    response = client.post(
        _url("opportunity_move", opportunity),
        {"stage": stage(pipeline, "Qualification").pk, "version": 1},
        follow=True,
    )
    assert "is already in Qualification: nothing changed" in response.content.decode()
    assert _fresh(opportunity).version == 1


def test_opportunity_move_fragment_is_the_small_in_card_form(client, rep, opportunity, pipeline):
    client.force_login(rep)
    response = client.get(
        _url("opportunity_move", opportunity) + "?next=/pipeline/board/", HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    assert body.lstrip().startswith('<form class="card-move-form"')
    assert "csrfmiddlewaretoken" in body and 'name="version" value="1"' in body
    assert f'<option value="{stage(pipeline, "Qualification").pk}" selected>' in body
    assert f'value="{stage(pipeline, "Lost").pk}"' not in body  # lost goes through "Lost…"
    assert _url("opportunity_close_lost", opportunity) + "?next=/pipeline/board/" in body


def test_opportunity_move_page_refusal_keeps_the_choice_and_says_why(
    client, rep, opportunity, pipeline
):
    client.force_login(rep)
    negotiation = stage(pipeline, "Negotiation")
    response = client.post(
        _url("opportunity_move", opportunity), {"stage": negotiation.pk, "version": 1}
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "decision-maker" in body and f'<option value="{negotiation.pk}" selected>' in body
    assert _fresh(opportunity).stage.name == "Qualification"


def test_opportunity_move_page_on_a_stale_version_shows_the_deal_now(
    client, rep, manager, opportunity, pipeline
):
    services.update_opportunity(opportunity=opportunity, by=manager, version=1, amount=777)
    client.force_login(rep)
    discovery = stage(pipeline, "Discovery")
    response = client.post(
        _url("opportunity_move", opportunity), {"stage": discovery.pk, "version": 1}
    )
    assert response.status_code == 409
    body = response.content.decode()
    assert "Someone else changed" in body and "$777" in body and "Nothing was moved" in body
    assert 'name="version" value="2"' in body  # moving again applies to the current deal
    assert f'<option value="{discovery.pk}" selected>' in body
    assert _fresh(opportunity).stage.name == "Qualification"
    again = client.post(
        _url("opportunity_move", opportunity), {"stage": discovery.pk, "version": 2}
    )
    assert again.status_code == 302 and _fresh(opportunity).stage == discovery


def test_opportunity_move_page_is_a_404_out_of_scope(client, rep2, outsider, opportunity):
    for user in (rep2, outsider):
        client.force_login(user)
        assert client.get(_url("opportunity_move", opportunity)).status_code == 404
        fragment = client.get(_url("opportunity_move", opportunity), HTTP_HX_REQUEST="true")
        assert fragment.status_code == 404


@pytest.mark.parametrize("data", [{}, {"stage": "x"}, {"stage": "1", "version": "abc"}])
def test_opportunity_move_page_bad_input_shows_field_errors(client, rep, opportunity, data):
    client.force_login(rep)
    response = client.post(_url("opportunity_move", opportunity), data)
    assert response.status_code == 400 and response.context["form"].errors
    assert _fresh(opportunity).version == 1


def test_opportunity_move_reopen_is_for_managers(client, rep, manager, opportunity, pipeline):
    won = services.close_won(opportunity=opportunity, version=current_version(opportunity), by=rep)
    client.force_login(rep)
    data = {"stage": stage(pipeline, "Discovery").pk, "version": won.version}
    refused = _json(client, _url("opportunity_move", won), data)
    assert refused.status_code == 403 and "Only the owner's manager" in refused.json()["message"]
    client.force_login(manager)
    assert _json(client, _url("opportunity_move", won), data).status_code == 200
    assert _fresh(won).stage.name == "Discovery"


# --- close won / lost ------------------------------------------------------------------------


def test_opportunity_close_won_closes_the_deal(client, rep, opportunity):
    client.force_login(rep)
    assert client.get(_url("opportunity_close_won", opportunity)).status_code == 200
    response = client.post(
        _url("opportunity_close_won", opportunity), {"version": 1, "closed_on": "2026-11-20"}
    )
    assert response.status_code == 302
    fresh = _fresh(opportunity)
    assert fresh.stage.is_won and fresh.closed_on == dt.date(2026, 11, 20)


def test_opportunity_close_won_bad_date_is_an_error_in_place(client, rep, opportunity):
    client.force_login(rep)
    response = client.post(
        _url("opportunity_close_won", opportunity), {"version": 1, "closed_on": "yesterday"}
    )
    assert response.status_code == 400 and "closed_on" in response.context["form"].errors
    assert _fresh(opportunity).is_open


def test_opportunity_close_lost_asks_for_a_reason(client, rep, opportunity, lost_reason):
    LostReasonFactory(name="Retired reason", is_active=False)
    client.force_login(rep)
    page = client.get(_url("opportunity_close_lost", opportunity))
    assert page.status_code == 200
    assert list(page.context["form"].fields["lost_reason"].queryset) == [lost_reason]
    missing = client.post(
        _url("opportunity_close_lost", opportunity), {"version": 1, "lost_note": "Budget cut"}
    )
    assert missing.status_code == 400
    assert "Choose why the deal was lost." in missing.content.decode()
    assert 'value="Budget cut"' in missing.content.decode()
    assert _fresh(opportunity).is_open
    ok = client.post(
        _url("opportunity_close_lost", opportunity),
        {"version": 1, "lost_reason": lost_reason.pk, "next": "/pipeline/board/"},
    )
    assert ok.status_code == 302 and ok["Location"] == "/pipeline/board/"
    assert _fresh(opportunity).stage.is_lost


def test_opportunity_close_lost_stale_version_says_so(client, rep, opportunity, lost_reason):
    services.update_opportunity(opportunity=opportunity, by=rep, version=1, next_step="x")
    client.force_login(rep)
    response = client.post(
        _url("opportunity_close_lost", opportunity), {"version": 1, "lost_reason": lost_reason.pk}
    )
    assert response.status_code == 400 and "Someone else changed" in response.content.decode()
    assert _fresh(opportunity).is_open


def test_opportunity_move_json_response_is_valid_json_on_404(client, rep2, opportunity):
    client.force_login(rep2)
    response = _json(client, _url("opportunity_move", opportunity), {"stage": 1, "version": 1})
    assert response.status_code == 404
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)


def test_opportunity_create_company_dropdown_is_bounded_with_a_search(
    client, admin_user, rep, pipeline, monkeypatch
):
    from pipeline.forms import opportunities as forms_module

    monkeypatch.setattr(forms_module, "CHOICE_LIMIT", 3)
    for name in ("Alpha", "Beta", "Gamma", "Delta", "Omega"):
        CompanyFactory(owner=rep, name=name)
    client.force_login(admin_user)
    url = reverse("pipeline:opportunity_create")
    page = client.get(url)
    labels = [label for _, label in page.context["form"].fields["company"].choices][1:]
    assert labels == ["Alpha", "Beta", "Delta"]
    assert "search by name to find others" in page.content.decode()
    found = client.get(url, {"company_q": "meg"})
    assert [label for _, label in found.context["form"].fields["company"].choices][1:] == ["Omega"]
    # A company outside the listed ones is still accepted.
    omega = Company.objects.get(name="Omega")
    response = client.post(url, _create_data(omega, pipeline, rep, name="Big deal"))
    assert response.status_code == 302
    assert Opportunity.objects.get(name="Big deal").company == omega
