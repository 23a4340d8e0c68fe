"""The import wizard: upload → columns → values → preview → confirm → progress → undo.

Views are thin: they parse a form and call ``imports.services``. A batch is read through
``ImportBatch.objects.visible_to(user)`` (who imported it, their manager, admins); the
wizard's steps are for the user who uploaded the file only (anyone else gets a 404).
"""

from __future__ import annotations

import csv

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import path, reverse
from django.views.decorators.http import require_http_methods, require_POST

from config.celery import QueueUnavailable, enqueue
from config.celery import app as celery_app
from imports import parsing, services, tasks
from imports.forms import ColumnsForm, UploadForm, ValuesForm, preset_choices
from imports.mapping import FIELDS, PRESET_NAMES, PRESETS, apply_preset, template_headers
from imports.models import ImportBatch, ImportMapping, Kind
from pipeline.exports import csv_response

app_name = "imports"


def _message(e) -> str:
    return " ".join(getattr(e, "messages", None) or [str(e)])


def _own_batch(request, pk: int) -> ImportBatch:
    return get_object_or_404(ImportBatch.objects.filter(owner=request.user), pk=pk)


def _visible_batch(request, pk: int) -> ImportBatch:
    return get_object_or_404(
        ImportBatch.objects.visible_to(request.user).select_related("owner"), pk=pk
    )


@login_required
@require_http_methods(["GET", "POST"])
def index(request):
    posted = request.method == "POST"
    form = UploadForm(request.POST if posted else None, request.FILES if posted else None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            batch = services.create_batch(
                by=request.user,
                kind=form.cleaned_data["kind"],
                file_name=upload.name,
                data=upload.read(),
            )
        except ValidationError as e:
            form.add_error("file", _message(e))
        else:
            return HttpResponseRedirect(reverse("imports:columns", args=[batch.pk]))
    batches = ImportBatch.objects.visible_to(request.user).select_related("owner")[:50]
    return render(
        request,
        "imports/index.html",
        {
            "form": form,
            "batches": batches,
            "kinds": Kind.choices,
            "presets": [(PRESET_NAMES[k], list(v.values())) for k, v in PRESETS.items()],
        },
        status=400 if form.errors else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def columns(request, pk: int):
    batch = _own_batch(request, pk)
    if batch.status not in (ImportBatch.Status.UPLOADED, ImportBatch.Status.PREVIEWED):
        return HttpResponseRedirect(batch.get_absolute_url())
    choice = request.POST.get("preset", "") if request.method == "POST" else ""
    if request.method == "POST" and "apply_preset" in request.POST and choice:
        mapping = _preset(request.user, batch, choice)
        if mapping is None:
            messages.error(request, "Choose a mapping from the list.")
        else:
            services.save_options(batch=batch, by=request.user, options={"columns": mapping})
            messages.success(request, f"Applied the mapping to {len(mapping)} columns.")
        return HttpResponseRedirect(reverse("imports:columns", args=[batch.pk]))
    form = ColumnsForm(request.POST if request.method == "POST" else None, batch=batch)
    if request.method == "POST" and form.is_valid():
        mapping = form.columns()
        services.save_options(
            batch=batch,
            by=request.user,
            options={"columns": mapping, "date_order": form.cleaned_data["date_order"]},
        )
        name = form.cleaned_data["save_as"].strip()
        if name:
            ImportMapping.objects.update_or_create(
                owner=request.user, name=name, defaults={"kind": batch.kind, "columns": mapping}
            )
        return HttpResponseRedirect(reverse("imports:values", args=[batch.pk]))
    try:
        table = services.load_table(batch)
    except (ValidationError, parsing.FileRefused) as e:
        messages.error(request, _message(e))
        return HttpResponseRedirect(reverse("imports:index"))
    detected = services.detected_date_order(table, batch.options.get("columns") or {}, batch.kind)
    return render(
        request,
        "imports/columns.html",
        {
            "batch": batch,
            "form": form,
            "presets": preset_choices(request.user, batch.kind),
            "sample": table.rows[:3],
            "detected_order": dict(parsing.DATE_ORDERS).get(detected, ""),
            "ambiguous": detected == "",
        },
        status=400 if form.errors else 200,
    )


def _preset(user, batch, choice: str):
    if choice.startswith("preset:"):
        name = choice.split(":", 1)[1]
        return apply_preset(name, batch.headers) if name in PRESETS else None
    if choice.startswith("saved:"):
        saved = (
            ImportMapping.objects.filter(
                owner=user, kind=batch.kind, pk=choice.split(":", 1)[1].strip() or 0
            ).first()
            if choice.split(":", 1)[1].isdigit()
            else None
        )
        if saved is None:
            return None
        return {k: v for k, v in saved.columns.items() if v in batch.headers}
    return None


@login_required
@require_http_methods(["GET", "POST"])
def values(request, pk: int):
    batch = _own_batch(request, pk)
    if batch.status not in (ImportBatch.Status.UPLOADED, ImportBatch.Status.PREVIEWED):
        return HttpResponseRedirect(batch.get_absolute_url())
    table = services.load_table(batch)
    cols = batch.options.get("columns") or {}
    distinct = {
        key: services.column_values(table, cols.get(key))
        for key in ("stage", "owner", "lost_reason")
    }
    form = ValuesForm(
        request.POST if request.method == "POST" else None,
        batch=batch,
        user=request.user,
        values=distinct,
    )
    if request.method == "POST" and form.is_valid():
        services.save_options(batch=batch, by=request.user, options=form.options())
        if "refresh" in request.POST:
            return HttpResponseRedirect(reverse("imports:values", args=[batch.pk]))
        return HttpResponseRedirect(reverse("imports:preview", args=[batch.pk]))
    return render(
        request,
        "imports/values.html",
        {"batch": batch, "form": form},
        status=400 if form.errors else 200,
    )


@login_required
@require_http_methods(["GET"])
def preview(request, pk: int):
    batch = _own_batch(request, pk)
    if batch.status not in (ImportBatch.Status.UPLOADED, ImportBatch.Status.PREVIEWED):
        return HttpResponseRedirect(batch.get_absolute_url())
    try:
        result = services.preview(batch=batch, by=request.user)
    except (ValidationError, parsing.FileRefused) as e:
        messages.error(request, _message(e))
        return HttpResponseRedirect(reverse("imports:columns", args=[batch.pk]))
    batch.refresh_from_db()
    fields = [f for f in FIELDS[batch.kind] if f.key in (batch.options.get("columns") or {})]
    rows = [
        {"action": r["action"], "row": r["_row"], "cells": [_show(r.get(f.key)) for f in fields]}
        for r in result.preview_rows()
    ]
    return render(
        request,
        "imports/preview.html",
        {
            "batch": batch,
            "counts": batch.counts,
            "fields": fields,
            "rows": rows,
            "errors": batch.errors[:100],
            "inline": batch.row_count <= services.INLINE_ROWS or _tasks_run_inline(),
            "matches": result.matches,
            "match_mode": batch.options.get("deal_matches") or "skip",
        },
    )


@login_required
@require_POST
def matches(request, pk: int):
    """The preview's choice for rows that are an existing deal: skip them or update it."""
    batch = _own_batch(request, pk)
    choice = request.POST.get("deal_matches", "")
    if choice not in ("skip", "update"):
        messages.error(request, "Choose whether to skip or update the deals that already exist.")
    else:
        try:
            services.save_options(batch=batch, by=request.user, options={"deal_matches": choice})
        except ValidationError as e:
            messages.error(request, _message(e))
            return HttpResponseRedirect(batch.get_absolute_url())
    return HttpResponseRedirect(reverse("imports:preview", args=[batch.pk]))


def _tasks_run_inline() -> bool:
    """Celery runs tasks in the caller (no broker: ``make run`` without Redis); the app's own
    configuration says so, as it is what ``delay`` obeys."""
    return bool(celery_app.conf.task_always_eager)


def _show(value) -> str:
    if value is None:
        return ""
    if hasattr(value, "get_full_name"):
        return value.get_full_name() or value.username
    return str(value)


@login_required
@require_POST
def confirm(request, pk: int):
    batch = _own_batch(request, pk)
    try:
        batch, as_task = services.confirm(
            batch=batch, by=request.user, token=request.POST.get("token", "")
        )
    except ValidationError as e:
        messages.error(request, _message(e))
        target = batch.get_absolute_url()
        if batch.status in (ImportBatch.Status.UPLOADED, ImportBatch.Status.PREVIEWED):
            target = reverse("imports:preview", args=[batch.pk])
        return HttpResponseRedirect(target)
    if as_task and not _tasks_run_inline():
        try:
            enqueue(tasks.run_import, batch.pk)
        except QueueUnavailable as e:
            ImportBatch.objects.filter(pk=batch.pk).update(
                status=ImportBatch.Status.PREVIEWED, preview_token=""
            )
            messages.error(request, str(e))
            return HttpResponseRedirect(reverse("imports:preview", args=[batch.pk]))
        messages.info(request, "The import runs in the background; this page shows its progress.")
        return HttpResponseRedirect(batch.get_absolute_url())
    batch = services.run(batch_id=batch.pk)
    if batch.status == ImportBatch.Status.DONE:
        try:
            enqueue(tasks.backfill_import_snapshots, batch.pk)
        except QueueUnavailable:
            services.backfill_after_import(batch_id=batch.pk)
        messages.success(request, f"Imported {batch.file_name}.")
    else:
        messages.error(request, batch.message)
    return HttpResponseRedirect(batch.get_absolute_url())


@login_required
@require_http_methods(["GET"])
def batch_detail(request, pk: int):
    batch = _visible_batch(request, pk)
    return render(request, "imports/batch.html", _batch_context(request, batch))


def _batch_context(request, batch):
    prog = services.progress(batch.pk)
    snap = services.progress(batch.pk, "snapshots")
    return {
        "batch": batch,
        "progress": prog,
        "snapshots": snap,
        "running": batch.status in (ImportBatch.Status.QUEUED, ImportBatch.Status.RUNNING)
        or (
            batch.status == ImportBatch.Status.DONE
            and batch.first_date
            and not batch.snapshots_done
        ),
        "can_undo": services.can_undo(request.user, batch),
        "errors": batch.errors[:100],
    }


@login_required
@require_http_methods(["GET"])
def batch_progress(request, pk: int):
    batch = _visible_batch(request, pk)
    context = _batch_context(request, batch)
    response = render(request, "imports/_progress.html", context)
    if not context["running"] and request.headers.get("HX-Request"):
        # Finished: reload the whole page once, for its counts and undo button.
        response["HX-Refresh"] = "true"
    return response


@login_required
@require_http_methods(["GET"])
def batch_errors(request, pk: int):
    batch = _visible_batch(request, pk)
    rows = [("Row", "Column", "Value", "Message")] + [
        (e["row"], e["column"], e["value"], e["message"]) for e in batch.errors
    ]
    return csv_response(rows, filename=f"import-{batch.pk}-refused-rows")


@login_required
@require_POST
def undo(request, pk: int):
    batch = _visible_batch(request, pk)
    try:
        services.undo(batch=batch, by=request.user)
    except (ValidationError, PermissionDenied) as e:
        messages.error(request, _message(e))
    else:
        messages.success(request, f"Undid the import of {batch.file_name}.")
    return HttpResponseRedirect(batch.get_absolute_url())


@login_required
@require_http_methods(["GET"])
def template(request, kind: str):
    if kind not in Kind.values:
        raise Http404("No such template.")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="opportune-{kind}-template.csv"'
    csv.writer(response).writerow(template_headers(kind))
    return response


urlpatterns = [
    path("", index, name="index"),
    path("templates/<str:kind>.csv", template, name="template"),
    path("<int:pk>/", batch_detail, name="batch"),
    path("<int:pk>/columns/", columns, name="columns"),
    path("<int:pk>/values/", values, name="values"),
    path("<int:pk>/preview/", preview, name="preview"),
    path("<int:pk>/matches/", matches, name="matches"),
    path("<int:pk>/confirm/", confirm, name="confirm"),
    path("<int:pk>/progress/", batch_progress, name="progress"),
    path("<int:pk>/errors.csv", batch_errors, name="errors"),
    path("<int:pk>/undo/", undo, name="undo"),
]
