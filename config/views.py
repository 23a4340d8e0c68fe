import logging

from django.conf import settings
from django.db import connection
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


@require_safe
def favicon(request):
    """Browsers and feed readers ask for /favicon.ico whatever the page says."""
    return HttpResponsePermanentRedirect(static("img/favicon.svg"))
