"""The Celery application. Settings come from Django settings under the ``CELERY_`` prefix.

Publishing a task needs Redis (the broker, and the result store the caller subscribes to).
When Redis is down, the settings make a publish fail within about a second instead of
retrying for twenty, and :func:`publishing` turns that failure into
:class:`QueueUnavailable`, which callers show as a message — never a 500.
"""

import logging
import logging.config
import os
from contextlib import contextmanager

from celery import Celery
from celery.signals import setup_logging

import config.request_id  # noqa: F401  (connects the request-id signals in web and worker)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("opportune")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

log = logging.getLogger(__name__)

QUEUE_UNAVAILABLE = (
    "The task queue is not reachable (Redis is down or unreachable). Nothing was started; "
    "check /healthz and try again once the queue is back."
)


class QueueUnavailable(Exception):
    """A task could not be handed to the broker."""

    def __init__(self, message: str = QUEUE_UNAVAILABLE):
        super().__init__(message)


def _broker_errors() -> tuple[type[BaseException], ...]:
    from kombu.exceptions import OperationalError
    from redis.exceptions import RedisError

    return (OperationalError, RedisError, ConnectionError, TimeoutError)


@contextmanager
def publishing():
    """Publish tasks inside this block: a broker or result-store outage raises
    :class:`QueueUnavailable` (logged with its cause)."""
    try:
        yield
    except _broker_errors() as exc:
        log.warning("task queue unavailable: %s", exc)
        raise QueueUnavailable() from exc
    except RuntimeError as exc:
        # Celery's result store gives up reconnecting with a RuntimeError of its own.
        if "Retry limit exceeded" not in str(exc):
            raise
        log.warning("task result store unavailable: %s", exc)
        raise QueueUnavailable() from exc


def enqueue(task, *args, **kwargs):
    """``task.delay(*args, **kwargs)`` that raises :class:`QueueUnavailable` when the broker
    is down."""
    with publishing():
        return task.delay(*args, **kwargs)


@setup_logging.connect
def configure_worker_logging(**kwargs):
    """Workers log exactly like the web app (settings.LOGGING: JSON or text, request ids)
    instead of through Celery's own handlers."""
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
