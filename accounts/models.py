from django.contrib.auth.models import AbstractUser
from django.db import models
from django.urls import reverse


class Team(models.Model):
    """A sales team: a group of reps with one manager, the unit of team forecasts and quotas."""

    name = models.CharField(max_length=100, unique=True)
    manager = models.ForeignKey(
        "accounts.User",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="managed_teams",
        help_text="The manager sees and edits every record owned by the team's members.",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class User(AbstractUser):
    """A person who signs in. The role decides what they see (see ``accounts.visibility``)."""

    class Role(models.TextChoices):
        REP = "rep", "Sales rep"
        MANAGER = "manager", "Sales manager"
        ADMIN = "admin", "Administrator"

    role = models.CharField(
        max_length=10,
        choices=Role.choices,
        default=Role.REP,
        help_text="Reps see their own records; managers their team's; admins everything.",
    )
    team = models.ForeignKey(
        Team,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="members",
    )

    class Meta:
        ordering = ["first_name", "last_name", "username"]
        indexes = [models.Index(fields=["team", "role"])]

    def __str__(self):
        return self.get_full_name() or self.username

    def get_absolute_url(self):
        return reverse("admin:accounts_user_change", args=[self.pk])

    @property
    def handle(self) -> str:
        return self.username

    @property
    def initials(self) -> str:
        """Up to two letters for an avatar: first and last name's, else the username's first."""
        parts = [part for part in (self.first_name, self.last_name) if part.strip()]
        if parts:
            return "".join(part.strip()[0] for part in parts).upper()
        return (self.username[:1] or "?").upper()
