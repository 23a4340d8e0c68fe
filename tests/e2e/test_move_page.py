"""The move page asks why the deal was lost only once a lost stage is chosen."""

import pytest

from tests.e2e.conftest import login


@pytest.mark.django_db(transaction=True)
def test_lost_reason_appears_only_for_a_lost_stage(new_page, rep, opportunity, lost_reason):
    page = new_page()
    login(page, "rep")
    page.goto(f"/pipeline/opportunities/{opportunity.pk}/move/")
    reason = page.get_by_label("Why was it lost?")
    assert not reason.is_visible()
    page.get_by_label("Move to").select_option(label="Lost (closes the deal)")
    assert reason.is_visible()
    page.get_by_label("Move to").select_option(label="Proposal (50%)")
    assert not reason.is_visible()
