"""Opportunity pages: list, create, detail, edit, and the stage actions (move, close won,
close lost, next step).

Views are thin: they parse a form, call ``pipeline.services`` or a selector, and render.
Every deal is looked up through ``Opportunity.objects.visible_to(user)``, so a deal out of
the user's scope is a 404 for reading and for every action. Stage actions answer plain form
posts with a redirect and a message (a refused move shows the move page with the reason);
the board's drag and drop asks for JSON (``Accept: application/json``) and gets the fresh
card, or a 409 on a version conflict.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect, JsonResponse, QueryDict
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_http_methods, require_POST

from accounts import visibility
from accounts.redirects import safe_next
from pipeline import list_exports as exports
from pipeline import read_cache, services
from pipeline.forms import add_service_errors, choice_query
from pipeline.forms.inline_edit import FIELDS as INLINE_FIELDS
from pipeline.forms.inline_edit import refusal as inline_refusal
from pipeline.forms.opportunities import (
    CloseLostForm,
    CloseWonForm,
    MoveForm,
    NextStepForm,
    OpportunityEditForm,
    OpportunityForm,
)
from pipeline.models import Stage
from pipeline.selectors import board as board_selectors
from pipeline.selectors.as_of import parse_as_of
from pipeline.selectors.line_items import lines_context
from pipeline.selectors.opportunities import (
    LIST_PAGE_SIZE,
    detail_context,
    get_opportunity,
    list_rows,
    lost_reason_choices,
    opportunity_list,
)
from pipeline.selectors.paging import paginate
from pipeline.selectors.timeline import timeline_for
from pipeline.templatetags.opportune import money
from pipeline.views import as_of as as_of_views
from pipeline.views.board import render_cards

# --- helpers ---------------------------------------------------------------------------------


def _wants_json(request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _message(error: ValidationError) -> str:
    return " ".join(error.messages)


def _is_stale(error: ValidationError) -> bool:
    if hasattr(error, "error_dict"):
        return False
    return any(e.code == "stale" for e in error.error_list)


# --- list, create, detail, edit --------------------------------------------------------------


EXPORT_AS_OF = (
    "An export holds the deals as they are today, not as of a past day: go back to today's "
    "list to export it."
)

SORTABLE = (
    ("name", "Deal", ""),
    ("company", "Company", ""),
    ("stage", "Stage", ""),
    ("owner", "Owner", ""),
    ("amount", "Amount", "num"),
    ("weighted", "Weighted", "num"),
    ("close", "Close date", ""),
)


def _sort_columns(params: QueryDict, sort: str) -> list[dict]:
    """Header links: a click sorts by the column, a second click reverses it."""
    out = []
    for key, label, css in SORTABLE:
        q = params.copy()
        q.pop("o", None)
        if sort == key:
            direction, q["o"] = "ascending", f"-{key}"
        elif sort == f"-{key}":
            direction, q["o"] = "descending", key
        else:
            direction, q["o"] = "", key
        out.append({"label": label, "url": "?" + q.urlencode(), "dir": direction, "css": css})
    return out


@login_required
@require_http_methods(["GET"])
def opportunity_list_view(request):
    as_of = parse_as_of(request.GET)
    params = request.GET.copy()
    params.pop("page", None)
    sort = request.GET.get("o", "")
    if as_of.day is not None:
        status = 200
        if exports.wanted(request):
            messages.error(request, EXPORT_AS_OF)
            status = 400
        page = as_of_views.deal_list(request, as_of, columns=_sort_columns(params, sort))
        page.status_code = status
        return page
    status = as_of_views.announce(request, as_of)
    filterset, qs = opportunity_list(user=request.user, params=request.GET, request=request)
    if fmt := exports.wanted(request):
        return exports.response(fmt, "deals", qs)
    page = paginate(list_rows(filterset, qs), request.GET.get("page"), LIST_PAGE_SIZE)
    return render(
        request,
        "pipeline/opportunity_list.html",
        {
            "filter": filterset,
            "page": page,
            "query": params.urlencode(),
            "sort": sort,
            "today": timezone.localdate(),
            "columns": _sort_columns(params, sort),
            "as_of_keep": as_of_views.keep_fields(params),
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def opportunity_create(request):
    if request.method == "POST":
        form = OpportunityForm(
            request.POST, user=request.user, company_q=request.POST.get("company_q", "")
        )
        if form.is_valid():
            try:
                opportunity = services.create_opportunity(by=request.user, **form.service_kwargs())
            except ValidationError as e:
                add_service_errors(form, e)
            except PermissionDenied as e:
                form.add_error(None, str(e))
            else:
                messages.success(request, f"Deal “{opportunity.name}” created.")
                return HttpResponseRedirect(opportunity.get_absolute_url())
    else:
        query = choice_query(request)
        initial = {k: query[k] for k in ("pipeline", "company", "contact") if query[k]}
        form = OpportunityForm(initial=initial, user=request.user, company_q=query["company_q"])
    return render(request, "pipeline/opportunity_form.html", {"form": form, "creating": True})


def detail_page_context(request, opportunity, **lines) -> dict:
    """Everything the deal page shows; ``lines`` passes a failed line form on to
    :func:`~pipeline.selectors.line_items.lines_context`."""
    lines_part = lines_context(user=request.user, opportunity=opportunity, **lines)
    may_edit = visibility.can_edit(request.user, opportunity)
    has_lines = bool(lines_part["line_rows"])
    return {
        "opportunity": opportunity,
        # The key fields a click edits in place (each also links to its edit page).
        "inline": {
            name: may_edit and not inline_refusal(name, opportunity, has_lines=has_lines)
            for name in INLINE_FIELDS
        },
        "timeline": timeline_for(user=request.user, opportunity=opportunity),
        "lost_reasons": lost_reason_choices(),
        **detail_context(user=request.user, opportunity=opportunity),
        **lines_part,
    }


CSRF_PLACEHOLDER = "opportune-csrf-placeholder"


@login_required
@require_http_methods(["GET"])
def opportunity_detail(request, pk: int):
    """The deal page. Its content (``pipeline/_deal_page.html``) comes from the cache of
    computed figures while nothing changed (``pipeline.read_cache``: per viewer's scope and
    URL); it is rendered with a placeholder for the CSRF token, which each response fills in
    with its own.

    The one visibility rule decides when the page is built (404 for a deal the viewer may not
    see, never cached). A cached page is served to the same scope only while no write
    happened since, and every write that could change who sees the deal (a reassignment, a
    team or role change, a deletion) is a write: the same guarantee the board's cards have."""

    def build() -> dict:
        opportunity = get_opportunity(user=request.user, pk=pk)
        context = {**detail_page_context(request, opportunity), "csrf_token": CSRF_PLACEHOLDER}
        html = render_to_string("pipeline/_deal_page.html", context, request=request)
        return {"name": opportunity.name, "html": html}

    page = read_cache.cached("deal_page", request.user, request.get_full_path(), build)
    html = page["html"].replace(CSRF_PLACEHOLDER, get_token(request))
    return render(
        request,
        "pipeline/opportunity_detail.html",
        # our own template's output, escaped as it renders
        {"opportunity": {"name": page["name"]}, "deal_html": mark_safe(html)},  # nosec B308 B703
    )


@login_required
@require_http_methods(["GET", "POST"])
def opportunity_edit(request, pk: int):
    opportunity = get_opportunity(user=request.user, pk=pk)
    conflicts = []
    if request.method == "POST":
        form = OpportunityEditForm(
            request.POST,
            user=request.user,
            opportunity=opportunity,
            company_q=request.POST.get("company_q", ""),
        )
        if form.is_valid():
            try:
                opportunity = services.update_opportunity(
                    opportunity=opportunity,
                    by=request.user,
                    version=form.cleaned_data["version"],
                    **form.changes(),
                )
            except ValidationError as e:
                if _is_stale(e):
                    current = get_opportunity(user=request.user, pk=pk)
                    conflicts = form.conflicts(current)
                    form = form.rebase(current)
                    form.add_error(
                        None,
                        f"“{current.name}” was saved by someone else after you opened it (it is "
                        f"now at version {current.version}). Your changes were not saved yet.",
                    )
                    opportunity = current
                else:
                    add_service_errors(form, e)
            except PermissionDenied as e:
                form.add_error(None, str(e))
            else:
                messages.success(request, f"Deal “{opportunity.name}” saved.")
                return HttpResponseRedirect(opportunity.get_absolute_url())
    else:
        form = OpportunityEditForm(
            user=request.user, opportunity=opportunity, company_q=choice_query(request)["company_q"]
        )
    return render(
        request,
        "pipeline/opportunity_form.html",
        {"form": form, "opportunity": opportunity, "conflicts": conflicts, "creating": False},
    )


@login_required
@require_POST
def opportunity_next_step(request, pk: int):
    opportunity = get_opportunity(user=request.user, pk=pk)
    form = NextStepForm(request.POST)
    if form.is_valid():
        try:
            opportunity = services.update_opportunity(
                opportunity=opportunity,
                by=request.user,
                version=form.cleaned_data["version"],
                next_step=form.cleaned_data["next_step"],
                next_step_due=form.cleaned_data["next_step_due"],
            )
        except ValidationError as e:
            add_service_errors(form, e)
        except PermissionDenied as e:
            form.add_error(None, str(e))
        else:
            messages.success(request, "Next step saved.")
            return HttpResponseRedirect(opportunity.get_absolute_url())
    return render(
        request,
        "pipeline/opportunity_next_step.html",
        {"opportunity": opportunity, "form": form},
        status=400,
    )


# --- stage actions ---------------------------------------------------------------------------


def _card_payload(request, opportunity_pk: int) -> dict:
    """The deal's fresh board card (or nothing when it left the board) for the board script."""
    row = board_selectors.card_for(user=request.user, pk=opportunity_pk)
    if row is None:
        return {"card": "", "stage": None, "version": None, "open": False}
    html = render_cards([row], next_url=safe_next(request, reverse("pipeline:board")))
    return {"card": html, "stage": row["stage_id"], "version": row["version"], "open": True}


def _headers_payload(request, opportunity) -> dict:
    """Column headers for the board's filters (sent back by the board script as ``board``)."""
    raw = request.POST.get("board")
    if raw is None:
        return {}
    params = QueryDict(raw.lstrip("?"))
    totals = board_selectors.header_totals(
        user=request.user, params=params, pipeline=opportunity.pipeline
    )
    return {
        str(sid): render_to_string("pipeline/_stage_totals.html", {"t": t})
        for sid, t in totals.items()
    }


def _move_response(request, opportunity, *, ok: bool, message: str, status: int = 200):
    if _wants_json(request):
        payload = {"ok": ok, "message": message, **_card_payload(request, opportunity.pk)}
        if ok:
            payload["headers"] = _headers_payload(request, opportunity)
        return JsonResponse(payload, status=status)
    (messages.success if ok else messages.error)(request, message)
    return HttpResponseRedirect(safe_next(request, opportunity.get_absolute_url()))


def _run_stage_action(request, opportunity, action, *, done: str):
    try:
        opportunity = action()
    except ValidationError as e:
        status = 409 if _is_stale(e) else 400
        return _move_response(request, opportunity, ok=False, message=_message(e), status=status)
    except PermissionDenied as e:
        return _move_response(
            request, opportunity, ok=False, message=str(e) or "Not allowed.", status=403
        )
    return _move_response(request, opportunity, ok=True, message=done.format(o=opportunity))


def _move_page(request, opportunity, form, *, status: int = 200):
    """The move form: a page of its own, or (asked by the board script) the small form that
    opens inside a card."""
    context = {
        "opportunity": opportunity,
        "form": form,
        "next": safe_next(request, ""),
        "cancel_url": safe_next(request, opportunity.get_absolute_url()),
    }
    if request.method == "GET" and request.headers.get("HX-Request") == "true":
        context["stages"] = [s for s in form.fields["stage"].queryset if s.kind != Stage.Kind.LOST]
        return render(request, "pipeline/_move_form.html", context, status=status)
    return render(request, "pipeline/opportunity_move.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def opportunity_move(request, pk: int):
    """GET: the move form. POST: move the deal. The board's drag and drop asks for JSON and
    gets the fresh card (409 on a version conflict); a plain form post is redirected back
    with a message or, when refused, shown the move page with the reason and its choice."""
    opportunity = get_opportunity(user=request.user, pk=pk)
    if request.method == "GET":
        form = MoveForm(
            opportunity=opportunity,
            initial={"version": opportunity.version, "stage": opportunity.stage_id},
        )
        return _move_page(request, opportunity, form)
    form = MoveForm(request.POST, opportunity=opportunity)
    if not form.is_valid():
        if _wants_json(request):
            errors = "; ".join(m for msgs in form.errors.values() for m in msgs)
            return _move_response(request, opportunity, ok=False, message=errors, status=400)
        return _move_page(request, opportunity, form, status=400)
    data = form.cleaned_data

    def move():
        return services.move_opportunity(
            opportunity=opportunity,
            to_stage=data["stage"],
            by=request.user,
            version=data["version"],
            lost_reason=data["lost_reason"],
            lost_note=data["lost_note"],
        )

    done = "“{o.name}” moved to {o.stage.name}."
    if data["stage"].pk == opportunity.stage_id:
        done = "“{o.name}” is already in {o.stage.name}: nothing changed."
    if _wants_json(request):
        return _run_stage_action(request, opportunity, move, done=done)
    try:
        opportunity = move()
    except ValidationError as e:
        if not _is_stale(e):
            add_service_errors(form, e)
            return _move_page(request, opportunity, form, status=400)
        current = get_opportunity(user=request.user, pk=pk)
        fresh = request.POST.copy()
        fresh["version"] = current.version
        form = MoveForm(fresh, opportunity=current)
        form.is_valid()
        form.add_error(
            None,
            f"Someone else changed “{current.name}” after you opened it: it is now in "
            f"{current.stage.name} at {money(current.amount)}. Nothing was moved; check the "
            "deal and move it again.",
        )
        return _move_page(request, current, form, status=409)
    except PermissionDenied as e:
        form.add_error(None, str(e) or "Not allowed.")
        return _move_page(request, opportunity, form, status=403)
    messages.success(request, done.format(o=opportunity))
    return HttpResponseRedirect(safe_next(request, opportunity.get_absolute_url()))


@login_required
@require_http_methods(["GET", "POST"])
def opportunity_close_won(request, pk: int):
    opportunity = get_opportunity(user=request.user, pk=pk)
    if request.method == "POST":
        form = CloseWonForm(request.POST)
        if form.is_valid():
            return _run_stage_action(
                request,
                opportunity,
                lambda: services.close_won(
                    opportunity=opportunity,
                    by=request.user,
                    version=form.cleaned_data["version"],
                    closed_on=form.cleaned_data["closed_on"],
                ),
                done="“{o.name}” closed won.",
            )
    else:
        form = CloseWonForm(initial={"version": opportunity.version})
    return render(
        request,
        "pipeline/opportunity_close.html",
        {"opportunity": opportunity, "form": form, "won": True},
        status=400 if form.is_bound else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def opportunity_close_lost(request, pk: int):
    opportunity = get_opportunity(user=request.user, pk=pk)
    if request.method == "POST":
        form = CloseLostForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                opportunity = services.close_lost(
                    opportunity=opportunity,
                    by=request.user,
                    version=data["version"],
                    lost_reason=data["lost_reason"],
                    lost_note=data["lost_note"],
                    closed_on=data["closed_on"],
                )
            except ValidationError as e:
                add_service_errors(form, e)
            except PermissionDenied as e:
                form.add_error(None, str(e))
            else:
                messages.success(request, f"“{opportunity.name}” closed lost.")
                return HttpResponseRedirect(safe_next(request, opportunity.get_absolute_url()))
    else:
        form = CloseLostForm(initial={"version": opportunity.version})
    return render(
        request,
        "pipeline/opportunity_close.html",
        {"opportunity": opportunity, "form": form, "won": False, "next": safe_next(request, "")},
        status=400 if form.is_bound else 200,
    )


urlpatterns = [
    path("opportunities/", opportunity_list_view, name="opportunity_list"),
    path("opportunities/new/", opportunity_create, name="opportunity_create"),
    path("opportunities/<int:pk>/", opportunity_detail, name="opportunity_detail"),
    path("opportunities/<int:pk>/edit/", opportunity_edit, name="opportunity_edit"),
    path("opportunities/<int:pk>/move/", opportunity_move, name="opportunity_move"),
    path("opportunities/<int:pk>/next-step/", opportunity_next_step, name="opportunity_next_step"),
    path("opportunities/<int:pk>/won/", opportunity_close_won, name="opportunity_close_won"),
    path("opportunities/<int:pk>/lost/", opportunity_close_lost, name="opportunity_close_lost"),
]
