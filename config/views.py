import logging

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpResponsePermanentRedirect, JsonResponse
from django.templatetags.static import static
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

log = logging.getLogger(__name__)


def _database_status() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return {"ok": True, "vendor": connection.vendor}
    except Exception as exc:  # any failure means "down"; the reason helps the operator
        log.warning("healthz: database check failed: %s", exc)
        return {"ok": False, "vendor": connection.vendor, "error": exc.__class__.__name__}


def _broker_status() -> dict:
    url = settings.CELERY_BROKER_URL
    if url.startswith("memory://"):
        return {"ok": True, "mode": "inline", "detail": "REDIS_URL unset: tasks run inline"}
    try:
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        client.ping()
        return {"ok": True, "mode": "redis"}
    except Exception as exc:
        log.warning("healthz: broker check failed: %s", exc)
        return {"ok": False, "mode": "redis", "error": exc.__class__.__name__}


@never_cache
@require_safe  # GET, and HEAD for load balancers that probe with it
def healthz(request):
    """200 when the database answers (the broker's state is reported but not fatal)."""
    db = _database_status()
    broker = _broker_status()
    status = "ok" if db["ok"] and broker["ok"] else ("degraded" if db["ok"] else "down")
    return JsonResponse(
        {"status": status, "database": db, "broker": broker}, status=200 if db["ok"] else 503
    )


def _migrations_status() -> dict:
    """Whether every migration on disk is applied to the database (the plan ``migrate`` would
    run is empty): a node started with newer code than the schema is not ready yet."""
    try:
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as exc:
        log.warning("readyz: migration check failed: %s", exc)
        return {"ok": False, "error": exc.__class__.__name__}
    pending = [f"{migration.app_label}.{migration.name}" for migration, backwards in plan]
    if not pending:
        return {"ok": True}
    return {"ok": False, "unapplied": len(pending), "first": pending[:10]}


@never_cache
@require_safe
def readyz(request):
    """200 only when this node can serve: the database answers and its schema is up to date
    (every migration applied); otherwise 503 with the reason. Load balancers route to ready
    nodes; /healthz says whether a node is alive."""
    db = _database_status()
    if not db["ok"]:
        body = {"status": "not ready", "reason": "database unavailable", "database": db}
        return JsonResponse(body, status=503)
    migrations = _migrations_status()
    if not migrations["ok"]:
        reason = "migrations not applied" if "unapplied" in migrations else "migration check failed"
        body = {"status": "not ready", "reason": reason, "database": db, "migrations": migrations}
        return JsonResponse(body, status=503)
    return JsonResponse({"status": "ready", "database": db, "migrations": migrations})


@require_safe
def favicon(request):
    """Browsers and feed readers ask for /favicon.ico whatever the page says."""
    return HttpResponsePermanentRedirect(static("img/favicon.svg"))
