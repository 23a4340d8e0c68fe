"""A rep imports a spreadsheet of deals with their history in a real browser, sees the
preview, confirms, and undoes the import."""

import datetime as dt

import pytest
from django.utils import timezone

from imports.models import ImportBatch
from pipeline.models import Opportunity, StageTransition
from tests.e2e.conftest import login


def _day(days_ago: int) -> str:
    day = timezone.localdate() - dt.timedelta(days=days_ago)
    return f"{day.month}/{day.day}/{day.year}"


def _csv() -> str:
    return (
        "Opportunity,Close value,Deal stage,Account,Engage date,Close date\r\n"
        f'Alpha rollout,"$12,000.00",Won,Acme,{_day(40)},{_day(20)}\r\n'
        f"Beta pilot,900,Engaging,Globex,{_day(30)},\r\n"
        f"Gamma trial,250,Engaging,,{_day(25)},\r\n"
    )


@pytest.mark.django_db(transaction=True)
def test_rep_imports_deals_with_history_and_undoes_it(
    new_page, rep, pipeline, artifacts_dir, monkeypatch
):
    from config.celery import app

    monkeypatch.setitem(app.conf, "task_always_eager", True)  # the snapshot back-fill, inline
    page = new_page()
    login(page, "rep")
    page.goto("/pipeline/opportunities/")
    page.get_by_role("link", name="Import").click()
    page.get_by_role("heading", name="Import", exact=True).wait_for()
    page.get_by_label("Each row is").select_option("deals")
    page.get_by_label("CSV or XLSX file").set_input_files(
        files=[{"name": "deals.csv", "mimeType": "text/csv", "buffer": _csv().encode("cp1252")}]
    )
    page.get_by_role("button", name="Upload").click()
    page.get_by_role("heading", name="Map the columns of deals.csv").wait_for()
    assert page.get_by_label("Deal name *").input_value() == "Opportunity"
    assert page.get_by_label("Engaged on").input_value() == "Engage date"
    page.screenshot(path=str(artifacts_dir / "imports_columns.png"), full_page=True)
    page.get_by_role("button", name="Next: values").click()

    page.get_by_label("Stage “Engaging”").select_option(label="Discovery (open)")
    page.get_by_label("Deals without a company go under").fill("")
    page.screenshot(path=str(artifacts_dir / "imports_values.png"), full_page=True)
    page.get_by_role("button", name="Next: preview").click()
    page.screenshot(path=str(artifacts_dir / "imports_after_values.png"), full_page=True)
    page.get_by_role("heading", name="Preview of deals.csv").wait_for()
    counts = page.get_by_label("What the import will do")
    assert "To create" in counts.inner_text() and "3" in counts.inner_text()
    assert page.get_by_role("cell", name="Alpha rollout").is_visible()
    assert page.get_by_role("cell", name="Acme").is_visible()
    page.screenshot(path=str(artifacts_dir / "imports_preview.png"), full_page=True)
    page.get_by_role("button", name="Confirm import").click(timeout=60_000)

    page.get_by_role("heading", name="Import of deals.csv").wait_for(timeout=60_000)
    page.get_by_text("Imported deals.csv.").wait_for()
    assert Opportunity.objects.count() == 3
    alpha = Opportunity.objects.get(name="Alpha rollout")
    closed = timezone.localdate() - dt.timedelta(days=20)
    assert alpha.owner == rep and alpha.closed_on == closed
    assert StageTransition.objects.filter(opportunity=alpha).count() == 3
    assert Opportunity.objects.get(name="Gamma trial").company is None
    batch = ImportBatch.objects.get()
    assert batch.snapshot_dates  # the past period's snapshots were back-filled
    page.screenshot(path=str(artifacts_dir / "imports_result.png"), full_page=True)

    page.goto("/pipeline/opportunities/?status=all")
    assert page.get_by_text("No company").first.is_visible()
    page.goto(batch.get_absolute_url())
    page.get_by_role("button", name="Undo this import").click()
    page.get_by_text("Undid the import of deals.csv.").wait_for()
    assert not Opportunity.objects.exists()
    assert "Undone" in page.locator("main").inner_text()


@pytest.mark.django_db(transaction=True)
def test_reimporting_the_same_file_shows_the_matches_and_duplicates_nothing(
    new_page, rep, pipeline, artifacts_dir, monkeypatch
):
    from config.celery import app
    from imports import services
    from tests.factories import stage

    monkeypatch.setitem(app.conf, "task_always_eager", True)
    content = _csv().replace("Gamma trial,250", "Gamma trial,300")
    first = services.create_batch(by=rep, kind="deals", file_name="d.csv", data=_csv().encode())
    options = {"stage_map": {"Engaging": stage(pipeline, "Discovery").pk}}
    services.save_options(batch=first, by=rep, options={**options, "pipeline": pipeline.pk})
    services.preview(batch=first, by=rep)
    first.refresh_from_db()
    services.confirm(batch=first, by=rep, token=first.preview_token)
    services.run(batch_id=first.pk)
    assert Opportunity.objects.count() == 3
    again = services.create_batch(
        by=rep, kind="deals", file_name="again.csv", data=content.encode()
    )
    services.save_options(batch=again, by=rep, options={**options, "pipeline": pipeline.pk})

    page = new_page()
    login(page, "rep")
    page.goto(f"/imports/{again.pk}/preview/")
    page.get_by_role("heading", name="Rows that match an existing deal (3)").wait_for()
    assert page.get_by_label("Skip them (the existing deal stays as it is)").is_checked()
    page.get_by_label("Update the existing deal from the row").check()
    page.get_by_role("button", name="Preview again").click()
    page.get_by_role("heading", name="Rows that match an existing deal (3)").wait_for()
    counts = page.get_by_label("What the import will do").inner_text()
    assert "To update\n1" in counts and "To create\n0" in counts, counts
    page.screenshot(path=str(artifacts_dir / "imports_matches.png"), full_page=True)
    page.get_by_role("button", name="Confirm import").click(timeout=60_000)
    page.get_by_text("Imported again.csv.").wait_for(timeout=60_000)
    assert Opportunity.objects.count() == 3
    assert Opportunity.objects.get(name="Gamma trial").amount == 300
