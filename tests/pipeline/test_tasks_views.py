"""My tasks: overdue / today / upcoming, one-click complete and reopen (plain and htmx), every
role's refusals and the query budget."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from pipeline import services
from pipeline.models import Activity
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)


def _task(owner, due: dt.date, subject="Follow up", lead=None):
    lead = lead or LeadFactory(owner=owner)
    return services.log_activity(by=owner, kind="task", subject=subject, lead=lead, due_on=due)


@time_machine.travel(NOW, tick=False)
def test_tasks_groups_overdue_today_upcoming(client, rep):
    today = dt.date(2026, 3, 10)
    late = _task(rep, today - dt.timedelta(days=2), "Late one")
    now = _task(rep, today, "Today one")
    soon = _task(rep, today + dt.timedelta(days=5), "Soon one")
    done = _task(rep, today, "Finished one")
    services.complete_task(activity=done, by=rep)
    services.log_activity(by=rep, kind="call", subject="Not a task", lead=late.lead)
    client.force_login(rep)
    response = client.get(reverse("pipeline:tasks"))
    ctx = response.context
    assert ctx["overdue"] == [late] and ctx["due_today"] == [now] and ctx["upcoming"] == [soon]
    assert ctx["done_today"] == [done]
    assert ctx["counts"] == {"overdue": 1, "today": 1, "upcoming": 1}
    assert b"Overdue" in response.content and b"Not a task" not in response.content


def test_tasks_shows_only_my_tasks_even_for_a_manager(client, manager, rep):
    _task(rep, dt.date.today(), "Rep task")
    _task(manager, dt.date.today(), "Manager task", lead=LeadFactory(owner=manager))
    client.force_login(manager)
    response = client.get(reverse("pipeline:tasks"))
    assert b"Manager task" in response.content and b"Rep task" not in response.content


def test_tasks_empty_state_says_what_to_do(client, rep):
    client.force_login(rep)
    assert b"No open tasks." in client.get(reverse("pipeline:tasks")).content


def test_task_complete_plain_post_redirects_with_message(client, rep):
    task = _task(rep, dt.date.today())
    client.force_login(rep)
    response = client.post(reverse("pipeline:task_complete", args=[task.pk]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("pipeline:tasks")
    assert b"Done: Follow up" in response.content
    task.refresh_from_db()
    assert task.done_at is not None


def test_task_complete_htmx_returns_the_row_with_undo(client, rep):
    task = _task(rep, dt.date.today())
    client.force_login(rep)
    response = client.post(reverse("pipeline:task_complete", args=[task.pk]), **HTMX)
    assert response.status_code == 200
    assert f'id="task-{task.pk}"'.encode() in response.content
    body = response.content.decode()
    assert "Undo<span" in body and "<html" not in body
    assert 'Undo<span class="visually-hidden"> completing task: Follow up</span>' in body
    response = client.post(reverse("pipeline:task_reopen", args=[task.pk]), **HTMX)
    assert (
        'Done<span class="visually-hidden"> with task: Follow up</span>'
        in response.content.decode()
    )
    task.refresh_from_db()
    assert task.done_at is None


def test_task_complete_requires_post(client, rep):
    task = _task(rep, dt.date.today())
    client.force_login(rep)
    assert client.get(reverse("pipeline:task_complete", args=[task.pk])).status_code == 405


def test_task_complete_other_rep_and_outside_manager_get_404(client, rep, rep2, outsider):
    task = _task(rep, dt.date.today())
    for user in (rep2, outsider):
        client.force_login(user)
        assert client.post(reverse("pipeline:task_complete", args=[task.pk])).status_code == 404
        assert client.post(reverse("pipeline:task_reopen", args=[task.pk])).status_code == 404
    task.refresh_from_db()
    assert task.done_at is None


def test_task_complete_manager_may_complete_team_task(client, manager, rep):
    task = _task(rep, dt.date.today())
    client.force_login(manager)
    assert client.post(reverse("pipeline:task_complete", args=[task.pk])).status_code == 302
    task.refresh_from_db()
    assert task.done_at is not None


def test_task_complete_non_task_is_404(client, rep):
    call = services.log_activity(by=rep, kind="call", subject="c", lead=LeadFactory(owner=rep))
    client.force_login(rep)
    assert client.post(reverse("pipeline:task_complete", args=[call.pk])).status_code == 404
    assert Activity.objects.get(pk=call.pk).done_at is None


def test_task_complete_twice_keeps_first_done_time(client, rep):
    task = _task(rep, dt.date.today())
    client.force_login(rep)
    client.post(reverse("pipeline:task_complete", args=[task.pk]))
    first = Activity.objects.get(pk=task.pk).done_at
    client.post(reverse("pipeline:task_complete", args=[task.pk]))
    assert Activity.objects.get(pk=task.pk).done_at == first


def test_task_complete_unsafe_next_is_ignored(client, rep):
    task = _task(rep, dt.date.today())
    client.force_login(rep)
    response = client.post(
        reverse("pipeline:task_complete", args=[task.pk]), {"next": "//evil.example/"}
    )
    assert response["Location"] == reverse("pipeline:tasks")


@pytest.mark.parametrize("per_group", [2, 80])
def test_tasks_query_budget_does_not_grow(client, rep, per_group, django_assert_max_num_queries):
    lead = LeadFactory(owner=rep)
    today = dt.date.today()
    for i in range(per_group):
        for offset in (-3, 0, 4):
            _task(rep, today + dt.timedelta(days=offset), f"T{i}", lead=lead)
    client.force_login(rep)
    with django_assert_max_num_queries(8):  # 7 + the header bell's unread count
        assert client.get(reverse("pipeline:tasks")).status_code == 200


def test_tasks_lists_are_capped_with_full_counts(client, rep, monkeypatch):
    monkeypatch.setattr("pipeline.selectors.activities.TASK_LIST_LIMIT", 3)
    lead = LeadFactory(owner=rep)
    for i in range(5):
        _task(rep, dt.date.today() - dt.timedelta(days=i + 1), f"Late {i}", lead=lead)
    client.force_login(rep)
    response = client.get(reverse("pipeline:tasks"))
    assert len(response.context["overdue"]) == 3 and response.context["counts"]["overdue"] == 5
    assert b"Showing the 3 oldest of 5." in response.content
    assert [t.subject for t in response.context["overdue"]] == ["Late 4", "Late 3", "Late 2"]
