"""Lead pages: list, create, edit, detail, qualify, start, disqualify, convert — for each role,
with bad input, and with pinned query budgets."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from pipeline import services
from pipeline.models import Company, Contact, Lead, Opportunity
from tests.factories import CompanyFactory, ContactFactory, LeadFactory, stored_version

pytestmark = pytest.mark.django_db


def _prospect(owner, **kw):
    kw.setdefault("need", "Replace spreadsheets")
    kw.setdefault("budget", Decimal("20000"))
    kw.setdefault("timeline", "This quarter")
    lead = LeadFactory(owner=owner, **kw)
    return services.qualify_lead(lead=lead, by=owner)


# --- list ------------------------------------------------------------------------------------


def test_lead_list_requires_login(client):
    response = client.get(reverse("pipeline:lead_list"))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_lead_list_rep_sees_only_own_leads(client, rep, rep2, outsider):
    mine = LeadFactory(owner=rep, first_name="Mine")
    LeadFactory(owner=rep2, first_name="Teammate")
    LeadFactory(owner=outsider, first_name="Stranger")
    client.force_login(rep)
    response = client.get(reverse("pipeline:lead_list"))
    assert response.status_code == 200
    assert list(response.context["page_obj"].object_list) == [mine]
    assert b"Teammate" not in response.content and b"Stranger" not in response.content


def test_lead_list_manager_sees_team_not_other_team(client, manager, rep, rep2, outsider):
    LeadFactory(owner=rep)
    LeadFactory(owner=rep2)
    LeadFactory(owner=outsider)
    client.force_login(manager)
    response = client.get(reverse("pipeline:lead_list"))
    owners = {lead.owner for lead in response.context["page_obj"].object_list}
    assert owners == {rep, rep2}


def test_lead_list_admin_sees_everyone(client, admin_user, rep, outsider):
    LeadFactory(owner=rep)
    LeadFactory(owner=outsider)
    client.force_login(admin_user)
    response = client.get(reverse("pipeline:lead_list"))
    assert response.context["page_obj"].paginator.count == 2


def test_lead_list_defaults_to_open_leads(client, rep):
    open_lead = LeadFactory(owner=rep)
    gone = LeadFactory(owner=rep)
    services.disqualify_lead(lead=gone, by=rep, reason="No budget")
    client.force_login(rep)
    response = client.get(reverse("pipeline:lead_list"))
    assert list(response.context["page_obj"].object_list) == [open_lead]
    response = client.get(reverse("pipeline:lead_list"), {"status": "all"})
    assert response.context["page_obj"].paginator.count == 2


def test_lead_list_owner_filter_cannot_name_another_team(client, manager, rep, outsider):
    LeadFactory(owner=rep)
    LeadFactory(owner=outsider, first_name="Hidden")
    client.force_login(manager)
    response = client.get(reverse("pipeline:lead_list"), {"owner": outsider.pk})
    assert response.status_code == 200
    assert b"Hidden" not in response.content
    # The unknown choice is ignored: the manager sees their own scope, nothing more.
    assert {lead.owner for lead in response.context["page_obj"].object_list} == {rep}
    choices = list(response.context["filter"].form.fields["owner"].queryset)
    assert outsider not in choices and rep in choices


def test_lead_list_owner_dropdown_hidden_for_reps(client, rep, rep2):
    client.force_login(rep)
    response = client.get(reverse("pipeline:lead_list"))
    assert b'name="owner"' not in response.content
    assert list(response.context["filter"].form.fields["owner"].queryset) == [rep]


def test_lead_list_search_and_sort_are_kept_in_links(client, rep):
    LeadFactory(owner=rep, first_name="Ann", last_name="Zed")
    LeadFactory(owner=rep, first_name="Bob", last_name="Abe")
    client.force_login(rep)
    response = client.get(reverse("pipeline:lead_list"), {"sort": "name"})
    assert [x.last_name for x in response.context["page_obj"].object_list] == ["Abe", "Zed"]
    response = client.get(reverse("pipeline:lead_list"), {"sort": "-name", "q": "a"})
    assert [x.last_name for x in response.context["page_obj"].object_list] == ["Zed", "Abe"]
    assert b'aria-sort="descending"' in response.content
    assert b"q=a" in response.content  # header links keep the search


@pytest.mark.parametrize(
    "params",
    [
        {"sort": "password"},
        {"sort": "owner__password"},
        {"status": "nonsense"},
        {"source": "<script>"},
        {"owner": "abc"},
        {"owner": "99999999999999999999999"},
        {"page": "-1"},
        {"page": "abc"},
        {"page": "99999"},
        {"q": "x" * 500},
        {"q": "%_\\'\";--"},
    ],
)
def test_lead_list_bad_parameters_never_fail(client, rep, params):
    LeadFactory(owner=rep)
    client.force_login(rep)
    response = client.get(reverse("pipeline:lead_list"), params)
    assert response.status_code == 200


def test_lead_list_paginates_by_fifty(client, rep):
    LeadFactory.create_batch(55, owner=rep)
    client.force_login(rep)
    first = client.get(reverse("pipeline:lead_list"))
    assert len(first.context["page_obj"].object_list) == 50
    second = client.get(reverse("pipeline:lead_list"), {"page": 2})
    assert len(second.context["page_obj"].object_list) == 5
    assert b"Previous" in second.content


def test_lead_list_empty_state_says_what_to_do(client, rep):
    client.force_login(rep)
    response = client.get(reverse("pipeline:lead_list"))
    assert b"Add a lead" in response.content
    response = client.get(reverse("pipeline:lead_list"), {"q": "nobody"})
    assert b"No leads match" in response.content


@pytest.mark.parametrize("rows", [10, 220])
def test_lead_list_query_budget_does_not_grow(
    client, manager, rep, rep2, rows, django_assert_max_num_queries
):
    for i in range(rows):
        LeadFactory(owner=rep if i % 2 else rep2)
    client.force_login(manager)
    with django_assert_max_num_queries(7):  # 6 + the header bell's unread count
        response = client.get(reverse("pipeline:lead_list"), {"sort": "owner"})
    assert response.status_code == 200


# --- detail ----------------------------------------------------------------------------------


def test_lead_detail_owner_manager_admin_see_it(client, rep, manager, admin_user):
    lead = LeadFactory(owner=rep)
    for user in (rep, manager, admin_user):
        client.force_login(user)
        assert client.get(lead.get_absolute_url()).status_code == 200


def test_lead_detail_other_rep_and_other_manager_get_404(client, rep, rep2, outsider):
    lead = LeadFactory(owner=rep)
    for user in (rep2, outsider):
        client.force_login(user)
        assert client.get(lead.get_absolute_url()).status_code == 404


def test_lead_detail_shows_activities_in_timeline(client, rep):
    lead = LeadFactory(owner=rep)
    services.log_activity(by=rep, kind="call", subject="Intro call", lead=lead)
    client.force_login(rep)
    response = client.get(lead.get_absolute_url())
    assert b"Intro call" in response.content
    assert b'name="lead"' in response.content  # the log-activity form targets this lead


def test_lead_detail_unknown_id_is_404(client, rep):
    client.force_login(rep)
    assert client.get("/pipeline/leads/999999/").status_code == 404


@pytest.mark.parametrize("activities", [2, 60])
def test_lead_detail_query_budget_does_not_grow(
    client, rep, activities, django_assert_max_num_queries
):
    lead = LeadFactory(owner=rep)
    for i in range(activities):
        services.log_activity(by=rep, kind="note", subject=f"Note {i}", lead=lead)
    client.force_login(rep)
    with django_assert_max_num_queries(5):
        assert client.get(lead.get_absolute_url()).status_code == 200


# --- create and edit -------------------------------------------------------------------------

VALID = {"first_name": "Dana", "last_name": "Lee", "company_name": "Acme", "source": "event"}


def test_lead_create_rep_owns_the_new_lead(client, rep):
    client.force_login(rep)
    response = client.post(reverse("pipeline:lead_create"), {**VALID, "budget": "1200.50"})
    lead = Lead.objects.get()
    assert response.status_code == 302 and response["Location"] == lead.get_absolute_url()
    assert lead.owner == rep and lead.status == "new" and lead.budget == Decimal("1200.50")


def test_lead_create_bad_input_keeps_what_was_typed(client, rep):
    client.force_login(rep)
    response = client.post(
        reverse("pipeline:lead_create"),
        {**VALID, "first_name": "", "email": "not-an-email", "budget": "-5", "source": "tv"},
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert set(errors) >= {"first_name", "email", "budget", "source"}
    assert b'value="not-an-email"' in response.content
    assert b'value="Lee"' in response.content
    assert b'aria-invalid="true"' in response.content
    assert not Lead.objects.exists()


def test_lead_create_too_many_decimals_is_a_field_error(client, rep):
    client.force_login(rep)
    response = client.post(reverse("pipeline:lead_create"), {**VALID, "budget": "10.123"})
    assert "budget" in response.context["form"].errors
    assert not Lead.objects.exists()


def test_lead_create_manager_assigns_to_team_member(client, manager, rep):
    client.force_login(manager)
    client.post(reverse("pipeline:lead_create"), {**VALID, "owner": rep.pk})
    assert Lead.objects.get().owner == rep


def test_lead_create_manager_cannot_assign_outside_team(client, manager, outsider):
    client.force_login(manager)
    response = client.post(reverse("pipeline:lead_create"), {**VALID, "owner": outsider.pk})
    assert response.status_code == 200
    assert "owner" in response.context["form"].errors
    assert not Lead.objects.exists()
    choices = list(response.context["form"].fields["owner"].queryset)
    assert outsider not in choices


def test_lead_create_rep_cannot_assign_someone_else(client, rep, rep2):
    client.force_login(rep)
    client.post(reverse("pipeline:lead_create"), {**VALID, "owner": rep2.pk})
    assert Lead.objects.get().owner == rep  # the owner field is not offered to reps


def test_lead_edit_saves_changes(client, rep):
    lead = LeadFactory(owner=rep, first_name="Old")
    client.force_login(rep)
    response = client.post(
        reverse("pipeline:lead_edit", args=[lead.pk]), {**VALID, "first_name": "New", "version": 1}
    )
    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.first_name == "New" and lead.source == "event"


def test_lead_edit_other_rep_gets_404(client, rep, rep2):
    lead = LeadFactory(owner=rep)
    client.force_login(rep2)
    assert client.get(reverse("pipeline:lead_edit", args=[lead.pk])).status_code == 404
    assert client.post(reverse("pipeline:lead_edit", args=[lead.pk]), VALID).status_code == 404


def test_lead_edit_manager_may_edit_team_lead(client, manager, rep):
    lead = LeadFactory(owner=rep)
    client.force_login(manager)
    response = client.post(
        reverse("pipeline:lead_edit", args=[lead.pk]),
        {**VALID, "owner": rep.pk, "title": "CTO", "version": 1},
    )
    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.title == "CTO"


def test_lead_edit_closed_lead_is_refused(client, rep):
    lead = LeadFactory(owner=rep, first_name="Alex")  # not VALID's "Dana"
    services.disqualify_lead(lead=lead, by=rep, reason="Student")
    client.force_login(rep)
    response = client.post(reverse("pipeline:lead_edit", args=[lead.pk]), VALID, follow=True)
    assert b"can no longer be edited" in response.content
    lead.refresh_from_db()
    assert lead.first_name == "Alex"


# --- qualify, start, disqualify --------------------------------------------------------------


def test_lead_qualify_makes_a_prospect(client, rep):
    lead = LeadFactory(owner=rep)
    client.force_login(rep)
    response = client.post(reverse("pipeline:lead_qualify", args=[lead.pk]))
    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.status == "prospect" and lead.qualified_at is not None


def test_lead_qualify_requires_post(client, rep):
    lead = LeadFactory(owner=rep)
    client.force_login(rep)
    assert client.get(reverse("pipeline:lead_qualify", args=[lead.pk])).status_code == 405


def test_lead_qualify_other_rep_404_and_outsider_manager_404(client, rep, rep2, outsider):
    lead = LeadFactory(owner=rep)
    for user in (rep2, outsider):
        client.force_login(user)
        assert client.post(reverse("pipeline:lead_qualify", args=[lead.pk])).status_code == 404
    lead.refresh_from_db()
    assert lead.status == "new"


def test_lead_qualify_disqualified_lead_shows_message(client, rep):
    lead = LeadFactory(owner=rep)
    services.disqualify_lead(lead=lead, by=rep, reason="Competitor")
    client.force_login(rep)
    response = client.post(reverse("pipeline:lead_qualify", args=[lead.pk]), follow=True)
    assert b"cannot be qualified" in response.content
    lead.refresh_from_db()
    assert lead.status == "disqualified"


def test_lead_start_marks_working(client, rep):
    lead = LeadFactory(owner=rep)
    client.force_login(rep)
    client.post(reverse("pipeline:lead_start", args=[lead.pk]))
    lead.refresh_from_db()
    assert lead.status == "working"


def test_lead_disqualify_needs_a_reason(client, rep):
    lead = LeadFactory(owner=rep)
    client.force_login(rep)
    url = reverse("pipeline:lead_disqualify", args=[lead.pk])
    assert client.get(url).status_code == 200
    response = client.post(url, {"reason": "   "})
    assert response.status_code == 200 and "reason" in response.context["form"].errors
    lead.refresh_from_db()
    assert lead.status == "new"
    response = client.post(url, {"reason": "No budget this year"})
    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.status == "disqualified" and lead.disqualification_reason == "No budget this year"


def test_lead_disqualify_other_rep_gets_404(client, rep, rep2):
    lead = LeadFactory(owner=rep)
    client.force_login(rep2)
    url = reverse("pipeline:lead_disqualify", args=[lead.pk])
    assert client.post(url, {"reason": "x"}).status_code == 404
    lead.refresh_from_db()
    assert lead.status == "new"


# --- convert ---------------------------------------------------------------------------------


def _convert_data(pl, lead=None, **kw):
    """The convert form's fields; with ``lead``, the lead's version the page carries."""
    data = {
        "need": "Replace spreadsheets",
        "budget": "20000",
        "timeline": "This quarter",
        "amount": "18000.00",
        "expected_close_date": (dt.date.today() + dt.timedelta(days=40)).isoformat(),
        "pipeline": pl.pk,
        "company_name": "Acme Corp",
    }
    if lead is not None:
        data["version"] = stored_version(lead)
    data.update(kw)
    return data


def test_lead_convert_creates_company_contact_and_deal(client, rep, pipeline):
    lead = _prospect(rep, first_name="Dana", last_name="Lee", email="dana@acme.test")
    client.force_login(rep)
    url = reverse("pipeline:lead_convert", args=[lead.pk])
    assert client.get(url).status_code == 200
    response = client.post(url, _convert_data(pipeline, lead=lead, contact_is_decision_maker="on"))
    opp = Opportunity.objects.get()
    assert response.status_code == 302 and response["Location"] == opp.get_absolute_url()
    assert opp.amount == Decimal("18000.00") and opp.owner == rep
    assert opp.company.name == "Acme Corp" and opp.contact.email == "dana@acme.test"
    assert opp.contact.is_decision_maker
    assert opp.stage == pipeline.first_open_stage()
    lead.refresh_from_db()
    assert lead.status == "converted" and lead.opportunity == opp


def test_lead_convert_links_existing_company_and_contact(client, rep, pipeline):
    company = CompanyFactory(owner=rep, name="Globex")
    contact = ContactFactory(owner=rep, company=company)
    lead = _prospect(rep)
    client.force_login(rep)
    response = client.post(
        reverse("pipeline:lead_convert", args=[lead.pk]),
        _convert_data(pipeline, lead=lead, company=company.pk, company_name="", contact=contact.pk),
    )
    assert response.status_code == 302
    opp = Opportunity.objects.get()
    assert opp.company == company and opp.contact == contact
    assert Company.objects.count() == 1 and Contact.objects.count() == 1


def test_lead_convert_requires_need_budget_timeline_amount_and_date(client, rep, pipeline):
    lead = _prospect(rep)
    client.force_login(rep)
    data = _convert_data(
        pipeline, need="", budget="", timeline="", amount="", expected_close_date=""
    )
    response = client.post(
        reverse("pipeline:lead_convert", args=[lead.pk]), {**data, "version": stored_version(lead)}
    )
    assert response.status_code == 200
    assert set(response.context["form"].errors) >= {
        "need",
        "budget",
        "timeline",
        "amount",
        "expected_close_date",
    }
    assert not Opportunity.objects.exists()


@pytest.mark.parametrize(
    "field,value",
    [
        ("amount", "-1"),
        ("amount", "abc"),
        ("amount", "1e400"),
        ("amount", "12.345"),
        ("amount", "99999999999999999"),
        ("budget", "NaN"),
        ("expected_close_date", "2026-02-30"),
        ("expected_close_date", "tomorrow"),
        ("pipeline", "999999"),
        ("company", "abc"),
        ("contact", "999999"),
    ],
)
def test_lead_convert_bad_input_is_a_field_error_and_writes_nothing(
    client, rep, pipeline, field, value
):
    lead = _prospect(rep, need="Original need")
    client.force_login(rep)
    data = _convert_data(pipeline, lead=lead, need="Changed need", **{field: value})
    response = client.post(
        reverse("pipeline:lead_convert", args=[lead.pk]), {**data, "version": stored_version(lead)}
    )
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert f'value="{value}"'.encode() in response.content or field in (
        "pipeline",
        "company",
        "contact",
    )
    assert not Opportunity.objects.exists()
    lead.refresh_from_db()
    assert lead.status == "prospect" and lead.need == "Original need"


def test_lead_convert_needs_a_company(client, rep, pipeline):
    lead = _prospect(rep, company_name="")
    client.force_login(rep)
    response = client.post(
        reverse("pipeline:lead_convert", args=[lead.pk]),
        _convert_data(pipeline, lead=lead, company_name=""),
    )
    assert "company_name" in response.context["form"].errors
    assert not Opportunity.objects.exists()


def test_lead_convert_cannot_pick_company_or_contact_of_another_rep(client, rep, rep2, pipeline):
    theirs = CompanyFactory(owner=rep2, name="Secret Co")
    their_contact = ContactFactory(owner=rep2, company=theirs)
    lead = _prospect(rep)
    client.force_login(rep)
    url = reverse("pipeline:lead_convert", args=[lead.pk])
    page = client.get(url)
    assert b"Secret Co" not in page.content
    response = client.post(
        url, _convert_data(pipeline, lead=lead, company=theirs.pk, contact=their_contact.pk)
    )
    assert {"company", "contact"} <= set(response.context["form"].errors)
    assert not Opportunity.objects.exists()


def test_lead_convert_new_lead_must_be_qualified_first(client, rep, pipeline):
    lead = LeadFactory(owner=rep)
    client.force_login(rep)
    url = reverse("pipeline:lead_convert", args=[lead.pk])
    response = client.post(url, _convert_data(pipeline, lead=lead), follow=True)
    assert b"Qualify the lead" in response.content
    assert not Opportunity.objects.exists()


def test_lead_convert_other_rep_gets_404(client, rep, rep2, pipeline):
    lead = _prospect(rep)
    client.force_login(rep2)
    url = reverse("pipeline:lead_convert", args=[lead.pk])
    assert client.get(url).status_code == 404
    assert client.post(url, _convert_data(pipeline, lead=lead)).status_code == 404
    assert not Opportunity.objects.exists()


def test_lead_convert_manager_assigns_the_deal(client, manager, rep, rep2, pipeline):
    lead = _prospect(rep)
    client.force_login(manager)
    response = client.post(
        reverse("pipeline:lead_convert", args=[lead.pk]),
        _convert_data(pipeline, lead=lead, owner=rep2.pk),
    )
    assert response.status_code == 302
    assert Opportunity.objects.get().owner == rep2


def test_lead_convert_converted_lead_redirects_to_lead(client, rep, pipeline):
    lead = _prospect(rep)
    client.force_login(rep)
    client.post(
        reverse("pipeline:lead_convert", args=[lead.pk]),
        {**_convert_data(pipeline, lead=lead), "version": stored_version(lead)},
    )
    response = client.get(reverse("pipeline:lead_convert", args=[lead.pk]))
    assert response.status_code == 302 and response["Location"] == lead.get_absolute_url()
    assert Opportunity.objects.count() == 1


def _options(response, field):
    return [value for value, _ in response.context["form"].fields[field].widget.choices if value]


def test_lead_convert_dropdowns_list_likely_matches_and_search(client, rep, rep2, pipeline):
    umbrella = CompanyFactory(owner=rep, name="Umbrella Analytics")
    CompanyFactory.create_batch(3, owner=rep)
    hidden = CompanyFactory(owner=rep2, name="Umbrella Secret")
    lead = _prospect(rep, company_name="Umbrella Inc", first_name="Dana", last_name="Ito")
    same_person = ContactFactory(owner=rep, first_name="dana", last_name="ito", company=None)
    client.force_login(rep)
    url = reverse("pipeline:lead_convert", args=[lead.pk])
    response = client.get(url)
    assert _options(response, "company") == [umbrella.pk]
    assert _options(response, "contact") == [same_person.pk]
    other = CompanyFactory(owner=rep, name="Globex Systems")
    response = client.get(url, {"company_q": "globex"})
    assert _options(response, "company") == [other.pk]
    assert hidden.pk not in _options(client.get(url, {"company_q": "secret"}), "company")


def test_lead_convert_search_keeps_the_current_choice(client, rep, pipeline):
    chosen = CompanyFactory(owner=rep, name="Chosen Co")
    lead = _prospect(rep, company_name="Other")
    client.force_login(rep)
    url = reverse("pipeline:lead_convert", args=[lead.pk])
    response = client.get(url, {"company_q": "nothing-matches", "company": chosen.pk})
    assert _options(response, "company") == [chosen.pk]
    assert response.context["form"]["company"].value() == str(chosen.pk)


def test_lead_convert_caps_dropdown_and_accepts_any_visible_company(client, rep, pipeline):
    companies = CompanyFactory.create_batch(60, owner=rep, name="Same name")
    lead = _prospect(rep, company_name="Same name")
    client.force_login(rep)
    url = reverse("pipeline:lead_convert", args=[lead.pk])
    response = client.get(url)
    assert len(_options(response, "company")) == 50 and response.context["form"].company_more
    response = client.post(
        url, _convert_data(pipeline, lead=lead, company=companies[-1].pk, company_name="")
    )
    assert response.status_code == 302
    assert Opportunity.objects.get().company == companies[-1]


@pytest.mark.parametrize(
    "params", [{"company": "abc"}, {"contact": "99999999999999999999"}, {"company_q": "x" * 400}]
)
def test_lead_convert_odd_search_parameters_never_fail(client, rep, pipeline, params):
    lead = _prospect(rep)
    client.force_login(rep)
    assert client.get(reverse("pipeline:lead_convert", args=[lead.pk]), params).status_code == 200


def test_a_refused_filter_value_says_why_and_leaves_the_list_as_it_is_without_it(client, rep):
    """?status=bogus lists the open leads (the status filter's default), not every lead, and
    says under the field why the value was not used; so does a refused source."""
    open_lead = LeadFactory(owner=rep, last_name="Openfield")
    closed = LeadFactory(owner=rep, last_name="Closedfield")
    services.disqualify_lead(lead=closed, by=rep, reason="No fit")
    client.force_login(rep)
    for query in ({"status": "bogus"}, {"source": "zzz"}):
        response = client.get(reverse("pipeline:lead_list"), query)
        assert response.status_code == 200
        body = response.content.decode()
        assert open_lead.last_name in body
        assert closed.last_name not in body
        value = next(iter(query.values()))
        assert f"Select a valid choice. {value} is not one of the available choices." in body
        assert 'class="field-error" role="alert"' in body
    assert (
        closed.last_name
        in client.get(reverse("pipeline:lead_list"), {"status": "all"}).content.decode()
    )
