import pytest

from pipeline.models import Stage
from tests.e2e.conftest import login


@pytest.mark.django_db(transaction=True)
def test_admin_reorders_stages_by_dragging(new_page, admin_user, pipeline):
    page = new_page()
    login(page, "admin")
    page.goto(f"/admin/pipeline/pipeline/{pipeline.pk}/change/")
    rows = page.locator("#stages-group tbody tr.form-row.has_original")
    assert rows.count() == 6
    # Drag Discovery (second row) above Qualification (first row).
    rows.nth(1).locator(".stage-handle").drag_to(rows.nth(0).locator(".stage-handle"))
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_load_state()
    assert "was changed successfully" in page.content()
    order = list(pipeline.stages.order_by("position").values_list("name", flat=True))
    assert order[:2] == ["Discovery", "Qualification"]
    assert Stage.objects.get(pipeline=pipeline, name="Won").position == 4


@pytest.mark.django_db(transaction=True)
def test_admin_pipeline_with_two_won_stages_is_explained(new_page, admin_user, pipeline):
    page = new_page()
    login(page, "admin")
    page.goto(f"/admin/pipeline/pipeline/{pipeline.pk}/change/")
    lost_row = page.locator("#stages-group tbody tr.form-row.has_original").nth(5)
    lost_row.locator("td.field-kind select").select_option("won")
    lost_row.locator("td.field-probability input").fill("100")
    lost_row.locator("td.field-forecast_category select").select_option("closed")
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_load_state()
    text = page.locator("#stages-group").inner_text()
    assert "exactly one won stage (this one has 2)" in text
    assert "at least one lost stage" in text
    assert pipeline.stages.filter(kind="won").count() == 1
