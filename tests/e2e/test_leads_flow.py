"""A rep works a lead end to end in a real browser, logs activities without reloading, and
clears a task from My tasks with one click."""

import datetime as dt

import pytest
from django.utils import timezone

from pipeline import services
from pipeline.models import Activity, Lead, Opportunity
from tests.e2e.conftest import login
from tests.factories import LeadFactory


@pytest.mark.django_db(transaction=True)
def test_leads_rep_creates_qualifies_and_converts_a_lead(new_page, rep, pipeline, artifacts_dir):
    page = new_page()
    login(page, "rep")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Leads").click()
    page.get_by_text("No open leads.").wait_for()
    page.get_by_role("link", name="+ New lead").click()

    page.get_by_label("First name").fill("Dana")
    page.get_by_label("Last name").fill("Ito")
    page.get_by_label("Company name").fill("Umbrella Analytics")
    page.get_by_label("Email").fill("dana@umbrella.test")
    page.get_by_label("Source").select_option("event")
    page.get_by_role("button", name="Create lead").click()
    page.get_by_role("heading", name="Dana Ito").wait_for()
    assert page.get_by_text("Lead Dana Ito created.").is_visible()

    page.get_by_role("button", name="Qualify as prospect").click()
    page.get_by_text("is qualified as a prospect").wait_for()
    page.get_by_role("link", name="Convert to deal").click()

    # Submitting without the required facts keeps the page and says what is missing.
    page.get_by_role("button", name="Convert to deal").click()
    page.locator("#id_need_error").wait_for()
    assert page.get_by_label("Or a new company named").input_value() == "Umbrella Analytics"

    page.get_by_label("Need").fill("Forecasting for 40 reps")
    page.get_by_label("Budget").fill("60000")
    page.locator("#id_timeline").fill("Decide by March")
    page.get_by_label("Deal amount").fill("48000")
    close = (timezone.localdate() + dt.timedelta(days=45)).isoformat()
    page.get_by_label("Expected close date").fill(close)
    page.get_by_label("The new contact is a decision maker").check()
    page.screenshot(path=str(artifacts_dir / "leads_convert_form.png"), full_page=True)
    page.get_by_role("button", name="Convert to deal").click()

    opp = Opportunity.objects.get()
    page.wait_for_url(f"**/pipeline/opportunities/{opp.pk}/")
    assert page.get_by_role("heading", name=opp.name).first.is_visible()
    page.screenshot(path=str(artifacts_dir / "leads_converted_deal.png"), full_page=True)
    assert opp.company.name == "Umbrella Analytics" and opp.contact.is_decision_maker
    assert Lead.objects.get().status == "converted"


@pytest.mark.django_db(transaction=True)
def test_leads_activity_logged_with_htmx_appears_in_timeline(new_page, rep):
    lead = LeadFactory(owner=rep, first_name="Kai", last_name="Costa")
    page = new_page()
    login(page, "rep")
    page.goto(lead.get_absolute_url())
    form = page.locator("form.activity-form")
    form.get_by_label("Type").select_option("call")
    form.get_by_label("Subject").fill("Discovery call booked")
    form.get_by_role("button", name="Save activity").click()
    page.get_by_text("Call logged: Discovery call booked").wait_for()
    page.locator("#timeline").get_by_text("Discovery call booked").wait_for()
    # The due date only shows for tasks.
    assert not form.get_by_label("Due date").is_visible()
    page.locator("form.activity-form").get_by_label("Type").select_option("task")
    assert page.locator("form.activity-form").get_by_label("Due date").is_visible()
    assert Activity.objects.filter(lead=lead, kind="call").count() == 1


@pytest.mark.django_db(transaction=True)
def test_leads_rep_completes_a_task_from_my_tasks(new_page, rep, artifacts_dir):
    lead = LeadFactory(owner=rep, first_name="Sam", last_name="Garcia")
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    task = services.log_activity(
        by=rep, kind="task", subject="Send the proposal", lead=lead, due_on=yesterday
    )
    page = new_page()
    login(page, "rep")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My tasks").click()
    row = page.locator(f"#task-{task.pk}")
    assert row.get_by_text("Overdue").is_visible()
    page.screenshot(path=str(artifacts_dir / "tasks_before.png"), full_page=True)
    row.get_by_role("button", name="Done with task: Send the proposal").focus()
    page.keyboard.press("Enter")
    page.locator(f"#task-{task.pk}").get_by_role(
        "button", name="Undo completing task: Send the proposal"
    ).wait_for()
    task.refresh_from_db()
    assert task.done_at is not None
    # Keyboard focus stays on the row's button (now "Undo") after the swap.
    assert page.evaluate("document.activeElement.id") == f"task-action-{task.pk}"
    page.screenshot(path=str(artifacts_dir / "tasks_after.png"), full_page=True)
    # A reload shows it under Done today.
    page.reload()
    page.get_by_role("heading", name="Done today 1").wait_for()
