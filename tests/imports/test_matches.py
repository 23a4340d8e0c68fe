"""Deals without an external id: a row naming a deal that exists (same name, same company,
case and spacing aside, among the deals the user may see in the pipeline) is that deal,
skipped or updated as the user chose on the preview; never a silent duplicate."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse

from imports import services
from imports.models import ImportBatch
from pipeline.models import Opportunity
from tests.factories import CompanyFactory, OpportunityFactory, stage

NOW = dt.datetime(2024, 6, 14, 15, 0, tzinfo=dt.UTC)

FILE = (
    "Deal,Value,Stage,Account\r\n"
    "Alpha,100,Engaging,Acme\r\n"
    "Beta,200,Engaging,Acme\r\n"
    "Walk-in,50,Engaging,\r\n"
)


def options(pipeline, lost_reason, **extra):
    return {
        "pipeline": pipeline.pk,
        "stage_map": {
            "Engaging": stage(pipeline, "Discovery").pk,
            "Prospecting": stage(pipeline, "Qualification").pk,
        },
        "default_lost_reason": lost_reason.pk,
        **extra,
    }


@pytest.fixture(autouse=True)
def _frozen_now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.mark.django_db
def test_importing_the_same_file_again_creates_nothing(run_import, rep, pipeline, lost_reason):
    first = run_import(rep, "deals", FILE, **options(pipeline, lost_reason))
    assert first.counts["create"] == 3 and first.counts["match"] == 0
    again = run_import(rep, "deals", FILE, **options(pipeline, lost_reason))
    assert again.counts["create"] == 0
    assert again.counts["match"] == 3 and again.counts["skip"] == 3
    assert Opportunity.objects.count() == 3


@pytest.mark.django_db
def test_match_ignores_case_and_spacing_but_not_the_company(run_import, rep, pipeline, lost_reason):
    acme = CompanyFactory(owner=rep, name="Acme")
    OpportunityFactory(owner=rep, pipeline=pipeline, company=acme, name="Alpha  renewal")
    csv = "Deal,Value,Stage,Account\r\nALPHA renewal,100,Engaging,acme\r\n"
    batch = run_import(rep, "deals", csv, **options(pipeline, lost_reason))
    assert (batch.counts["match"], batch.counts["create"]) == (1, 0)
    other = "Deal,Value,Stage,Account\r\nAlpha renewal,100,Engaging,Globex\r\n"
    batch = run_import(rep, "deals", other, **options(pipeline, lost_reason))
    assert (batch.counts["match"], batch.counts["create"]) == (0, 1)  # another company


@pytest.mark.django_db
def test_rows_of_one_name_pair_with_the_deals_in_their_order(
    run_import, rep, pipeline, lost_reason
):
    csv = "Deal,Value,Stage,Account\r\nRenewal,100,Engaging,Acme\r\nRenewal,300,Engaging,Acme\r\n"
    run_import(rep, "deals", csv, **options(pipeline, lost_reason))
    assert Opportunity.objects.count() == 2  # two deals of one name in one file are two
    bigger = csv.replace("Renewal,300", "Renewal,350") + "Renewal,900,Engaging,Acme\r\n"
    update = options(pipeline, lost_reason, deal_matches="update")
    batch = run_import(rep, "deals", bigger, **update)
    assert (batch.counts["match"], batch.counts["update"], batch.counts["create"]) == (2, 1, 1)
    amounts = list(Opportunity.objects.order_by("pk").values_list("amount", flat=True))
    assert amounts == [Decimal("100.00"), Decimal("350.00"), Decimal("900.00")]


@pytest.mark.django_db
def test_update_goes_through_the_services_and_undo_restores(run_import, rep, pipeline, lost_reason):
    run_import(rep, "deals", FILE, **options(pipeline, lost_reason))
    changed = FILE.replace("Beta,200,Engaging", "Beta,250,Proposal")
    update = options(pipeline, lost_reason, deal_matches="update")
    batch = run_import(rep, "deals", changed, **update)
    assert (batch.counts["update"], batch.counts["skip"], batch.counts["create"]) == (1, 2, 0)
    beta = Opportunity.objects.get(name="Beta")
    assert (beta.amount, beta.stage.name) == (Decimal("250.00"), "Proposal")
    assert beta.history.count() == 2 and beta.transitions.count() == 3  # recorded as an edit
    services.undo(batch=batch, by=rep)
    beta.refresh_from_db()
    assert (beta.amount, beta.stage.name) == (Decimal("200.00"), "Discovery")
    assert Opportunity.objects.count() == 3


@pytest.mark.django_db
def test_a_deal_the_user_cannot_see_is_never_matched(
    run_import, rep, outsider, pipeline, lost_reason
):
    OpportunityFactory(owner=outsider, pipeline=pipeline, company=None, name="Walk-in")
    batch = run_import(rep, "deals", FILE, **options(pipeline, lost_reason))
    assert batch.counts["match"] == 0 and batch.counts["create"] == 3
    assert Opportunity.objects.filter(name="Walk-in").count() == 2
    OpportunityFactory(owner=rep, pipeline=pipeline, company=None, name="walk-in")
    batch = run_import(rep, "deals", FILE, **options(pipeline, lost_reason))
    assert batch.counts["match"] == 3  # Alpha, Beta and the rep’s own Walk-in


@pytest.mark.django_db
def test_a_row_with_an_external_id_is_matched_by_it_only(run_import, rep, pipeline, lost_reason):
    run_import(rep, "deals", FILE, **options(pipeline, lost_reason))
    csv = "Id,Deal,Value,Stage,Account\r\nX9,Alpha,100,Engaging,Acme\r\n"
    batch = run_import(rep, "deals", csv, **options(pipeline, lost_reason))
    assert batch.counts["create"] == 1 and batch.counts["match"] == 0


@pytest.mark.django_db
def test_preview_shows_the_matches_and_the_choice_changes_the_plan(
    client, run_import, rep, pipeline, lost_reason
):
    run_import(rep, "deals", FILE, **options(pipeline, lost_reason))
    client.force_login(rep)
    changed = FILE.replace("Beta,200", "Beta,999")
    batch = services.create_batch(by=rep, kind="deals", file_name="d.csv", data=changed.encode())
    services.save_options(batch=batch, by=rep, options=options(pipeline, lost_reason))
    page = client.get(reverse("imports:preview", args=[batch.pk]))
    html = page.content.decode()
    assert "Rows that match an existing deal (3)" in html
    beta = Opportunity.objects.get(name="Beta")
    assert reverse("pipeline:opportunity_detail", args=[beta.pk]) in html
    assert page.context["counts"]["update"] == 0 and page.context["counts"]["skip"] == 3
    response = client.post(reverse("imports:matches", args=[batch.pk]), {"deal_matches": "update"})
    assert response.status_code == 302
    page = client.get(response.url)
    assert page.context["counts"]["update"] == 1 and page.context["counts"]["skip"] == 2
    actions = [m["action"] for m in page.context["matches"]]
    assert actions == ["unchanged", "update", "unchanged"]  # Alpha, Beta, Walk-in
    assert "skip (no change)" in page.content.decode()
    url = reverse("imports:matches", args=[batch.pk])
    bad = client.post(url, {"deal_matches": "x"}, follow=True)
    assert "Choose whether to skip or update" in bad.content.decode()
    batch.refresh_from_db()
    assert batch.options["deal_matches"] == "update"


@pytest.mark.django_db
def test_command_takes_the_choice(tmp_path, rep, pipeline, lost_reason, run_import):
    run_import(rep, "deals", FILE, **options(pipeline, lost_reason))
    path = tmp_path / "again.csv"
    path.write_text(FILE.replace("Alpha,100", "Alpha,120"))
    mapping = tmp_path / "m.json"
    import json

    mapping.write_text(json.dumps(options(pipeline, lost_reason)))
    call_command("import_records", str(path), kind="deals", mapping=str(mapping), username="rep")
    assert Opportunity.objects.get(name="Alpha").amount == Decimal("100.00")  # skipped
    call_command(
        "import_records",
        str(path),
        kind="deals",
        mapping=str(mapping),
        username="rep",
        matches="update",
    )
    assert Opportunity.objects.get(name="Alpha").amount == Decimal("120.00")
    assert ImportBatch.objects.count() == 3
