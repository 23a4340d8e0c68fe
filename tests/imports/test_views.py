"""The wizard's pages and the list exports."""

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from forecasting.reports.scope import ReportScope
from forecasting.reports.win_rate import win_rate
from imports.models import ImportBatch, ImportMapping
from pipeline.models import Company, Contact, Lead, Opportunity, StageTransition
from tests.factories import (
    CompanyFactory,
    ContactFactory,
    LeadFactory,
    OpportunityFactory,
    current_version,
    stage,
)

CSV = (
    "Opportunity,Close value,Deal stage,Account,Sales agent,Engage date,Close date\r\n"
    "Alpha,1200,Won,Acme,rep,2024-01-05,2024-02-01\r\n"
    "Beta,300,Engaging,Acme,rep,2024-03-01,\r\n"
)


def _upload(client, content, name="deals.csv", kind="deals"):
    return client.post(
        reverse("imports:index"),
        {"kind": kind, "file": SimpleUploadedFile(name, content)},
    )


@pytest.mark.django_db
def test_wizard_upload_map_preview_confirm_and_undo(client, rep, pipeline):
    client.force_login(rep)
    response = _upload(client, CSV.encode("utf-8-sig"))
    batch = ImportBatch.objects.get()
    assert response.status_code == 302 and response.url == reverse(
        "imports:columns", args=[batch.pk]
    )
    page = client.get(response.url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "UTF-8 (with BOM)" in html and "separated by commas" in html
    # header synonyms picked the columns
    assert batch.options["columns"]["name"] == "Opportunity"
    assert batch.options["columns"]["amount"] == "Close value"
    assert batch.options["columns"]["stage"] == "Deal stage"
    assert batch.options["columns"]["company"] == "Account"
    data = {f"col_{k}": v for k, v in batch.options["columns"].items()}
    data["save_as"] = "CRM sales"
    response = client.post(reverse("imports:columns", args=[batch.pk]), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert ImportMapping.objects.get(owner=rep).name == "CRM sales"
    page = client.get(reverse("imports:values", args=[batch.pk]))
    html = page.content.decode()
    assert "Stage “Engaging”" in html and "Stage “Won”" in html
    form = page.context["form"]
    values = {name: form[name].value() or "" for name in form.fields}
    engaging = next(n for v, n in form.stage_fields if v == "Engaging")
    values[engaging] = str(stage(pipeline, "Discovery").pk)
    values["pipeline"] = str(pipeline.pk)
    response = client.post(reverse("imports:values", args=[batch.pk]), values)
    assert response.status_code == 302, response.content.decode()[:3000]
    page = client.get(reverse("imports:preview", args=[batch.pk]))
    html = page.content.decode()
    assert page.context["counts"]["create"] == 2 and "Confirm import" in html
    batch.refresh_from_db()
    token = batch.preview_token
    response = client.post(reverse("imports:confirm", args=[batch.pk]), {"token": token})
    assert response.status_code == 302
    assert Opportunity.objects.count() == 2
    again = client.post(reverse("imports:confirm", args=[batch.pk]), {"token": token}, follow=True)
    assert "already confirmed" in again.content.decode()
    assert Opportunity.objects.count() == 2  # a double click imports once
    page = client.get(reverse("imports:batch", args=[batch.pk]))
    assert "Undo this import" in page.content.decode()
    response = client.post(reverse("imports:undo", args=[batch.pk]), follow=True)
    assert "Undid the import" in response.content.decode(), [
        str(m) for m in response.context["messages"]
    ]
    assert not Opportunity.objects.exists()


@pytest.mark.django_db
def test_wizard_shows_refused_rows_and_serves_them_as_csv(client, rep, pipeline):
    client.force_login(rep)
    bad = CSV + "Gamma,-5,Engaging,Acme,rep,2024-02-30,\r\n"
    _upload(client, bad.encode())
    batch = ImportBatch.objects.get()
    batch.options.update(
        stage_map={"Engaging": stage(pipeline, "Discovery").pk}, pipeline=pipeline.pk
    )
    batch.save()
    html = client.get(reverse("imports:preview", args=[batch.pk])).content.decode()
    assert "The amount cannot be negative." in html and "not a date of the calendar" in html
    assert "Confirm import" not in html
    response = client.get(reverse("imports:errors", args=[batch.pk]))
    assert response["Content-Type"].startswith("text/csv")
    lines = response.content.decode().splitlines()
    assert lines[0] == "Row,Column,Value,Message"
    assert lines[1].startswith("4,Close value,-5,The amount cannot be negative.")


@pytest.mark.django_db
def test_upload_refuses_bad_files_with_a_message(client, rep):
    client.force_login(rep)
    for content, message in (
        (b"", "The submitted file is empty."),
        (b"Deal\r\n", "no data rows"),
        (b"PK\x03\x04not a zip", "ZIP archive"),
    ):
        response = _upload(client, content)
        assert response.status_code == 400
        assert message in response.content.decode()
    assert not ImportBatch.objects.exists()


@pytest.mark.django_db
def test_upload_over_the_limit_is_refused_before_it_is_read(client, rep):
    client.force_login(rep)
    response = client.generic(
        "POST",
        reverse("imports:index"),
        data=b"x" * 10,
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(2 * 1024**3),
    )
    assert response.status_code == 413
    assert "The file is too large" in response.content.decode()


@pytest.mark.django_db
def test_wizard_steps_are_for_the_uploader_only(client, rep, rep2, manager):
    client.force_login(rep)
    _upload(client, CSV.encode())
    batch = ImportBatch.objects.get()
    client.force_login(rep2)
    assert client.get(reverse("imports:columns", args=[batch.pk])).status_code == 404
    assert client.get(reverse("imports:batch", args=[batch.pk])).status_code == 404
    client.force_login(manager)
    assert client.get(reverse("imports:batch", args=[batch.pk])).status_code == 200
    assert client.get(reverse("imports:columns", args=[batch.pk])).status_code == 404


@pytest.mark.django_db
def test_template_files_have_the_import_columns(client, rep):
    client.force_login(rep)
    response = client.get(reverse("imports:template", args=["deals"]))
    header = response.content.decode().splitlines()[0]
    assert header.startswith(
        "External id,Deal name,Amount,Product,Quantity,Unit price,Discount %,Stage,Won / lost,"
        "Owner,Company"
    )
    assert client.get("/imports/templates/nope.csv").status_code == 404


@pytest.mark.django_db
def test_presets_map_other_crms_exports(client, rep):
    client.force_login(rep)
    content = (
        "Deal - ID,Deal - Title,Deal - Value,Deal - Stage,Deal - Organization\r\n1,A,5,X,Y\r\n"
    )
    _upload(client, content.encode())
    batch = ImportBatch.objects.get()
    client.post(
        reverse("imports:columns", args=[batch.pk]),
        {"preset": "preset:pipedrive", "apply_preset": "1"},
    )
    batch.refresh_from_db()
    assert batch.options["columns"] == {
        "external_id": "Deal - ID",
        "name": "Deal - Title",
        "amount": "Deal - Value",
        "stage": "Deal - Stage",
        "company": "Deal - Organization",
    }


# --- exports ---------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("pipeline:opportunity_list", "deals"),
        ("pipeline:lead_list", "leads"),
        ("pipeline:company_list", "companies"),
        ("pipeline:contact_list", "contacts"),
        ("pipeline:tasks", "tasks"),
    ],
)
def test_every_list_exports_csv_and_xlsx_of_the_visible_rows(
    client, rep, outsider, pipeline, url, kind
):
    from openpyxl import load_workbook

    mine = CompanyFactory(owner=rep, name="=Mine")
    ContactFactory(owner=rep, company=mine, first_name="=Mine", phone="+1 555 0100")
    LeadFactory(owner=rep, first_name="=Mine")
    deal = OpportunityFactory(owner=rep, pipeline=pipeline, company=mine, name="=Mine deal")
    from pipeline import services

    services.log_activity(
        by=rep,
        kind="task",
        subject="=Mine task",
        opportunity=deal,
        due_on=dt.date.today() + dt.timedelta(days=1),
    )
    theirs = CompanyFactory(owner=outsider, name="Hidden")
    OpportunityFactory(owner=outsider, pipeline=pipeline, company=theirs, name="Hidden deal")
    LeadFactory(owner=outsider, first_name="Hidden")
    client.force_login(rep)
    page = client.get(reverse(url))
    assert "export=csv" in page.content.decode() and "export=xlsx" in page.content.decode()
    response = client.get(reverse(url), {"export": "csv"})
    text = response.content.decode()
    assert response["Content-Disposition"] == f'attachment; filename="opportune-{kind}.csv"'
    assert "'=Mine" in text and "Hidden" not in text
    response = client.get(reverse(url), {"export": "xlsx"})
    sheet = load_workbook(io.BytesIO(response.content)).active
    cells = [c for row in sheet.iter_rows(values_only=True) for c in row if c is not None]
    assert any(str(c).startswith("'=Mine") for c in cells)
    assert not any("Hidden" in str(c) for c in cells)


@pytest.mark.django_db
def test_export_applies_the_page_filters(client, rep, pipeline):
    OpportunityFactory(owner=rep, pipeline=pipeline, name="Small", amount=Decimal("10"))
    OpportunityFactory(owner=rep, pipeline=pipeline, name="Large", amount=Decimal("90000"))
    client.force_login(rep)
    text = client.get(
        reverse("pipeline:opportunity_list"), {"q": "Large", "export": "csv"}
    ).content.decode()
    assert "Large" in text and "Small" not in text


@pytest.mark.django_db
def test_export_then_import_into_an_empty_database_is_the_identity(
    client, run_import, admin_user, rep, pipeline, lost_reason
):
    import time_machine

    from pipeline import services

    acme = CompanyFactory(owner=rep, name="Acme", website="acme.com")
    ann = ContactFactory(
        owner=rep,
        company=acme,
        first_name="Ann",
        last_name="Lee",
        email="ann@acme.com",
        phone="+1 555 0100",
        is_decision_maker=True,
    )
    for i, (to, day) in enumerate((("Won", 20), ("Lost", 25), ("Negotiation", 28))):
        with time_machine.travel(dt.datetime(2024, 1, 10 + i, 12), tick=False):
            deal = OpportunityFactory(
                owner=rep,
                pipeline=pipeline,
                company=acme,
                contact=ann,
                name=f"Deal {i}",
                amount=Decimal("1000") * (i + 1),
                expected_close_date=dt.date(2024, 3, 1),
            )
        with time_machine.travel(dt.datetime(2024, 1, day, 12), tick=False):
            services.move_opportunity(
                opportunity=deal,
                to_stage=stage(pipeline, to),
                by=rep,
                version=current_version(deal),
                lost_reason=lost_reason,
            )

    def figures():
        scope = ReportScope(user=admin_user, start=dt.date(2024, 1, 1), end=dt.date(2024, 3, 31))
        return [{k: v for k, v in r.items() if k != "_links"} for r in win_rate(scope).table.rows]

    before = figures()
    client.force_login(admin_user)
    files = {
        kind: client.get(reverse(url), {"export": "csv", "status": "all"}).content
        for kind, url in (
            ("companies", "pipeline:company_list"),
            ("contacts", "pipeline:contact_list"),
            ("deals", "pipeline:opportunity_list"),
        )
    }
    deals_csv = client.get(
        reverse("pipeline:opportunity_list"), {"export": "csv", "stage": "", "status": "all"}
    ).content
    StageTransition.objects.all().delete()
    Opportunity.objects.all().delete()
    Contact.objects.all().delete()
    Company.objects.all().delete()
    for kind in ("companies", "contacts"):
        assert run_import(admin_user, kind, files[kind]).status == "done"
    batch = run_import(admin_user, "deals", deals_csv, pipeline=pipeline.pk)
    assert batch.status == "done", (batch.message, batch.errors)
    assert Opportunity.objects.count() == 3
    contact = Contact.objects.get()
    assert (contact.phone, contact.is_decision_maker, contact.company.website) == (
        "+1 555 0100",
        True,
        "acme.com",
    )
    assert figures() == before
    assert Lead.objects.count() == 0


@pytest.mark.django_db
def test_batch_page_polls_progress_while_running_and_refreshes_when_done(client, rep):
    from django.core.cache import cache

    from imports import services

    client.force_login(rep)
    _upload(client, CSV.encode())
    batch = ImportBatch.objects.get()
    ImportBatch.objects.filter(pk=batch.pk).update(status=ImportBatch.Status.RUNNING)
    cache.set(services.progress_key(batch.pk), {"done": 1, "total": 2, "phase": "writing"})
    html = client.get(reverse("imports:batch", args=[batch.pk])).content.decode()
    assert f'hx-get="/imports/{batch.pk}/progress/"' in html
    assert '<progress max="2" value="1">' in html and "1 of 2 rows" in html
    ImportBatch.objects.filter(pk=batch.pk).update(
        status=ImportBatch.Status.FAILED, message="Stopped."
    )
    response = client.get(reverse("imports:progress", args=[batch.pk]), HTTP_HX_REQUEST="true")
    assert response["HX-Refresh"] == "true"
    cache.delete(services.progress_key(batch.pk))


def test_list_exports_use_the_import_template_columns():
    from imports.mapping import template_headers
    from pipeline.list_exports import HEADERS

    for kind, headers in HEADERS.items():
        assert headers == template_headers(kind), kind
