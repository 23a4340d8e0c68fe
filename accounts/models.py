from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.db import models
from django.urls import reverse


class TeamQuerySet(models.QuerySet):
    def update(self, **kwargs):
        """A bulk change announces the teams' managers, before and after (``post_save`` is not
        sent for it): what they see depends on the teams they manage."""
        from accounts import events

        before = set(self.exclude(manager=None).values_list("manager_id", flat=True))
        count = super().update(**kwargs)
        after = kwargs.get("manager", kwargs.get("manager_id"))
        ids = (before | {getattr(after, "pk", after)}) - {None}
        if ids:
            events.users_changed.send(sender=Team, user_ids=sorted(ids))
        return count


class UserQuerySet(models.QuerySet):
    def update(self, **kwargs):
        """A bulk change (deactivation, a new role or team …) announces the users it changed,
        as ``post_save`` would for one saved user."""
        from accounts import events

        ids = list(self.values_list("pk", flat=True))
        count = super().update(**kwargs)
        if ids:
            events.users_changed.send(sender=User, user_ids=ids)
        return count


class UserManager(DjangoUserManager.from_queryset(UserQuerySet)):
    pass


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

    objects = TeamQuerySet.as_manager()

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

    class BoardDensity(models.TextChoices):
        COMFORTABLE = "comfortable", "Comfortable"
        COMPACT = "compact", "Compact"

    # How this person's board looks (pipeline/views/board_prefs.py); saved alone, with
    # ``update_fields``, so a change of view is not a change of what anyone sees.
    board_density = models.CharField(
        max_length=12,
        choices=BoardDensity.choices,
        default=BoardDensity.COMFORTABLE,
        help_text="Comfortable cards show the next step; compact cards fit more deals on screen.",
    )
    board_collapsed_stages = models.JSONField(
        default=list,
        blank=True,
        help_text="Ids of the board columns (stages) this person has collapsed.",
    )

    objects = UserManager()

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
