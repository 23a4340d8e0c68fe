"""Database routing: which reads may go to the read replica.

With ``DATABASE_REPLICA_URL`` set (see settings, "Databases: replica") there is a ``replica``
alias. Reads go there only while a view marked :func:`reads_from_replica` handles a GET or
HEAD request: the report pages and the forecast dashboard, which show aggregates where a few
seconds of replication lag do not matter. Everything else stays on ``default``:

* every write (``db_for_write``), and every read inside a transaction on ``default`` (the
  services read, lock and write in one transaction, so they never see a lagging copy);
* every other page: a rep who just moved a deal sees it on the board and the deal page at
  once, because those pages read the primary;
* Celery tasks, management commands and the admin (nothing marks them);
* migrations (``allow_migrate`` is False for the replica: it receives the schema from the
  primary through replication).

The mark is a context variable, set for the duration of the view only, so it never leaks into
another request of the same worker thread. Without a replica the router answers ``None`` and
Django uses ``default`` as if it were not there.

Read your own writes: :class:`PinPrimaryAfterWriteMiddleware` gives every non-GET/HEAD
request's response a short-lived cookie; while a browser has it
(``settings.OPPORTUNE_REPLICA_PIN_SECONDS``), its replica pages read the primary too, so a
manager who saves a quota and lands on the dashboard sees the new figure at once. Other
users see it once the replica has caught up.
"""

from __future__ import annotations

import functools
import logging
from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, OperationalError, connections

REPLICA = "replica"
SAFE_METHODS = ("GET", "HEAD")
PIN_COOKIE = "opportune_primary"

logger = logging.getLogger(__name__)

_replica_reads: ContextVar[bool] = ContextVar("opportune_replica_reads", default=False)


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


def reading_replica() -> bool:
    """Whether this request's reads go to the replica (inside :func:`replica_reads`)."""
    return _replica_reads.get()


@contextmanager
def replica_reads():
    """Within this block, reads outside a transaction go to the replica (when configured)."""
    token = _replica_reads.set(True)
    try:
        yield
    finally:
        _replica_reads.reset(token)


def reads_from_replica(view):
    """Mark a read-only page (reports, the forecast dashboard) as served from the replica.

    Only GET and HEAD are routed; any other method runs on the primary as usual. Place it
    below ``@login_required``, so the session and the user are read from the primary. When the
    replica cannot be reached the page is served from the primary instead (and a warning
    logged): a replica outage slows reports down, it does not break them.
    """

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if (
            request.method not in SAFE_METHODS
            or not replica_configured()
            or PIN_COOKIE in request.COOKIES
        ):
            return view(request, *args, **kwargs)
        try:
            with replica_reads():
                return view(request, *args, **kwargs)
        except OperationalError:
            # The page only reads, so running it again on the primary is safe; if the primary
            # is what failed, it fails again and the error propagates as before.
            logger.warning(
                "read replica unavailable; serving %s from the primary", request.path, exc_info=True
            )
            return view(request, *args, **kwargs)

    return wrapper


class PinPrimaryAfterWriteMiddleware:
    """After a request that may have written (any method but GET and HEAD), the same browser
    reads the primary on replica pages for ``OPPORTUNE_REPLICA_PIN_SECONDS``. The cookie only
    ever sends its holder to the primary, so it needs no signature."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        seconds = settings.OPPORTUNE_REPLICA_PIN_SECONDS
        if request.method not in SAFE_METHODS and replica_configured() and seconds > 0:
            response.set_cookie(
                PIN_COOKIE,
                "1",
                max_age=seconds,
                httponly=True,
                samesite="Lax",
                secure=settings.SESSION_COOKIE_SECURE,
            )
        return response


class ReplicaRouter:
    """Reads in a :func:`replica_reads` block go to the replica, everything else to default."""

    def db_for_read(self, model, **hints):
        if not _replica_reads.get() or not replica_configured():
            return None
        if connections[DEFAULT_DB_ALIAS].in_atomic_block:
            # A read inside a transaction belongs to that transaction (it may be about to
            # write, or just wrote): it must see the primary.
            return DEFAULT_DB_ALIAS
        return REPLICA

    def db_for_write(self, model, **hints):
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        # The replica is a copy of default: objects from either may be related.
        dbs = {DEFAULT_DB_ALIAS, REPLICA}
        if obj1._state.db in dbs and obj2._state.db in dbs:
            return True
        return None

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        if db == REPLICA:
            return False
        return None
