"""Relative dates as people say them: "3 hours ago", "in 2 days" (the exact date and time
belong in the element's title)."""

from __future__ import annotations

import datetime as dt

from django import template
from django.utils import timezone
from django.utils.timesince import timesince, timeuntil

register = template.Library()


@register.filter
def ago(value) -> str:
    """The largest unit only: "8 hours ago" rather than "8 hours, 16 minutes ago"; "just
    now" under a minute; "in 3 days" for a moment still to come."""
    if not isinstance(value, dt.datetime):
        return ""
    now = timezone.now()
    if abs((now - value).total_seconds()) < 60:
        return "just now"
    if value > now:
        return f"in {timeuntil(value, now, depth=1)}"
    return f"{timesince(value, now, depth=1)} ago"
