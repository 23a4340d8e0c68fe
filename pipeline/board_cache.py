"""The board page's cache: its rendered content per visibility scope, filter, pipeline and day
(and, for the board as of a past day, that day).

A board costs a few grouped queries and 200 cards to render; on a busy team most requests
ask again for what the previous one built. The content (filters, column headers, cards,
the lost-reason dialog: everything but the layout around it, which holds the user's menu,
messages and CSRF token) is kept in Django's cache (Redis when ``REDIS_URL`` is set) under

    opportune:board:<format>:<generation>:<scope>:<day>:<hash of the board's query>

- **format**: the shape of the cached page; a release that changes it reads new keys.
- **generation**: one token in the cache that every write able to change a board replaces
  (:func:`changed`): deal services (create, edit, move, close, reopen, reassign), company
  renames, admin saves of pipelines, stages and lost reasons, and saves of users and teams
  (a rename, a team change or a new manager changes who sees what; not a person's own board
  view, density and collapsed columns, which is applied outside the cached content). Old
  entries are never deleted, only no longer read, and expire after
  ``OPPORTUNE_BOARD_CACHE_SECONDS``. A write inside a transaction replaces it at once and
  again when the transaction commits: a request that read the old rows between the two has
  cached them under the intermediate token, which nobody reads after the commit.
- **scope**: whose deals the board may show (accounts/visibility.py): every admin sees the
  same board; a manager's or a rep's scope is their own (role, user id and team).
- **day**: overdue badges and the "this month" filters change at midnight. The "N days in
  stage" badges change at the time of day a deal entered its stage: they may lag by up to
  the time-to-live.
- **query**: the pipeline and the filters, as the board's own parameters in a fixed order
  (anything else in the URL is ignored, so it cannot multiply entries); the board as of a
  past day (``pipeline.views.as_of``) adds that day and the comparison. A past day's board
  changes only by the writes that replace the generation (history is written by the deal
  services, imports and their undoing; stages, rates, users and teams by theirs), so it is
  cached the same way.

The cache is an optimisation only: when it cannot be reached the board is built as if
nothing were cached, and a write whose invalidation fails is logged (entries then live at
most their time-to-live). With ``OPPORTUNE_BOARD_CACHE_SECONDS = 0`` (the default without
Redis: a per-process cache would not see other processes' invalidations) nothing is cached.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from urllib.parse import urlencode

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from accounts import board_prefs, visibility
from pipeline.filters.opportunities import BoardFilter

log = logging.getLogger(__name__)

GENERATION_KEY = "opportune:board:generation"
# The shape of a cached page (see pipeline/views/board.py); a new shape gets new keys.
FORMAT = "v2"
# User fields whose saves change no board's content: logging in and the person's own view
# of the board (accounts/board_prefs.py), which is applied outside the cached content.
BOARD_NEUTRAL_USER_FIELDS = {"last_login", *board_prefs.PREFERENCE_FIELDS}
BOARD_PARAMS = ("pipeline", *BoardFilter.base_filters)


def ttl() -> int:
    return int(getattr(settings, "OPPORTUNE_BOARD_CACHE_SECONDS", 0) or 0)


def board_query(params) -> str:
    """The board's parameters (pipeline and filters) of ``params``, in a fixed order."""
    pairs = [(k, v) for k in BOARD_PARAMS for v in params.getlist(k) if v != ""]
    return urlencode(pairs)


def scope(user) -> str:
    """Whose deals the board shows: equal scopes see equal boards."""
    return visibility.scope_key(user)


def generation_token(key: str, known: dict | None = None) -> str:
    """The generation token stored under ``key`` (``known``: tokens the caller has already
    fetched, by key), created on first use: ``cache.add`` keeps the first of two concurrent
    creators, so both agree on it. The read cache (:mod:`pipeline.read_cache`) keeps its own
    generation the same way."""
    token = cache.get(key) if known is None else known.get(key)
    if token is None:
        token = uuid.uuid4().hex
        if not cache.add(key, token, timeout=None):
            token = cache.get(key) or token
    return token


def _generation() -> str:
    return generation_token(GENERATION_KEY)


def _key(user, query: str, generation: str) -> str:
    digest = hashlib.sha256(query.encode()).hexdigest()[:32]
    day = timezone.localdate().isoformat()
    return f"opportune:board:{FORMAT}:{generation}:{scope(user)}:{day}:{digest}"


def get(user, query: str) -> tuple[str | None, dict | None]:
    """(key, cached page) for this user's board with ``query``; (None, None) when the cache
    is off or unreachable, (key, None) on a miss."""
    if ttl() <= 0:
        return None, None
    try:
        key = _key(user, query, _generation())
        return key, cache.get(key)
    except Exception:  # the cache is an optimisation: never fail a page for it
        log.warning("board cache unavailable; building the board", exc_info=True)
        return None, None


def put(key: str | None, page: dict) -> None:
    if key is None:
        return
    try:
        cache.set(key, page, timeout=ttl())
    except Exception:
        log.warning("board cache unavailable; board not cached", exc_info=True)


def invalidate() -> None:
    """Make every cached board stale (a new generation)."""
    try:
        cache.set(GENERATION_KEY, uuid.uuid4().hex, timeout=None)
    except Exception:
        log.warning("board cache unreachable: cached boards stay up to %s s", ttl(), exc_info=True)


def changed() -> None:
    """Called by every write that could change what a board shows (see the module doc); it
    changes computed figures too (``pipeline.read_cache``)."""
    from pipeline import read_cache

    invalidate()
    read_cache.changed()
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(invalidate)


def _user_saved(sender, instance, update_fields=None, **kwargs) -> None:
    if update_fields is not None and set(update_fields) <= BOARD_NEUTRAL_USER_FIELDS:
        return  # logging in or changing one's own board view changes no board's content
    changed()


def _team_or_user_changed(sender, instance, **kwargs) -> None:
    changed()


def connect_signals() -> None:
    """Users and teams are edited in accounts' admin: their saves decide scopes and names."""
    from django.contrib.auth import get_user_model
    from django.db.models.signals import post_delete, post_save

    from accounts.models import Team

    user_model = get_user_model()
    post_save.connect(_user_saved, sender=user_model, dispatch_uid="board_cache_user")
    post_delete.connect(_team_or_user_changed, sender=user_model, dispatch_uid="board_cache_du")
    post_save.connect(_team_or_user_changed, sender=Team, dispatch_uid="board_cache_team")
    post_delete.connect(_team_or_user_changed, sender=Team, dispatch_uid="board_cache_dt")
