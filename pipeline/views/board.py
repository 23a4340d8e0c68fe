"""The pipeline board (/pipeline/board/) and its "show more" column pages.

The board is a plain page: filters are a GET form (state in the URL), every card links to
its move form (``pipeline:opportunity_move``), and "show more" is a link.
``static/js/board.js`` adds drag and drop on top (posting to the move URL with the card's
version), opens a card's move form inside the card, and loads "show more" in place with
htmx.
"""

from __future__ import annotations

from html import escape
from urllib.parse import quote

from django.contrib.auth.decorators import login_required
from django.http import QueryDict
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET

from pipeline import board_cache
from pipeline.models import Stage
from pipeline.selectors import board as selectors
from pipeline.selectors.opportunities import lost_reason_choices
from pipeline.templatetags.opportune import whole_money_formatter

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

CARD = (
    '<li class="card{warn}" id="card-{id}" data-id="{id}" data-version="{version}" '
    'data-stage="{stage}" data-move-url="{move_url}" data-name="{name}">'
    '<a class="card-name" href="{url}">{name}</a>'
    '<span class="card-company">{company}</span>'
    '<span class="card-figs"><span class="num">{amount}</span> · '
    '<time datetime="{close_iso}">{close}</time></span>'
    '<span class="card-meta">@{owner}{next_step}</span>{badges}'
    '<a class="card-move" href="{move_url}?next={next_q}">Move<span class="visually-hidden"> '
    "{name}</span>…</a></li>\n"
)


def render_cards(cards: list[dict], *, next_url: str) -> str:
    """The board's cards as HTML, built in Python: a board shows up to 200 of them and the
    template engine would spend most of the request on them (DESIGN.md §6). Every value
    from the database is escaped here, with the standard library's ``html.escape`` (what
    Django's ``escape`` calls, without its lazy-string wrapper, a third of this loop)."""
    next_q = escape(quote(next_url, safe=""))
    money = whole_money_formatter()
    out = []
    for c in cards:
        badges = ""
        if c["rotting"] or c["overdue"]:
            parts = []
            if c["rotting"]:
                days = c["days_in_stage"]
                parts.append(
                    f'<span class="badge badge-warn" title="Rotting: {days} days in this stage, '
                    f'longer than the stage allows">⚠ {days}d in stage</span>'
                )
            if c["overdue"]:
                parts.append('<span class="badge badge-warn">⚠ close date passed</span>')
            badges = f'<span class="card-badges">{"".join(parts)}</span>'
        step = c["next_step"]
        if len(step) > 48:
            step = step[:47] + "…"
        close = c["expected_close_date"]
        out.append(
            CARD.format(
                warn=" is-warn" if badges else "",
                id=c["id"],
                version=c["version"],
                stage=c["stage_id"],
                move_url=c["move_url"],
                url=c["url"],
                name=escape(c["name"]),
                company=escape(c["company_name"] or "No company"),
                amount=money(c["amount"]),
                close_iso=close.isoformat(),
                close=f"{MONTHS[close.month - 1]} {close.day}",
                owner=escape(c["owner_username"]),
                next_step=f" · next: {escape(step)}" if step else "",
                badges=badges,
                next_q=next_q,
            )
        )
    # Every interpolated value is escaped above (the tests render hostile names).
    return mark_safe("".join(out))  # nosec B308 B703: built only from escaped values


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
        },
        request=request,
    )
    return {"title": data.pipeline.name if data.pipeline else "", "content": content}


@login_required
@require_GET
def board(request):
    """The board; its content comes from ``board_cache`` when nothing changed since."""
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
    )


@login_required
@require_GET
def board_column(request, stage_id: int):
    stage = get_object_or_404(
        Stage.objects.select_related("pipeline").filter(kind=Stage.Kind.OPEN), pk=stage_id
    )
    try:
        offset = min(max(0, int(request.GET.get("offset", selectors.CARD_LIMIT))), 10**6)
    except ValueError:
        offset = selectors.CARD_LIMIT
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
        "prev_offset": max(0, offset - selectors.CARD_LIMIT),
    }
    if is_htmx:
        return render(request, "pipeline/_stage_more.html", context)
    return render(request, "pipeline/board_column.html", context)


urlpatterns = [
    path("board/", board, name="board"),
    path("board/column/<int:stage_id>/", board_column, name="board_column"),
]
