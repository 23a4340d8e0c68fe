"""Django admin for the sales domain: pages load for admins (role admin, not superuser), are
refused to reps and managers, deals and transitions are read-only, and the pipeline form
refuses an inconsistent set of stages with a clear message."""

import pytest
from django.urls import reverse

from pipeline import services
from pipeline.models import Pipeline, Stage
from tests.factories import ContactFactory, LeadFactory, stage


@pytest.fixture
def records(rep, pipeline, lost_reason, opportunity):
    contact = ContactFactory(owner=rep, company=opportunity.company)
    lead = LeadFactory(owner=rep)
    activity = services.log_activity(by=rep, kind="call", subject="Hi", opportunity=opportunity)
    return {
        "pipeline": pipeline,
        "lostreason": lost_reason,
        "company": opportunity.company,
        "contact": contact,
        "lead": lead,
        "opportunity": opportunity,
        "stagetransition": opportunity.transitions.get(),
        "activity": activity,
    }


MODELS = [
    "pipeline",
    "lostreason",
    "company",
    "contact",
    "lead",
    "opportunity",
    "stagetransition",
    "activity",
]


def _urls(records, model):
    obj = records[model]
    return [
        reverse(f"admin:pipeline_{model}_changelist"),
        reverse(f"admin:pipeline_{model}_change", args=[obj.pk]),
    ]


@pytest.mark.parametrize("model", MODELS)
def test_admin_pages_load_for_admin_role(client, admin_user, records, model):
    assert not admin_user.is_superuser and not admin_user.is_staff
    client.force_login(admin_user)
    for url in _urls(records, model):
        response = client.get(url)
        assert response.status_code == 200, url


@pytest.mark.parametrize("model", MODELS)
def test_admin_pages_refused_to_rep_and_manager(client, rep, manager, records, model):
    for user in (rep, manager):
        client.force_login(user)
        for url in _urls(records, model):
            response = client.get(url)
            assert response.status_code == 302, url
            assert response["Location"].startswith(reverse("admin:login"))


def test_admin_index_lists_the_domain_for_admin(client, admin_user):
    client.force_login(admin_user)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 200
    for label in (b"Pipelines", b"Lost reasons", b"Stage transitions", b"Teams", b"Users"):
        assert label in response.content


def test_admin_add_forms_load_where_adding_is_allowed(client, admin_user, records):
    client.force_login(admin_user)
    for model in ("pipeline", "lostreason", "company", "contact", "lead", "activity"):
        assert client.get(reverse(f"admin:pipeline_{model}_add")).status_code == 200, model
    for model in ("opportunity", "stagetransition"):
        assert client.get(reverse(f"admin:pipeline_{model}_add")).status_code == 403, model


def test_admin_opportunity_is_read_only(client, admin_user, opportunity):
    client.force_login(admin_user)
    url = reverse("admin:pipeline_opportunity_change", args=[opportunity.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert b'name="amount"' not in page.content and b"Qualification" in page.content
    response = client.post(url, {"name": "Hacked", "amount": "1"})
    assert response.status_code == 403
    opportunity.refresh_from_db()
    assert opportunity.name == "Acme — 40 seats"
    history = client.get(reverse("admin:pipeline_opportunity_history", args=[opportunity.pk]))
    assert history.status_code == 200


def test_admin_help_texts_write_percentages_as_the_pages_do(client, admin_user, opportunity):
    client.force_login(admin_user)
    deal = client.get(reverse("admin:pipeline_opportunity_change", args=[opportunity.pk]))
    assert "Override of the stage's probability (0–100%)" in deal.content.decode()
    page = client.get(reverse("admin:pipeline_pipeline_change", args=[opportunity.pipeline_id]))
    assert "Default win probability (0–100%) of deals in this stage" in page.content.decode()


def test_admin_stage_transition_is_read_only(client, admin_user, opportunity):
    client.force_login(admin_user)
    transition = opportunity.transitions.get()
    url = reverse("admin:pipeline_stagetransition_change", args=[transition.pk])
    assert client.post(url, {"amount": "1"}).status_code == 403
    delete = reverse("admin:pipeline_stagetransition_delete", args=[transition.pk])
    assert client.get(delete).status_code == 403
    transition.refresh_from_db()
    assert transition.amount == opportunity.amount


# --- the pipeline form with its stages inline ------------------------------------------------


def _pipeline_post(pipeline, stages, **overrides):
    """The change form as the browser posts it: ``stages`` is a list of dicts."""
    data = {
        "name": pipeline.name if pipeline else "Partners",
        "position": "0",
        "is_active": "on",
        "probability_source": "configured",
        "stages-TOTAL_FORMS": str(len(stages)),
        "stages-INITIAL_FORMS": str(sum(1 for s in stages if s.get("id"))),
        "stages-MIN_NUM_FORMS": "0",
        "stages-MAX_NUM_FORMS": "1000",
    }
    for i, st in enumerate(stages):
        prefix = f"stages-{i}-"
        data[prefix + "id"] = st.get("id", "")
        data[prefix + "pipeline"] = pipeline.pk if pipeline else ""
        data[prefix + "position"] = str(st.get("position", i))
        data[prefix + "name"] = st["name"]
        data[prefix + "kind"] = st["kind"]
        data[prefix + "probability"] = str(st["probability"])
        data[prefix + "forecast_category"] = st["forecast_category"]
        data[prefix + "rot_after_days"] = st.get("rot_after_days", "")
        data[prefix + "exit_criteria"] = st.get("exit_criteria", [])
        if st.get("DELETE"):
            data[prefix + "DELETE"] = "on"
    data.update(overrides)
    return data


def _existing(pipeline):
    return [
        {
            "id": s.pk,
            "position": s.position,
            "name": s.name,
            "kind": s.kind,
            "probability": s.probability,
            "forecast_category": s.forecast_category,
            "rot_after_days": s.rot_after_days or "",
            "exit_criteria": s.exit_criteria,
        }
        for s in pipeline.stages.order_by("position", "id")
    ]


def _errors(response):
    return " ".join(
        str(e) for e in response.context["inline_admin_formsets"][0].formset.non_form_errors()
    )


def test_admin_pipeline_unchanged_post_saves(client, admin_user, pipeline):
    client.force_login(admin_user)
    url = reverse("admin:pipeline_pipeline_change", args=[pipeline.pk])
    response = client.post(url, _pipeline_post(pipeline, _existing(pipeline)))
    assert response.status_code == 302
    assert pipeline.stages.count() == 6
    assert stage(pipeline, "Proposal").exit_criteria == ["amount", "expected_close_date"]


def test_admin_pipeline_edits_stage_probability_and_criteria(client, admin_user, pipeline):
    client.force_login(admin_user)
    stages = _existing(pipeline)
    stages[1].update(probability=30, exit_criteria=["next_step"])
    url = reverse("admin:pipeline_pipeline_change", args=[pipeline.pk])
    assert client.post(url, _pipeline_post(pipeline, stages)).status_code == 302
    discovery = stage(pipeline, "Discovery")
    assert (discovery.probability, discovery.exit_criteria) == (30, ["next_step"])


def test_admin_pipeline_refuses_two_won_stages(client, admin_user, pipeline):
    client.force_login(admin_user)
    stages = _existing(pipeline)
    stages.append(
        {"name": "Won again", "kind": "won", "probability": 100, "forecast_category": "closed"}
    )
    url = reverse("admin:pipeline_pipeline_change", args=[pipeline.pk])
    response = client.post(url, _pipeline_post(pipeline, stages))
    assert response.status_code == 200
    assert "a pipeline needs exactly one won stage (this one has 2)" in _errors(response)
    assert pipeline.stages.filter(kind="won").count() == 1


def test_admin_pipeline_refuses_removing_the_lost_stage(client, admin_user):
    client.force_login(admin_user)
    from tests.factories import PipelineFactory

    fresh = PipelineFactory(name="Unused")
    stages = _existing(fresh)
    stages[-1]["DELETE"] = True
    url = reverse("admin:pipeline_pipeline_change", args=[fresh.pk])
    response = client.post(url, _pipeline_post(fresh, stages))
    assert response.status_code == 200
    assert "a pipeline needs at least one lost stage" in _errors(response)
    assert fresh.stages.filter(kind="lost").exists()


def test_admin_pipeline_add_without_lost_or_won_stage_names_both(client, admin_user):
    client.force_login(admin_user)
    stages = [{"name": "Talk", "kind": "open", "probability": 20, "forecast_category": "pipeline"}]
    response = client.post(reverse("admin:pipeline_pipeline_add"), _pipeline_post(None, stages))
    assert response.status_code == 200
    assert _errors(response) == (
        "Please fix the stages: a pipeline needs exactly one won stage (this one has 0); "
        "a pipeline needs at least one lost stage."
    )
    assert not Pipeline.objects.filter(name="Partners").exists()


def test_admin_pipeline_add_valid(client, admin_user):
    client.force_login(admin_user)
    stages = [
        {"name": "Talk", "kind": "open", "probability": 20, "forecast_category": "pipeline"},
        {"name": "Signed", "kind": "won", "probability": 100, "forecast_category": "closed"},
        {"name": "Gone", "kind": "lost", "probability": 0, "forecast_category": "omitted"},
    ]
    response = client.post(reverse("admin:pipeline_pipeline_add"), _pipeline_post(None, stages))
    assert response.status_code == 302
    created = Pipeline.objects.get(name="Partners")
    assert [s.name for s in created.stages.all()] == ["Talk", "Signed", "Gone"]


def test_admin_pipeline_refuses_duplicate_names_and_bad_won_probability(
    client, admin_user, pipeline
):
    client.force_login(admin_user)
    url = reverse("admin:pipeline_pipeline_change", args=[pipeline.pk])
    stages = _existing(pipeline)
    stages[1]["name"] = "qualification"
    response = client.post(url, _pipeline_post(pipeline, stages))
    assert response.status_code == 200
    assert "Two stages are named “qualification”." in _errors(response)
    stages = _existing(pipeline)
    stages[4]["probability"] = 90
    response = client.post(url, _pipeline_post(pipeline, stages))
    assert response.status_code == 200
    assert b"A won stage has probability 100." in response.content
    assert stage(pipeline, "Won").probability == 100


def test_admin_pipeline_refuses_deleting_a_stage_with_deals(
    client, admin_user, pipeline, opportunity
):
    client.force_login(admin_user)
    stages = _existing(pipeline)
    stages[0]["DELETE"] = True
    url = reverse("admin:pipeline_pipeline_change", args=[pipeline.pk])
    response = client.post(url, _pipeline_post(pipeline, stages))
    assert response.status_code == 200
    assert b"would require deleting the following protected related objects" in response.content
    assert Stage.objects.filter(pk=stages[0]["id"]).exists()


def test_admin_pipeline_changelist_is_one_query_for_stages(
    client, admin_user, pipeline, django_assert_max_num_queries
):
    from tests.factories import PipelineFactory

    client.force_login(admin_user)
    url = reverse("admin:pipeline_pipeline_changelist")
    client.get(url)
    with django_assert_max_num_queries(12):
        assert client.get(url).status_code == 200
    for i in range(10):
        PipelineFactory(name=f"P{i}")
    with django_assert_max_num_queries(12):
        response = client.get(url)
    assert b"Qualification \xe2\x86\x92 Discovery" in response.content


def test_admin_changelists_query_count_does_not_grow_with_rows(
    client, admin_user, rep, pipeline, django_assert_max_num_queries
):
    from tests.factories import CompanyFactory, OpportunityFactory

    client.force_login(admin_user)
    company = CompanyFactory(owner=rep)
    urls = [
        reverse(f"admin:pipeline_{model}_changelist")
        for model in ("opportunity", "stagetransition", "activity", "lead", "company")
    ]

    def add(n):
        for _ in range(n):
            deal = OpportunityFactory(owner=rep, pipeline=pipeline, company=company)
            services.log_activity(by=rep, kind="note", subject="n", opportunity=deal)
            LeadFactory(owner=rep)

    def counts():
        result = []
        for url in urls:
            with django_assert_max_num_queries(16) as queries:
                assert client.get(url).status_code == 200
            result.append(len(queries.captured_queries))
        return result

    add(10)
    counts()  # warm the session and content types
    small = counts()
    add(200)
    assert counts() == small


def test_admin_pipeline_refuses_changing_kind_of_a_stage_with_deals(
    client, admin_user, pipeline, opportunity
):
    """Turning Qualification (one deal in it) into a lost stage would close that deal behind
    the services' back; an empty stage may change kind."""
    client.force_login(admin_user)
    url = reverse("admin:pipeline_pipeline_change", args=[pipeline.pk])
    stages = _existing(pipeline)
    stages[0].update(kind="lost", probability=0, forecast_category="omitted")
    response = client.post(url, _pipeline_post(pipeline, stages))
    assert response.status_code == 200
    form = response.context["inline_admin_formsets"][0].formset.forms[0]
    assert form.errors == {
        "kind": ["1 deal is in this stage; move it to another stage before changing its kind."]
    }
    assert stage(pipeline, "Qualification").kind == "open"
    stages = _existing(pipeline)
    stages[1].update(kind="lost", probability=0, forecast_category="omitted")
    assert client.post(url, _pipeline_post(pipeline, stages)).status_code == 302
    assert stage(pipeline, "Discovery").kind == "lost"


def test_admin_activity_form_reports_constraint_instead_of_crashing(
    client, admin_user, rep, opportunity
):
    client.force_login(admin_user)
    call = services.log_activity(by=rep, kind="call", subject="Intro", opportunity=opportunity)
    url = reverse("admin:pipeline_activity_change", args=[call.pk])
    data = {
        "kind": "call",
        "subject": "Intro",
        "body": "",
        "owner": rep.pk,
        "opportunity": opportunity.pk,
        "occurred_at_0": "2026-03-01",
        "occurred_at_1": "10:00:00",
        "due_on": "2026-03-05",
        "created_at": "",
    }
    response = client.post(url, data)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors == {"due_on": ["Only tasks have a due date or a done time."]}
    call.refresh_from_db()
    assert call.due_on is None
    del data["opportunity"], data["due_on"]
    response = client.post(url, data)
    assert response.context["adminform"].form.errors == {
        "opportunity": ["Attach the activity to a lead, deal, contact or company."]
    }


def test_admin_cannot_delete_an_opportunity_and_its_history(client, admin_user, opportunity):
    from django.urls import reverse

    client.force_login(admin_user)
    url = reverse("admin:pipeline_opportunity_delete", args=[opportunity.pk])
    assert client.get(url).status_code == 403
    assert client.post(url, {"post": "yes"}).status_code == 403
    assert opportunity.transitions.count() == 1
