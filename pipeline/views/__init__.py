"""The rep's workspace pages, one module per area. The list and create/edit flow every
record kind shares (companies, contacts, leads) lives here."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render

from accounts import visibility
from pipeline.forms import add_service_errors
from pipeline.selectors.leads import paginate


def list_page(request, filterset, template: str, **context):
    """A record list: its filter bar (owner filter for those who see other owners), sort
    and page ``?page=`` of the filtered rows."""
    return render(
        request,
        template,
        {
            "filter": filterset,
            "page_obj": paginate(filterset.qs, request.GET.get("page")),
            "sort": filterset.sort,
            "show_owner_filter": visibility.can_assign_owner(request.user),
            **context,
        },
    )


def form_page(
    request,
    form_class,
    template: str,
    *,
    record_name: str,
    service: Callable,
    success: Callable[[object], str],
    instance=None,
    service_fields: tuple[str, ...] = (),
    **form_kwargs,
):
    """A create (``instance`` None) or edit page of a ``record_name`` record.

    GET shows the form; a valid POST calls ``service`` (``create_<record>`` or
    ``update_<record>``, which then gets ``<record_name>=instance``) with the user, the
    chosen owner, the form's ``service_fields`` and its ``service_data()``, and redirects to
    the record with ``success(record)`` as message; a service's ValidationError shows on the
    form instead. Managers and admins get the owner field."""
    if instance is not None:
        form_kwargs["instance"] = instance
    form = form_class(
        request.POST if request.method == "POST" else None,
        user=request.user,
        assign=visibility.can_assign_owner(request.user),
        **form_kwargs,
    )
    if request.method == "POST" and form.is_valid():
        data = {name: form.cleaned_data[name] for name in service_fields}
        if instance is not None:
            data[record_name] = instance
            # The version the form was opened on: a stale edit is refused by the service.
            data["version"] = form.cleaned_data.get("version")
        try:
            record = service(
                by=request.user,
                owner=form.cleaned_data.get("owner"),
                **data,
                **form.service_data(),
            )
        except ValidationError as e:
            add_service_errors(form, e)
        else:
            messages.success(request, success(record))
            return redirect(record)
    return render(request, template, {"form": form, record_name: instance})
