"""The cache of computed figures: a report's, the forecast dashboard's or a deal page's
timeline, per visibility scope, filters and day, until something changes.

A report at 100,000 deals costs a few hundred milliseconds of aggregate queries; on a busy
team most requests ask again for what the previous one computed (the same manager's
dashboard, the same report with the same filters). The figures (plain data: dataclasses,
Decimals, dates, never HTML or anything of the person's own, such as a CSRF token) are kept
in Django's cache (Redis when ``REDIS_URL`` is set) under

    opportune:reads:<format>:<board generation>:<generation>:<scope>:<day>:<name>:<hash>

- **generations**: the board's (``pipeline.board_cache``: every deal, company, stage, rate,
  score, user and team write replaces it) and this cache's own, which is replaced by every
  saved or deleted row of the accounts, pipeline and forecasting apps (``post_save``,
  ``post_delete``, ``m2m_changed``: activities, tasks, leads, contacts, quotas, adjustments,
  snapshots …, also through Django admin) and by the writes that send no model signal
  (the snapshot and range writers, bulk user changes: :func:`changed`). Saves that change no
  figure (logging in, a person's own board view) do not count.
- **within a transaction** a write marks the connection; the generation is replaced when the
  transaction commits (other requests cannot see the rows before) and, for reads in the same
  transaction (a request that writes and then reads, a test), before its next read.
- **replica**: a page read from the replica (``config.routers``) within
  ``OPPORTUNE_REPLICA_PIN_SECONDS`` of a change is computed and not cached: the replica may
  not have the change yet, and the entry would outlive it.
- **scope**: whose records the figures cover (``accounts.visibility.scope_key``).
- **day**: "today", "this month" and overdue change at midnight. Figures measured up to the
  moment they are computed (ages, days idle) may lag by up to the time-to-live,
  ``OPPORTUNE_READ_CACHE_SECONDS``.
- **name and hash**: which computation, and its inputs (:func:`key_of`: a scope's filters as
  primary keys and ISO dates, plus the page's options).

Like the board's, this cache is an optimisation only: when it cannot be reached the figures
are computed as if nothing were cached; a failed invalidation is logged (entries then live
at most their time-to-live). With ``OPPORTUNE_READ_CACHE_SECONDS = 0`` (the default without
Redis) nothing is cached.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import models, transaction
from django.utils import timezone

from accounts import visibility
from config import routers
from pipeline import board_cache

log = logging.getLogger(__name__)
T = TypeVar("T")

GENERATION_KEY = "opportune:reads:generation"
FORMAT = "v1"
# Apps whose rows make up the figures; a save or delete in any of them replaces the generation.
WATCHED_APPS = frozenset({"accounts", "pipeline", "forecasting"})
# Tables written and deleted in bulk, whose writers call changed() (snapshots and ranges) or
# board_cache.changed() (scores, exchange rates); a deal's history rows follow its own save.
BULK_WRITTEN = frozenset(
    {
        "forecasting.forecastsnapshot",
        "forecasting.forecastrange",
        "forecasting.snapshotrun",
        "pipeline.dealscore",
        "pipeline.exchangerate",
        "pipeline.historicalopportunity",
    }
)
# Scope fields that are not inputs of a computation: the moment it runs is keyed by the day.
IGNORED_FIELDS = frozenset({"now"})
_DIRTY = "opportune_read_cache_dirty"  # written in this transaction, not yet read after
_PENDING = "opportune_read_cache_pending"  # written in this transaction, not yet committed


def ttl() -> int:
    return int(getattr(settings, "OPPORTUNE_READ_CACHE_SECONDS", 0) or 0)


def _generations() -> tuple[str, bool]:
    """(the two generations as one key part, whether either changed too recently for a page
    read from a replica to be cached: the replica may not have the rows yet)."""
    conn = transaction.get_connection()
    if getattr(conn, _DIRTY, False):
        setattr(conn, _DIRTY, False)
        invalidate()
    tokens = cache.get_many([board_cache.GENERATION_KEY, GENERATION_KEY])
    board = board_cache.generation_token(board_cache.GENERATION_KEY, tokens)
    reads = board_cache.generation_token(GENERATION_KEY, tokens)
    recent = False
    if routers.replica_configured() and routers.reading_replica():
        stamp = reads.rpartition("-")[2]
        age = time.time() - (int(stamp) if stamp.isdigit() else 0)
        recent = age < settings.OPPORTUNE_REPLICA_PIN_SECONDS
    return f"{board}:{reads}", recent


def _part(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, models.Model):
        return f"{value._meta.label_lower}={value.pk}"
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    param = getattr(value, "param", None)  # a forecast Period
    if isinstance(param, str):
        return param
    if isinstance(value, list | tuple):
        return "[" + ",".join(_part(v) for v in value) + "]"
    return repr(value)


def key_of(scope: Any = None, **options: Any) -> str:
    """The inputs of a computation as text: every field of a scope dataclass but its viewer
    (who is in the key as a visibility scope) and the moment (the day is), then the options."""
    parts = []
    if scope is not None:
        for f in dataclasses.fields(scope):
            if f.name == "user" or f.name in IGNORED_FIELDS:
                continue
            parts.append(f"{f.name}:{_part(getattr(scope, f.name))}")
    parts += [f"{k}:{_part(v)}" for k, v in sorted(options.items())]
    return "|".join(parts)


def cached(name: str, user, inputs: str, build: Callable[[], T]) -> T:
    """``build()``'s result for ``user``'s scope and ``inputs``, from the cache while nothing
    changed since it was computed."""
    if ttl() <= 0:
        return build()
    try:
        digest = hashlib.sha256(inputs.encode()).hexdigest()[:32]
        day = timezone.localdate().isoformat()
        scope = visibility.scope_key(user)
        generations, recent = _generations()
        key = f"opportune:reads:{FORMAT}:{generations}:{scope}:{day}:{name}:{digest}"
        hit = None if recent else cache.get(key)
    except Exception:  # an optimisation: never fail a page for it
        log.warning("read cache unavailable; computing %s", name, exc_info=True)
        return build()
    if hit is not None:
        return hit
    value = build()
    if recent:  # computed from a replica right after a write: maybe not all of it yet
        return value
    try:
        cache.set(key, value, timeout=ttl())
    except Exception:
        log.warning("read cache unavailable; %s not cached", name, exc_info=True)
    return value


def cached_for(scope, name: str, build: Callable[[], T], **options: Any) -> T:
    """``build()`` for a scope dataclass (its viewer, its filters) and ``options``: what the
    report and forecast pages ask for."""
    return cached(name, scope.user, key_of(scope, **options), build)


def invalidate() -> None:
    """Make every cached figure stale (a new generation)."""
    try:
        # The time of the change is in the token: see _generations.
        cache.set(GENERATION_KEY, f"{uuid.uuid4().hex}-{int(time.time())}", timeout=None)
    except Exception:
        log.warning("read cache unreachable: figures stay up to %s s", ttl(), exc_info=True)


def _committed() -> None:
    conn = transaction.get_connection()
    if getattr(conn, _PENDING, False):  # once per commit, however many rows it wrote
        setattr(conn, _PENDING, False)
        invalidate()


def changed() -> None:
    """Called by every write that could change a figure (see the module doc)."""
    conn = transaction.get_connection()
    if not conn.in_atomic_block:
        invalidate()
        return
    setattr(conn, _DIRTY, True)
    setattr(conn, _PENDING, True)
    # Registered each time: a rolled-back savepoint drops the callbacks registered inside it.
    transaction.on_commit(_committed)


def _neutral_user_save(sender, update_fields) -> bool:
    return (
        sender._meta.label_lower == "accounts.user"
        and update_fields is not None
        and set(update_fields) <= board_cache.BOARD_NEUTRAL_USER_FIELDS
    )


def _row_written(sender, update_fields=None, **kwargs) -> None:
    if _neutral_user_save(sender, update_fields):
        return
    changed()


def _users_changed(sender, **kwargs) -> None:
    changed()


def connect_signals() -> None:
    """One receiver per watched model, not one for every sender: a ``post_delete`` receiver
    makes Django delete that model's rows one by one, which the bulk-written tables below
    must not pay (their writers call :func:`changed` themselves)."""
    from django.apps import apps
    from django.db.models.signals import m2m_changed, post_delete, post_save

    from accounts import events

    for label in sorted(WATCHED_APPS):
        for model in apps.get_app_config(label).get_models():
            if model._meta.label_lower in BULK_WRITTEN:
                continue
            uid = f"read_cache_{model._meta.label_lower}"
            post_save.connect(_row_written, sender=model, dispatch_uid=f"{uid}_save")
            post_delete.connect(_row_written, sender=model, dispatch_uid=f"{uid}_delete")
            for field in model._meta.local_many_to_many:
                m2m_changed.connect(
                    _row_written, sender=field.remote_field.through, dispatch_uid=f"{uid}_m2m"
                )
    events.users_changed.connect(_users_changed, dispatch_uid="read_cache_users")
