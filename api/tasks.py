"""Celery tasks of webhook delivery: thin wrappers around ``api.webhooks``."""

from __future__ import annotations

from celery import shared_task

from api import webhooks


@shared_task(name="api.tasks.deliver_webhook")
def deliver_webhook(delivery_id: int) -> bool:
    """One attempt; a failure leaves the delivery due again later (``deliver_due``)."""
    delivery = webhooks.attempt(delivery_id)
    return bool(delivery and delivery.status == delivery.Status.DELIVERED)


@shared_task(name="api.tasks.deliver_due")
def deliver_due() -> int:
    """Run by beat every minute: every delivery whose next attempt is due, in order."""
    count = 0
    for pk in webhooks.due():
        webhooks.attempt(pk)
        count += 1
    return count
