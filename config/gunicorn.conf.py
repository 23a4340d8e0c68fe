"""Gunicorn settings for the web process, read from the environment.

Used by ``scripts/entrypoint.sh web``: the Docker image, docker-compose and the production
smoke test (``make smoke``) all start gunicorn through it, so what CI proves is what the image
runs.
"""

import os

import gunicorn
import gunicorn.http.wsgi

bind = os.environ.get("GUNICORN_BIND", f"0.0.0.0:{os.environ.get('PORT', '8000')}")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "sync"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
# Recycle workers now and then so a slow leak can never grow without bound; rarely, though:
# a new worker imports the app and warms its caches while its peer serves alone, which at
# 2,000 requests meant a restart every half minute of a busy day (and a latency spike each).
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "20000"))
max_requests_jitter = max_requests // 10
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
# Gunicorn's default line, plus the request id the app put on the response (X-Request-ID), so
# an access line leads to the app's log lines of the same request.
access_log_format = (
    '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" request_id=%({x-request-id}o)s'
)
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

# Do not tell the world which server software answers (`Server: gunicorn`): gunicorn has no
# setting for it, and reads the name from these module attributes for every response.
gunicorn.SERVER = gunicorn.http.wsgi.SERVER = "opportune"
