"""Activities and follow-ups: log a call, email, meeting or note (or create a task) on any
record, the list of every activity the user may see, My tasks, and one-click complete / reopen.

Every action works as a plain form POST with a redirect; when htmx sends it (``HX-Request``)
the response is the fragment to swap instead.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from accounts.redirects import safe_next
from pipeline import list_exports as exports
from pipeline import services
from pipeline.forms import add_service_errors, choice_query
from pipeline.forms.activities import ActivityForm
from pipeline.selectors import activities as selectors
from pipeline.views import list_page


def _is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


@login_required
@require_http_methods(["GET", "POST"])
def activity_create(request):
    params = request.POST if request.method == "POST" else request.GET
    target_field, target = selectors.activity_target(user=request.user, params=params)
    back = safe_next(request, target.get_absolute_url())
    if request.method == "POST":
        form = ActivityForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                activity = services.log_activity(
                    by=request.user,
                    kind=data["kind"],
                    subject=data["subject"],
                    body=data["body"],
                    due_on=data["due_on"],
                    occurred_at=data["occurred_at"],
                    **{target_field: target},
                )
            except ValidationError as e:
                add_service_errors(form, e)
            except PermissionDenied as e:
                form.add_error(None, str(e) or "You may not log activities on this record.")
            else:
                what = (
                    "Task created" if activity.is_task else f"{activity.get_kind_display()} logged"
                )
                if _is_htmx(request):
                    response = render(
                        request,
                        "pipeline/_activity_form.html",
                        {
                            "target_field": target_field,
                            "target": target,
                            "activity_saved": f"{what}: {activity.subject}",
                            "activity_next": back,
                            "activity_fragment": True,
                        },
                    )
                    response["HX-Trigger"] = "activity-logged"
                    return response
                messages.success(request, f"{what}: {activity.subject}")
                return HttpResponseRedirect(back)
    else:
        initial = {}
        kind = choice_query(request)["kind"]
        if kind in dict(ActivityForm.base_fields["kind"].choices):
            initial["kind"] = kind
        form = ActivityForm(initial=initial)
    context = {
        "target_field": target_field,
        "target": target,
        "activity_form": form,
        "activity_next": back,
    }
    if _is_htmx(request):
        return render(
            request, "pipeline/_activity_form.html", {**context, "activity_fragment": True}
        )
    return render(request, "pipeline/task_activity_page.html", context)


@login_required
def activity_list(request):
    filterset = selectors.activity_list(user=request.user, params=request.GET)
    if fmt := exports.wanted(request):
        return exports.response(fmt, "activities", filterset.qs)
    return list_page(request, filterset, "pipeline/activity_list.html", today=timezone.localdate())


@login_required
def tasks(request):
    if fmt := exports.wanted(request):
        return exports.response(fmt, "tasks", selectors.open_tasks(user=request.user))
    return render(request, "pipeline/tasks.html", selectors.my_tasks(user=request.user))


def _task_action(request, pk: int, action, done_message: str):
    task = selectors.task_for(user=request.user, pk=pk)
    try:
        task = action(activity=task, by=request.user)
    except (ValidationError, PermissionDenied) as e:
        message = " ".join(getattr(e, "messages", None) or [str(e) or "Not allowed."])
        if _is_htmx(request):
            return render(
                request,
                "pipeline/task_row.html",
                {"task": task, "task_error": message, "today": timezone.localdate()},
                status=200,
            )
        messages.error(request, message)
        return HttpResponseRedirect(safe_next(request, reverse("pipeline:tasks")))
    task = selectors.task_for(user=request.user, pk=task.pk)
    if _is_htmx(request):
        return render(
            request,
            "pipeline/task_row.html",
            {"task": task, "task_flash": done_message, "today": timezone.localdate()},
        )
    messages.success(request, f"{done_message}: {task.subject}")
    return HttpResponseRedirect(safe_next(request, reverse("pipeline:tasks")))


@login_required
@require_POST
def task_complete(request, pk: int):
    return _task_action(request, pk, services.complete_task, "Done")


@login_required
@require_POST
def task_reopen(request, pk: int):
    return _task_action(request, pk, services.reopen_task, "Reopened")


urlpatterns = [
    path("activities/", activity_list, name="activity_list"),
    path("activities/new/", activity_create, name="activity_create"),
    path("tasks/", tasks, name="tasks"),
    path("tasks/<int:pk>/complete/", task_complete, name="task_complete"),
    path("tasks/<int:pk>/reopen/", task_reopen, name="task_reopen"),
]
