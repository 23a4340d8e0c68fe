"""Relative dates as people say them: "3 hours ago", "in 2 days", "tomorrow" (the exact date
and time belong in the element's title).

``{% relative value %}`` is how a page shows one (the manager's and the rep's home, My tasks,
a deal's timeline and next step, the deal list's last activity):
``<time datetime="…" title="Dec 20, 2026">in 3 days</time>``, the machine-readable moment in
``datetime``, the full date (the one style of every page, "M j, Y") on hover. The ``ago``
filter is its text alone."""

from __future__ import annotations

import datetime as dt

from django import template
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.html import format_html
from django.utils.timesince import timesince, timeuntil

register = template.Library()

DATE_STYLE = "M j, Y"
DATETIME_STYLE = "M j, Y H:i"


def _days(value: dt.date) -> str:
    """A calendar day against today's (in the site's time zone)."""
    today = timezone.localdate()
    delta = (value - today).days
    if delta == 0:
        return "today"
    if delta == 1:
        return "tomorrow"
    if delta == -1:
        return "yesterday"
    if abs(delta) < 14:  # "in 10 days" says more than "in 1 week"
        return f"in {abs(delta)}\xa0days" if delta > 0 else f"{-delta}\xa0days ago"
    if delta > 0:
        return f"in {timeuntil(value, today, depth=1)}"
    return f"{timesince(value, today, depth=1)} ago"


@register.filter
def ago(value) -> str:
    """The largest unit only: "8 hours ago" rather than "8 hours, 16 minutes ago"; "just
    now" under a minute; "in 3 days" for a moment still to come. A date (without a time) is
    counted in calendar days: "today", "tomorrow", "yesterday", "in 2 weeks"."""
    if isinstance(value, dt.datetime):
        now = timezone.now()
        if abs((now - value).total_seconds()) < 60:
            return "just now"
        if value > now:
            return f"in {timeuntil(value, now, depth=1)}"
        return f"{timesince(value, now, depth=1)} ago"
    if isinstance(value, dt.date):
        return _days(value)
    return ""


@register.simple_tag
def relative(value, empty: str = "", within: int | None = None) -> str:
    """``<time>`` with the relative text, the exact moment in ``datetime`` and the full date
    (and time, for a moment) in ``title``; ``empty`` when there is no date. With ``within``
    (days), a moment further away than that reads as its date ("Mar 26, 2025"): a long
    history stays datable at a glance."""
    if isinstance(value, dt.datetime):
        local = timezone.localtime(value) if timezone.is_aware(value) else value
        day, machine, full = local.date(), local.replace(microsecond=0).isoformat(), DATETIME_STYLE
    elif isinstance(value, dt.date):
        local, day, machine, full = value, value, value.isoformat(), DATE_STYLE
    else:
        return empty
    far = within is not None and abs((day - timezone.localdate()).days) > int(within)
    text = date_format(local, DATE_STYLE) if far else ago(value)
    return format_html(
        '<time datetime="{}" title="{}">{}</time>', machine, date_format(local, full), text
    )
