"""Celery tasks of the notifications app: thin wrappers around ``notifications.services``."""

from __future__ import annotations

import datetime as dt
import smtplib
import socket

from celery import shared_task
from django.db import DatabaseError, InterfaceError

from notifications import services


@shared_task(
    name="notifications.tasks.send_digests",
    autoretry_for=(DatabaseError, InterfaceError),
    retry_backoff=30,
    retry_backoff_max=10 * 60,
    retry_jitter=True,
    max_retries=3,
)
def send_digests(now: str | None = None) -> dict:
    """Send the digests due at ``now`` (ISO date-time; default the current time). Run by beat
    every 15 minutes. Safe to retry: a user's digest of a day is sent at most once."""
    moment = dt.datetime.fromisoformat(now) if now else None
    return services.send_digests(now=moment).as_dict()


@shared_task(
    name="notifications.tasks.send_notification_email",
    autoretry_for=(smtplib.SMTPException, socket.timeout, ConnectionError),
    retry_backoff=60,
    retry_backoff_max=60 * 60,
    retry_jitter=True,
    max_retries=5,
)
def send_notification_email(notification_id: int) -> bool:
    return services.send_notification_email(notification_id=notification_id)
