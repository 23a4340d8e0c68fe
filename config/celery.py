"""The Celery application. Settings come from Django settings under the ``CELERY_`` prefix."""

import logging.config
import os

from celery import Celery
from celery.signals import setup_logging

import config.request_id  # noqa: F401  (connects the request-id signals in web and worker)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("opportune")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def configure_worker_logging(**kwargs):
    """Workers log exactly like the web app (settings.LOGGING: JSON or text, request ids)
    instead of through Celery's own handlers."""
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
