"""The board and the deal list as of a past day (``?as_of=YYYY-MM-DD`` on their own URLs).

Read-only pages: no drag and drop, no move, edit or create buttons on them; a banner names
the day and links back to today, and "compare with today" (``&compare=1``) shows each card's
change since. A date that cannot be read is a 400 with the reason; today or a later date
shows today's pipeline with a note (see :func:`pipeline.selectors.as_of.parse_as_of`).
"""

from __future__ import annotations

import functools
from urllib.parse import urlencode

from django.contrib import messages
from django.http import QueryDict
from django.shortcuts import render
from django.template import engines
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import mark_safe

from pipeline import board_cache
from pipeline.avatars import owner_label
from pipeline.filters.opportunities import OpportunityFilter
from pipeline.selectors import as_of as selectors
from pipeline.selectors import board as board_selectors
from pipeline.selectors.opportunities import LIST_PAGE_SIZE
from pipeline.selectors.paging import paginate
from pipeline.templatetags.opportune import money, whole_money_formatter

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def announce(request, as_of: selectors.AsOf) -> int:
    """Show why ``as_of`` was not used (a message) and return the page's status: 400 for a
    date that cannot be read, 200 otherwise."""
    if as_of.error:
        messages.error(request, as_of.error)
        return 400
    if as_of.note:
        messages.info(request, as_of.note)
    return 200


def _query_of(request, *drop: str, params=None, **changes) -> str:
    params = (request.GET if params is None else params).copy()
    for key in drop:
        params.pop(key, None)
    for key, value in changes.items():
        params[key] = value
    return params.urlencode()


def keep_fields(params) -> list[tuple[str, str]]:
    """The (name, value) pairs of a page's query the day picker keeps: its filters, not the
    page, the day or the comparison."""
    return [
        (k, v) for k in params for v in params.getlist(k) if k not in ("as_of", "compare", "page")
    ]


def _banner(request, as_of: selectors.AsOf, today_url: str, params=None) -> dict:
    """The banner's links: back to today (the same filters), compare on or off, and the
    hidden fields that keep the filters when another day is chosen; from ``params`` when
    given (the board's own query), else the request's."""

    def _query(request, *drop, **changes):
        return _query_of(request, *drop, params=params, **changes)

    keep = QueryDict(_query(request, "as_of", "compare", "page"))
    return {
        "as_of": as_of,
        "today_url": today_url + (f"?{keep.urlencode()}" if keep else ""),
        "compare_url": "?"
        + (
            _query(request, "compare", "page")
            if as_of.compare
            else _query(request, "page", compare="1")
        ),
        "as_of_keep": keep_fields(keep),
    }


@functools.cache
def _cards_template():
    return engines["jinja2"].get_template("pipeline/_cards_as_of.html").template


def render_cards(cards: list[dict], *, compare: bool) -> str:
    """The cards of the board as of a day (Jinja2, as the live board's, for the same reason:
    ``pipeline.views.board.render_cards``); read-only, with their change since when compared."""
    money = whole_money_formatter()

    def day(value):
        return f"{MONTHS[value.month - 1]} {value.day}, {value.year}"

    detail = reverse("pipeline:opportunity_detail", args=[0]).replace("/0/", "/{}/")
    for c in cards:
        c["owner_initials"], c["owner_full"], c["owner_tone"] = owner_label(c["owner_name"] or "")
        c["url"] = detail.format(c["id"])
        c["amount_label"] = money(c["s_amount"])
        c["close_iso"] = c["s_close"].isoformat()
        c["close_label"] = day(c["s_close"])
        shown = []
        for kind, value in c["changes"] if compare else ():
            if kind == "amount":
                shown.append((kind, f"Amount now {money(value)}"))
            elif kind == "close":
                shown.append((kind, f"Closes now {day(value)}"))
            else:
                shown.append((kind, value))
        c["changes_shown"] = shown
    html = _cards_template().render(cards=cards)
    # The template escapes every value it interpolates (the tests render hostile names).
    return mark_safe(html)  # nosec B308 B703: autoescaped template output


def board_query(params, as_of: selectors.AsOf) -> str:
    """The as-of board's own parameters: the board's (``board_cache.board_query``), the day
    and the comparison."""
    extra = {"as_of": as_of.day.isoformat(), **({"compare": "1"} if as_of.compare else {})}
    return "&".join(q for q in (board_cache.board_query(params), urlencode(extra)) if q)


def _board_content(request, as_of: selectors.AsOf, query: str) -> dict:
    """The as-of board's title and content (``pipeline/_board_as_of.html``), built from the
    database; everything in it depends only on what ``board_cache`` keys it by (the viewer's
    scope, ``query`` and today's date), so its links carry ``query``, not the URL."""
    params = QueryDict(query)
    data = selectors.board_as_of(
        user=request.user,
        params=params,
        day=as_of.day,
        compare=as_of.compare,
        request=request,
    )
    list_url = reverse("pipeline:opportunity_list")
    columns = []
    for col in data.columns:
        more = ""
        if col.more:
            # The column's other deals of that day, in the deal list as of the same day.
            more_params = params.copy()
            for key in ("compare", "page"):
                more_params.pop(key, None)
            more_params["pipeline"], more_params["stage"], more_params["status"] = (
                data.pipeline.pk,
                col.stage.pk,
                "open",
            )
            more = f"{list_url}?{more_params.urlencode()}"
        columns.append((col, render_cards(col.cards, compare=as_of.compare), more))
    content = render_to_string(
        "pipeline/_board_as_of.html",
        {
            "board": data,
            "columns": columns,
            "filter": data.filterset,
            "pipelines": data.pipelines,
            **_banner(request, as_of, reverse("pipeline:board"), params=params),
        },
        request=request,
    )
    return {"title": data.pipeline.name if data.pipeline else "", "content": content}


def board(request, as_of: selectors.AsOf):
    """The board as of a past day; its content comes from ``board_cache`` as the live
    board's does (a past day's board changes only by the writes that renew the cache's
    generation), keyed by the day and the comparison besides the board's query."""
    query = board_query(request.GET, as_of)
    key, page = board_cache.get(request.user, query)
    if page is None:
        page = _board_content(request, as_of, query)
        board_cache.put(key, page)
    return render(
        request,
        "pipeline/board_as_of.html",
        # The content is HTML our own template rendered (escaping as it does), cached as text.
        {"as_of": as_of, "title": page["title"], "content": mark_safe(page["content"])},  # nosec B308 B703
    )


def deal_list(request, as_of: selectors.AsOf, *, columns):
    params = request.GET
    filterset = OpportunityFilter(
        params,
        queryset=board_selectors.Opportunity.objects.none(),
        request=request,
    )
    rows = selectors.deal_list(user=request.user, filterset=filterset, day=as_of.day)
    page = paginate(rows, params.get("page"), LIST_PAGE_SIZE)
    if as_of.compare:
        page.object_list = selectors.list_changes(list(page.object_list), money)
    return render(
        request,
        "pipeline/opportunity_list_as_of.html",
        {
            "filter": filterset,
            "page": page,
            "query": _query_of(request, "page"),
            "sort": params.get("o", ""),
            "columns": columns,
            **_banner(request, as_of, reverse("pipeline:opportunity_list")),
        },
    )
