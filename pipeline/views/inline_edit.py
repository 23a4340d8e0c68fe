"""Inline edit of a deal's key fields on its page: amount, expected close date, stage and next
step.

On the deal page each value is a link to the edit page (or the move page, for the stage), so
it works without JavaScript. With htmx a click asks ``?field=…`` for a small form that takes
the value's place; saving posts it here with the deal's version, through the services, and
swaps the fresh deal page in. A stale version changes nothing: the small form comes back with
what changed, the value typed kept, at the current version (409 for a plain post; htmx gets
200 so it swaps the message in, as the line items do).
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.views.decorators.http import require_http_methods

from accounts import visibility
from pipeline import services
from pipeline.forms import QueryForm
from pipeline.forms.inline_edit import FIELDS, initial_for, refusal
from pipeline.selectors.opportunities import get_opportunity
from pipeline.templatetags.opportune import deal_money
from pipeline.views.opportunities import detail_page_context


class InlineQuery(QueryForm):
    field = forms.ChoiceField(choices=[(name, name) for name in FIELDS])


def _is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


def fallback_url(field: str, opportunity) -> str:
    """Where the value links to without JavaScript: the page that edits it already."""
    if field == "stage":
        return reverse("pipeline:opportunity_move", args=[opportunity.pk])
    anchor = FIELDS[field][2]
    return reverse("pipeline:opportunity_edit", args=[opportunity.pk]) + f"#{anchor}"


def _form(field: str, opportunity, data=None):
    form_class = FIELDS[field][0]
    kwargs = {"opportunity": opportunity} if field == "stage" else {}
    if data is None:
        return form_class(initial=initial_for(field, opportunity), **kwargs)
    return form_class(data, **kwargs)


def _now(field: str, current) -> str:
    """The field's current value in words, for the conflict message."""
    if field == "amount":
        return f"its amount is now {deal_money(current)}"
    if field == "close":
        return f"it now closes on {current.expected_close_date:%b %-d, %Y}"
    if field == "stage":
        return f"it is now in {current.stage.name}"
    step = current.next_step or "no next step"
    return f"its next step is now “{step}”"


def _small_form(request, field, opportunity, form, *, status, conflict=""):
    context = {
        "o": opportunity,
        "field": field,
        "label": FIELDS[field][1],
        "form": form,
        "conflict": conflict,
        "fallback": fallback_url(field, opportunity),
    }
    if _is_htmx(request):
        response = render(request, "pipeline/_inline_form.html", context)
        # The form swaps the whole deal page in when it saves; this answer is only the form.
        response["HX-Retarget"] = f"#inline-{field}"
        response["HX-Reswap"] = "innerHTML"
        response["HX-Reselect"] = ".inline-form"
        return response
    return render(request, "pipeline/opportunity_inline.html", context, status=status)


def _save(field: str, opportunity, by, data: dict):
    if field == "stage":
        return services.move_opportunity(
            opportunity=opportunity, to_stage=data["stage"], by=by, version=data["version"]
        )
    changes = {
        "amount": lambda: {"amount": data.get("amount")},
        "close": lambda: {"expected_close_date": data.get("expected_close_date")},
        "next_step": lambda: {
            "next_step": data.get("next_step") or "",
            "next_step_due": data.get("next_step_due"),
        },
    }[field]()
    return services.update_opportunity(
        opportunity=opportunity, by=by, version=data["version"], **changes
    )


def _stale(error: ValidationError) -> bool:
    return not hasattr(error, "error_dict") and any(e.code == "stale" for e in error.error_list)


@login_required
@require_http_methods(["GET", "POST"])
def opportunity_inline(request, pk: int):
    opportunity = get_opportunity(user=request.user, pk=pk)
    params = request.GET if request.method == "GET" else request.POST
    field = InlineQuery.parse({"field": params.get("field", "")})["field"]
    if not visibility.can_edit(request.user, opportunity):
        raise PermissionDenied("You may not edit this deal.")
    why_not = refusal(field, opportunity, has_lines=opportunity.line_items.exists())
    if request.method == "GET":
        if not _is_htmx(request) or why_not:
            return HttpResponseRedirect(fallback_url(field, opportunity))
        return _small_form(request, field, opportunity, _form(field, opportunity), status=200)
    form = _form(field, opportunity, request.POST)
    if why_not:
        form.is_valid()
        form.add_error(None, why_not)
        return _small_form(request, field, opportunity, form, status=400)
    if not form.is_valid():
        return _small_form(request, field, opportunity, form, status=400)
    try:
        saved = _save(field, opportunity, request.user, form.cleaned_data)
    except ValidationError as error:
        if not _stale(error):
            form.add_error(None, error.messages)
            return _small_form(request, field, opportunity, form, status=400)
        current = get_opportunity(user=request.user, pk=pk)
        data = request.POST.copy()
        data["version"] = str(current.version)
        form = _form(field, current, data)
        form.is_valid()
        conflict = (
            f"Someone else saved “{current.name}” after you opened it: "
            f"{_now(field, current)}. Nothing was saved; your value is kept below, "
            "save again to apply it."
        )
        return _small_form(request, field, current, form, status=409, conflict=conflict)
    except PermissionDenied as error:
        form.add_error(None, str(error) or "You may not edit this deal.")
        return _small_form(request, field, opportunity, form, status=403)
    notice = f"{FIELDS[field][1]} saved."
    if not _is_htmx(request):
        messages.success(request, notice)
        return HttpResponseRedirect(saved.get_absolute_url())
    context = detail_page_context(request, get_opportunity(user=request.user, pk=pk))
    context.update(inline_notice=notice, inline_saved=field)
    return render(request, "pipeline/opportunity_detail.html", context)


urlpatterns = [
    path("opportunities/<int:pk>/inline/", opportunity_inline, name="opportunity_inline"),
]
