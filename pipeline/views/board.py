"""The pipeline board (/pipeline/board/) and its "show more" column pages.

The board is a plain page: filters are a GET form (state in the URL), every card has a
small move form, and "show more" is a link. ``static/js/board.js`` adds drag and drop on
top (posting to ``pipeline:opportunity_move`` with the card's version) and loads "show
more" in place with htmx.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, render
from django.urls import path, reverse
from django.utils.html import format_html_join
from django.views.decorators.http import require_GET

from pipeline.models import Stage
from pipeline.selectors import board as selectors
from pipeline.selectors.opportunities import lost_reason_choices


def _query_without(request, *keys: str) -> str:
    params = request.GET.copy()
    for key in keys:
        params.pop(key, None)
    return params.urlencode()


def _stage_options(stages) -> str:
    """The move menu's options, rendered once for all cards (lean card template)."""
    return format_html_join(
        "",
        '<option value="{}">{}</option>',
        ((s.pk, s.name) for s in stages if s.kind != Stage.Kind.LOST),
    )


@login_required
@require_GET
def board(request):
    data = selectors.board_for(user=request.user, params=request.GET, request=request)
    return render(
        request,
        "pipeline/board.html",
        {
            "board": data,
            "filter": data.filterset,
            "stage_options": _stage_options(data.stages),
            "lost_reasons": list(lost_reason_choices()) if data.lost_stages else [],
            "next_url": request.get_full_path(),
            "filter_query": _query_without(request, "pipeline"),
            "query": request.GET.urlencode(),
        },
    )


@login_required
@require_GET
def board_column(request, stage_id: int):
    stage = get_object_or_404(
        Stage.objects.select_related("pipeline").filter(kind=Stage.Kind.OPEN), pk=stage_id
    )
    try:
        offset = max(0, int(request.GET.get("offset", selectors.CARD_LIMIT)))
    except ValueError:
        offset = selectors.CARD_LIMIT
    column, filterset = selectors.column_page(
        user=request.user, params=request.GET, stage=stage, offset=offset, request=request
    )
    stages = list(stage.pipeline.stages.order_by("position", "id"))
    board_params = request.GET.copy()
    board_params.pop("offset", None)
    board_params["pipeline"] = stage.pipeline_id
    is_htmx = request.headers.get("HX-Request") == "true"
    board_url = reverse("pipeline:board") + "?" + board_params.urlencode()
    context = {
        "column": column,
        "stage": stage,
        "filter": filterset,
        "stage_options": _stage_options(stages),
        "next_url": board_url if is_htmx else request.get_full_path(),
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
