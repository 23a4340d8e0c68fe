"""The board and the deal list as of a past day (``?as_of=YYYY-MM-DD`` on their own URLs).

Read-only pages: no drag and drop, no move, edit or create buttons on them; a banner names
the day and links back to today, and "compare with today" (``&compare=1``) shows each card's
change since. A date that cannot be read is a 400 with the reason; today or a later date
shows today's pipeline with a note (see :func:`pipeline.selectors.as_of.parse_as_of`).
"""

from __future__ import annotations

import functools

from django.contrib import messages
from django.http import QueryDict
from django.shortcuts import render
from django.template import engines
from django.urls import reverse
from django.utils.safestring import mark_safe

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


def _query(request, *drop: str, **changes) -> str:
    params = request.GET.copy()
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


def _banner(request, as_of: selectors.AsOf, today_url: str) -> dict:
    """The banner's links: back to today (the same filters), compare on or off, and the
    hidden fields that keep the filters when another day is chosen."""
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


def board(request, as_of: selectors.AsOf):
    data = selectors.board_as_of(
        user=request.user,
        params=request.GET,
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
            params = request.GET.copy()
            for key in ("compare", "page"):
                params.pop(key, None)
            params["pipeline"], params["stage"], params["status"] = (
                data.pipeline.pk,
                col.stage.pk,
                "open",
            )
            more = f"{list_url}?{params.urlencode()}"
        columns.append((col, render_cards(col.cards, compare=as_of.compare), more))
    return render(
        request,
        "pipeline/board_as_of.html",
        {
            "board": data,
            "columns": columns,
            "filter": data.filterset,
            "pipelines": data.pipelines,
            **_banner(request, as_of, reverse("pipeline:board")),
        },
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
            "query": _query(request, "page"),
            "sort": params.get("o", ""),
            "columns": columns,
            **_banner(request, as_of, reverse("pipeline:opportunity_list")),
        },
    )
