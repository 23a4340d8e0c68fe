"""The Jinja2 environment of the board's card partial (``pipeline/jinja2/``), the one
template on a hot path: Django's template engine would spend most of a board request on
200 cards, Jinja2 compiles the loop to Python once.

Every value a template prints is escaped by the environment's ``finalize``, exactly as
Django's templates escape (``html.escape``: ``&quot;`` and ``&#x27;``, where MarkupSafe
writes ``&#34;`` and ``&#39;``), so a card's markup is the same whichever engine drew it;
values that carry their own HTML (``__html__``, e.g. ``mark_safe``) print as they are.
Jinja2's autoescape is off because ``finalize`` does its work: escaping twice would show
``&amp;lt;``. Whole numbers skip the escaping, and the escaped form of recent strings is
remembered (a board repeats its owners, dates, amounts and each deal's name and URL).
"""

from __future__ import annotations

import functools
from html import escape

from jinja2 import Environment

_escape_str = functools.lru_cache(maxsize=4096)(escape)


def escape_value(value):
    """A printed value as HTML text (Django's escaping)."""
    cls = value.__class__
    if cls is str:
        return _escape_str(value)
    if cls is int:
        return value
    if hasattr(value, "__html__"):
        return value.__html__()
    return escape(str(value))


def environment(**options) -> Environment:
    options["autoescape"] = False  # finalize escapes every printed value
    return Environment(finalize=escape_value, **options)  # nosec B701: finalize escapes every value
