"""The pipeline board (/pipeline/board/) and its "show more" column pages.

The board is a plain page: filters are a GET form (state in the URL), every card links to
its move form (``pipeline:opportunity_move``), and "show more" is a link.
``static/js/board.js`` adds drag and drop on top (posting to the move URL with the card's
version), opens a card's move form inside the card, and loads "show more" in place with
htmx.
"""

from __future__ import annotations

import functools
from urllib.parse import quote

from django.contrib.auth.decorators import login_required
from django.http import QueryDict
from django.shortcuts import get_object_or_404, render
from django.template import engines
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET

from accounts import board_prefs
from pipeline import board_cache
from pipeline.avatars import owner_label
from pipeline.currency import reporting_currency
from pipeline.models import Stage
from pipeline.selectors import board as selectors
from pipeline.selectors.as_of import parse_as_of
from pipeline.selectors.opportunities import lost_reason_choices
from pipeline.templatetags.opportune import whole_money_formatter
from pipeline.views import as_of as as_of_views

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@functools.cache
def _cards_template():
    return engines["jinja2"].get_template("pipeline/_cards.html").template


def render_cards(cards: list[dict], *, next_url: str) -> str:
    """The board's cards as HTML, from ``pipeline/jinja2/pipeline/_cards.html``: a board
    shows up to 200 of them and Django's template engine would spend most of the request on
    them (DESIGN.md §6), so this one partial is a compiled Jinja2 template that escapes every
    value as Django does. The values it shows are formatted here, in one plain loop (a
    function call from inside a Jinja2 template costs more than the formatting)."""
    money = whole_money_formatter()
    reporting = reporting_currency()
    foreign: dict[str, object] = {}
    owners: dict[str, tuple[str, str, str]] = {}
    for c in cards:
        owner = c["owner_name"] or ""
        c["owner_initials"], c["owner_full"], c["owner_tone"] = owners.get(
            owner
        ) or owners.setdefault(owner, owner_label(owner))
        close = c["expected_close_date"]
        step = c["next_step"]
        c["warn"] = c["rotting"] or c["overdue"]
        c["step"] = step[:47] + "…" if len(step) > 48 else step
        code = c["currency"]
        if code == reporting:
            c["amount_label"] = money(c["amount"])
        else:
            fmt = foreign.get(code) or foreign.setdefault(code, whole_money_formatter(code))
            converted = c.get("converted")
            c["amount_label"] = fmt(c["amount"]) + (
                f" ≈ {money(converted)}" if converted is not None else f" (no {code} rate)"
            )
        c["close_iso"] = close.isoformat()
        c["close_label"] = f"{MONTHS[close.month - 1]} {close.day}"
    html = _cards_template().render(cards=cards, next_q=quote(next_url, safe=""))
    # The template escapes every value it interpolates (the tests render hostile names).
    return mark_safe(html)  # nosec B308 B703: autoescaped template output


def _query_without(request, *keys: str) -> str:
    params = request.GET.copy()
    for key in keys:
        params.pop(key, None)
    return params.urlencode()


def _board_content(request, query: str) -> dict:
    """The board's content from the database, in pieces (``pipeline/_board_*.html``) that
    ``pipeline/board.html`` lays out with what belongs to the person alone (collapsed columns,
    density, the forms' CSRF token).

    Everything in it depends only on what ``board_cache`` keys it by (the user's scope, the
    board's query and the day), so links carry the board's own query, not the URL's."""
    params = QueryDict(query)
    data = selectors.board_for(user=request.user, params=params, request=request)
    next_url = reverse("pipeline:board") + (f"?{query}" if query else "")
    filters = params.copy()
    filters.pop("pipeline", None)
    context = {
        "board": data,
        "filter": data.filterset,
        "query": query,
        "filters_query": filters.urlencode(),
        "as_of_keep": as_of_views.keep_fields(params),
    }
    page = {
        "title": data.pipeline.name if data.pipeline else "",
        "top": render_to_string("pipeline/_board_top.html", context, request=request),
        "columns": None,
        "as_of_keep": context["as_of_keep"],
    }
    if data.pipeline is None:
        return page
    page["summary"] = render_to_string("pipeline/_board_summary.html", context, request=request)
    page["closing"] = render_to_string(
        "pipeline/_board_closing.html",
        {**context, "lost_reasons": list(lost_reason_choices()) if data.lost_stages else []},
        request=request,
    )
    page["attrs"] = {
        "query": query,
        "won": data.won_stage.pk if data.won_stage else "",
        "lost": data.lost_stages[0].pk if data.lost_stages else "",
        "pipeline": data.pipeline.pk,
        "pipeline_name": data.pipeline.name,
    }
    page["columns"] = [
        {
            "stage": col.stage.pk,
            "name": col.stage.name,
            "count": col.count,
            "totals": render_to_string("pipeline/_stage_totals.html", {"t": col}),
            "body": render_to_string(
                "pipeline/_board_column_body.html",
                {**context, "col": col, "cards_html": render_cards(col.cards, next_url=next_url)},
                request=request,
            ),
        }
        for col in data.columns
    ]
    return page


def _marked_safe(page: dict) -> dict:
    """The cached page's HTML pieces as safe strings: HTML our own templates rendered
    (escaping as they do), cached as text."""
    safe = dict(page)
    for key in ("top", "summary", "closing"):
        if key in safe:
            safe[key] = mark_safe(safe[key])  # nosec B308 B703: our templates' output
    if page.get("columns") is not None:
        safe["columns"] = [
            {
                **col,
                "totals": mark_safe(col["totals"]),  # nosec B308 B703: our templates' output
                "body": mark_safe(col["body"]),  # nosec B308 B703: our templates' output
            }
            for col in page["columns"]
        ]
    return safe


@login_required
@require_GET
def board(request):
    """The board; its content comes from ``board_cache`` when nothing changed since. With
    ``?as_of=`` a past day, the board as it stood then (``pipeline.views.as_of``). The
    person's own view (density, collapsed columns) is applied here, outside the cache."""
    as_of = parse_as_of(request.GET)
    if as_of.day is not None:
        return as_of_views.board(request, as_of)
    status = as_of_views.announce(request, as_of)
    query = board_cache.board_query(request.GET)
    key, page = board_cache.get(request.user, query)
    if page is None:
        page = _board_content(request, query)
        board_cache.put(key, page)
    return render(
        request,
        "pipeline/board.html",
        {
            "title": page["title"],
            "page": _marked_safe(page),
            "collapsed": board_prefs.collapsed_stages(request.user),
            "density": request.user.board_density,
            # Back to this board after a view form: its own query, as the cached links carry.
            "here": reverse("pipeline:board") + (f"?{query}" if query else ""),
        },
        status=status,
    )


@login_required
@require_GET
def board_column(request, stage_id: int):
    stage = get_object_or_404(
        Stage.objects.select_related("pipeline").filter(kind=Stage.Kind.OPEN), pk=stage_id
    )
    try:
        offset = min(max(0, int(request.GET.get("offset", selectors.card_limit()))), 10**6)
    except ValueError:
        offset = selectors.card_limit()
    column, filterset = selectors.column_page(
        user=request.user, params=request.GET, stage=stage, offset=offset, request=request
    )
    board_params = request.GET.copy()
    board_params.pop("offset", None)
    board_params["pipeline"] = stage.pipeline_id
    is_htmx = request.headers.get("HX-Request") == "true"
    board_url = reverse("pipeline:board") + "?" + board_params.urlencode()
    context = {
        "column": column,
        "cards_html": render_cards(
            column.cards, next_url=board_url if is_htmx else request.get_full_path()
        ),
        "stage": stage,
        "filter": filterset,
        "board_url": board_url,
        "column_query": _query_without(request, "offset"),
        "next_offset": offset + len(column.cards),
        "shown_from": offset + 1,
        "shown_to": offset + len(column.cards),
        "prev_offset": max(0, offset - selectors.card_limit()),
    }
    if is_htmx:
        return render(request, "pipeline/_stage_more.html", context)
    return render(request, "pipeline/board_column.html", context)


urlpatterns = [
    path("board/", board, name="board"),
    path("board/column/<int:stage_id>/", board_column, name="board_column"),
]
