"""A deal's line items on its page: add a product, change a line's quantity, unit price or
discount, remove a line. One route takes the three actions as plain form posts (redirected
back to the deal with a message) or from htmx (``HX-Request``: the deal page is rendered
straight away and its ``#deal-page`` swapped, so the amount, the version every form on the
page carries and the history update together). A refusal shows the deal page with the
reason next to the line; a version conflict says someone else changed the deal and shows the
current lines.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import path
from django.views.decorators.http import require_POST

from pipeline import services
from pipeline.forms.line_items import LineForm
from pipeline.models import LineItem
from pipeline.selectors.opportunities import get_opportunity
from pipeline.views.opportunities import _is_stale, detail_page_context


def _is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


def _page(request, opportunity, *, status: int, notice: str = "", **lines):
    context = detail_page_context(request, opportunity, **lines)
    context["lines_notice"] = notice
    # htmx swaps only successful responses; the reason is in the page it swaps in.
    return render(
        request,
        "pipeline/opportunity_detail.html",
        context,
        status=200 if _is_htmx(request) else status,
    )


def _run(form, opportunity, user):
    data = form.cleaned_data
    action = data["action"]
    if action == "add":
        line = services.add_line_item(
            opportunity=opportunity,
            by=user,
            version=data["version"],
            product=data["product"],
            quantity=data["quantity"] or "1",
            unit_price=data["unit_price"],
            discount_percent=data["discount_percent"],
        )
        return f"{line.product.name} added."
    line = LineItem.objects.filter(pk=data["line"], opportunity=opportunity).first()
    if line is None:
        raise ValidationError("This line was removed by someone else; reload the deal.")
    if action == "remove":
        services.remove_line_item(line_item=line, by=user, version=data["version"])
        return f"{line.product.name} removed."
    services.update_line_item(
        line_item=line,
        by=user,
        version=data["version"],
        quantity=data["quantity"],
        unit_price=data["unit_price"],
        discount_percent=data["discount_percent"],
    )
    return f"{line.product.name} saved."


@login_required
@require_POST
def opportunity_lines(request, pk: int):
    opportunity = get_opportunity(user=request.user, pk=pk)
    form = LineForm(request.POST)
    error_line = "new" if request.POST.get("action") == "add" else _line_id(request)
    if not form.is_valid():
        return _page(request, opportunity, status=400, form=form, error_line=error_line)
    try:
        done = _run(form, opportunity, request.user)
    except ValidationError as e:
        current = get_opportunity(user=request.user, pk=pk)
        if _is_stale(e):
            notice = (
                f"Someone else changed “{current.name}” after you opened it (it is now at "
                f"version {current.version}, {len(current.line_items.all())} line(s)). Nothing "
                "was saved: the lines below are the current ones; make your change again."
            )
            return _page(request, current, status=409, notice=notice)
        for key, msgs in e.message_dict.items() if hasattr(e, "error_dict") else [("", e.messages)]:
            form.add_error(key if key in form.fields else None, msgs)
        return _page(request, current, status=400, form=form, error_line=error_line)
    except PermissionDenied as e:
        form.add_error(None, str(e) or "You may not change this deal.")
        return _page(request, opportunity, status=403, form=form, error_line=error_line)
    if _is_htmx(request):
        current = get_opportunity(user=request.user, pk=pk)
        return _page(request, current, status=200, notice=done)
    messages.success(request, done)
    return HttpResponseRedirect(opportunity.get_absolute_url() + "#products")


def _line_id(request):
    try:
        return int(request.POST.get("line", ""))
    except ValueError:
        return None


urlpatterns = [
    path("opportunities/<int:pk>/lines/", opportunity_lines, name="opportunity_lines"),
]
