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

from pipeline import board_cache
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
    for c in cards:
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
    """The board's title and content (``pipeline/_board.html``), built from the database.

    Everything in it depends only on what ``board_cache`` keys it by (the user's scope, the
    board's query and the day), so links carry the board's own query, not the URL's."""
    params = QueryDict(query)
    data = selectors.board_for(user=request.user, params=params, request=request)
    next_url = reverse("pipeline:board") + (f"?{query}" if query else "")
    columns = [(col, render_cards(col.cards, next_url=next_url)) for col in data.columns]
    content = render_to_string(
        "pipeline/_board.html",
        {
            "board": data,
            "columns": columns,
            "filter": data.filterset,
            "lost_reasons": list(lost_reason_choices()) if data.lost_stages else [],
            "query": query,
            "as_of_keep": as_of_views.keep_fields(params),
        },
        request=request,
    )
    return {"title": data.pipeline.name if data.pipeline else "", "content": content}


@login_required
@require_GET
def board(request):
    """The board; its content comes from ``board_cache`` when nothing changed since. With
    ``?as_of=`` a past day, the board as it stood then (``pipeline.views.as_of``)."""
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
        # The content is HTML our own template rendered (escaping as it does), cached as text.
        {"title": page["title"], "content": mark_safe(page["content"])},  # nosec B308 B703
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
