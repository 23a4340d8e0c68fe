"""Personal API tokens and webhook endpoints with their delivery log.

A token is shown once when created and stored only as its SHA-256 digest (a token is 32
random bytes, so a fast hash is enough: there is nothing to brute-force). Its first
characters (``prefix``) are kept to tell tokens apart on the settings page.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class ApiTokenQuerySet(models.QuerySet):
    def update(self, **kwargs):
        """A bulk change (a revocation, a new expiry or scope …) drops the cached entries of
        the tokens it changed at once, as saving one token does; recording the last use does
        not need to."""
        if set(kwargs) <= {"last_used_at"}:
            return super().update(**kwargs)
        from api import tokens

        digests = list(self.values_list("digest", flat=True))
        count = super().update(**kwargs)
        tokens.forget(*digests)
        return count

    def usable(self, now=None):
        now = now or timezone.now()
        return self.filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=now),
            revoked_at__isnull=True,
            user__is_active=True,
        )


class ApiToken(models.Model):
    """A personal token: acts as its user, limited to reading or to reading and writing."""

    class Scope(models.TextChoices):
        READ = "read", "Read only"
        READ_WRITE = "read_write", "Read and write"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, help_text="What the token is for, e.g. “Website form”.")
    scope = models.CharField(max_length=12, choices=Scope.choices, default=Scope.READ)
    prefix = models.CharField(max_length=12, help_text="The token's first characters.")
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)
    throttle_rate = models.CharField(
        max_length=20,
        blank=True,
        help_text="Override of the default request rate, e.g. 10000/min (admins set it).",
    )

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at"])]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def can_write(self) -> bool:
        return self.scope == self.Scope.READ_WRITE

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and (
            self.expires_at is None or self.expires_at > timezone.now()
        )


class WebhookEvent(models.TextChoices):
    DEAL_CREATED = "deal.created", "Deal created"
    DEAL_STAGE_CHANGED = "deal.stage_changed", "Deal stage changed"
    DEAL_WON = "deal.won", "Deal won"
    DEAL_LOST = "deal.lost", "Deal lost"
    DEAL_REASSIGNED = "deal.reassigned", "Deal reassigned"
    DEAL_AMOUNT_CHANGED = "deal.amount_changed", "Deal amount changed"
    LEAD_CREATED = "lead.created", "Lead created"
    LEAD_CONVERTED = "lead.converted", "Lead converted"


class WebhookEndpoint(models.Model):
    """A receiver admins register: every event it subscribes to is POSTed to it, signed."""

    url = models.URLField(max_length=500, help_text="Where events are POSTed (https://…).")
    description = models.CharField(max_length=200, blank=True)
    events = models.JSONField(default=list, help_text="The events sent to this endpoint.")
    secret = models.CharField(
        max_length=100, help_text="Signs each request (HMAC-SHA256); the receiver checks it."
    )
    is_active = models.BooleanField(default=True)
    consecutive_failures = models.PositiveIntegerField(default=0, editable=False)
    disabled_reason = models.CharField(max_length=255, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["url", "id"]

    def __str__(self):
        return self.url


class WebhookDelivery(models.Model):
    """One event for one endpoint, tried until it is answered with a 2xx (at least once)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event_id = models.UUIDField(default=uuid.uuid4, editable=False, db_index=True)
    event = models.CharField(max_length=40, choices=WebhookEvent.choices)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    response_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=255, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [models.Index(fields=["endpoint", "-created_at"])]

    def __str__(self):
        return f"{self.event} → {self.endpoint.url}"
