"""Reminders: each user's preferences, their in-app notifications and the record of the daily
digests sent. Preferences live beside the user (one-to-one), never as columns on it."""

from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone


class Event(models.TextChoices):
    """What can happen to someone: each kind may notify in-app, by email, both or neither."""

    DEAL_ASSIGNED = "deal_assigned", "A deal is assigned to me"
    LEAD_ASSIGNED = "lead_assigned", "A lead is assigned to me"
    TASK_ASSIGNED = "task_assigned", "A task is assigned to me"
    ADJUSTMENT = "adjustment", "My manager adjusts my forecast"
    DEAL_CLOSED = "deal_closed", "A deal in my team is won or lost (managers)"
    MENTION = "mention", "Someone mentions me in a note or activity"


DEFAULT_IN_APP = list(Event.values)
DEFAULT_EMAIL: list[str] = []


def default_in_app() -> list[str]:
    return list(DEFAULT_IN_APP)


def default_email() -> list[str]:
    return list(DEFAULT_EMAIL)


def default_digest_hour() -> int:
    return settings.OPPORTUNE_DIGEST_HOUR


def default_time_zone() -> str:
    return settings.TIME_ZONE


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(
            "%(value)s is not a time zone we know; choose one from the list, "
            "e.g. Europe/Paris or America/New_York.",
            params={"value": value},
        )


class Preference(models.Model):
    """One user's choices: the daily digest (on/off, hour, time zone), which events notify
    in-app and by email, and the private token of their calendar feed (empty = no feed).

    A user without a row gets the defaults (:meth:`for_user` builds them unsaved)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preference"
    )
    digest_enabled = models.BooleanField(
        default=True, help_text="Send a daily digest email when there is something to say."
    )
    digest_hour = models.PositiveSmallIntegerField(
        default=default_digest_hour,
        validators=[MinValueValidator(0), MaxValueValidator(23)],
        help_text="Hour of the day (0-23) in the user's time zone at which the digest goes out.",
    )
    time_zone = models.CharField(
        max_length=64, default=default_time_zone, validators=[validate_time_zone]
    )
    in_app_events = models.JSONField(default=default_in_app, blank=True)
    email_events = models.JSONField(default=default_email, blank=True)
    calendar_token = models.CharField(
        max_length=64,
        null=True,
        blank=True,
        unique=True,
        help_text="Secret part of the calendar feed's URL; clearing it revokes the feed.",
    )
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(digest_hour__gte=0, digest_hour__lte=23),
                name="preference_digest_hour_0_23",
            ),
        ]

    def __str__(self):
        return f"Notification preferences of {self.user}"

    def get_absolute_url(self):
        return reverse("notifications:preferences")

    @classmethod
    def for_user(cls, user) -> Preference:
        """The user's saved preferences, or the defaults (unsaved) when they have none."""
        try:
            return cls.objects.get(user=user)
        except cls.DoesNotExist:
            return cls(user=user)

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        try:
            return zoneinfo.ZoneInfo(self.time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return zoneinfo.ZoneInfo(settings.TIME_ZONE)

    def wants_in_app(self, event: str) -> bool:
        return event in (self.in_app_events or [])

    def wants_email(self, event: str) -> bool:
        return event in (self.email_events or [])


class NotificationQuerySet(models.QuerySet):
    def visible_to(self, user):
        """A notification is its recipient's alone, whatever their role (admins included)."""
        if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
            return self.none()
        return self.filter(recipient=user, in_app=True)

    def unread(self):
        return self.filter(read_at__isnull=True)


class Notification(models.Model):
    """Something that happened to one user (their recipient) and that they may not have seen:
    written by the services after the change commits, never by model signals."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    event = models.CharField(max_length=20, choices=Event.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Who did what the notification tells of.",
    )
    title = models.CharField(max_length=255)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=500, blank=True, help_text="Site path of the record.")
    in_app = models.BooleanField(
        default=True, help_text="Shown under the bell (the recipient's choice for this event)."
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    read_at = models.DateTimeField(null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["recipient"],
                condition=Q(read_at__isnull=True, in_app=True),
                name="notification_unread_idx",
            ),
            models.Index(fields=["recipient", "-created_at"]),
        ]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return self.url or reverse("notifications:list")

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class DigestRun(models.Model):
    """What became of one user's digest of one day (their local date): the once-a-day record,
    written in the same transaction as the decision to send, so re-runs and concurrent runs
    never send twice. A failed attempt stays ``failed`` and is tried again on a later run."""

    class Status(models.TextChoices):
        SENT = "sent", "Sent"
        EMPTY = "empty", "Nothing to say"
        FAILED = "failed", "Mail server refused or timed out (tried again later)"
        INVALID_ADDRESS = "invalid_address", "No valid email address"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="digest_runs"
    )
    day = models.DateField(help_text="The user's local date the digest is for.")
    status = models.CharField(max_length=20, choices=Status.choices)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    items = models.PositiveIntegerField(default=0, help_text="Lines in the digest.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-day", "user"]
        constraints = [
            models.UniqueConstraint(fields=["user", "day"], name="digest_once_per_user_per_day"),
        ]
        indexes = [models.Index(fields=["day", "status"])]

    def __str__(self):
        return f"Digest of {self.user} for {self.day}: {self.status}"
