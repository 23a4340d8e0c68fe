"""Activities: calls, emails, meetings, notes and tasks on a deal, lead, contact or company."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from accounts.visibility import VisibleQuerySet, owner_q, visible_ref
from pipeline.models.companies import Company
from pipeline.models.contacts import Contact
from pipeline.models.leads import Lead
from pipeline.models.opportunities import Opportunity

ACTIVITY_TARGETS = ("opportunity", "lead", "contact", "company")


def activity_target_flags(user, prefix: str = "") -> dict:
    """``<record>_visible`` annotations of an activity's target records (``prefix`` when the
    activity is reached through a relation)."""
    models_by_name = {
        "opportunity": Opportunity,
        "lead": Lead,
        "contact": Contact,
        "company": Company,
    }
    return {
        f"{name}_visible": visible_ref(user, models_by_name[name], f"{prefix}{name}_id")
        for name in ACTIVITY_TARGETS
    }


class ActivityQuerySet(VisibleQuerySet):
    RECORD_OWNER_FIELDS = (
        "owner",
        "opportunity__owner",
        "lead__owner",
        "contact__owner",
        "company__owner",
    )

    def visibility_q(self, user):
        """An activity is visible to whoever may see the person who logged it or the record it
        is about: a manager's note on a rep's deal shows in the rep's timeline."""
        parts = [owner_q(user, field) for field in self.RECORD_OWNER_FIELDS]
        if any(q is None for q in parts):
            return None
        combined = parts[0]
        for q in parts[1:]:
            combined |= q
        return combined

    def logged_by_visible(self, user):
        """Activities logged by a person ``user`` may see: the first branch of
        :meth:`visibility_q` alone, so a subset of ``visible_to(user)``. Counts per person
        read this: without the branches about records, it needs no join to them."""
        q = owner_q(user, "owner")
        return self.all() if q is None else self.filter(q)

    def open_tasks(self):
        return self.filter(kind=Activity.Kind.TASK, done_at__isnull=True)

    def with_visible_targets(self, user, prefix: str = ""):
        """Annotate ``<record>_visible`` for the deal, lead, contact and company an activity
        is on: whether ``user`` may open it (see :attr:`Activity.visible_target`)."""
        return self.annotate(**activity_target_flags(user, prefix))


class Activity(models.Model):
    """A call, email, meeting, note or task on a lead, opportunity, contact or company.

    Tasks carry a due date and, once completed, a done time. With the stage transitions the
    activities form each record's timeline.
    """

    class Kind(models.TextChoices):
        CALL = "call", "Call"
        EMAIL = "email", "Email"
        MEETING = "meeting", "Meeting"
        NOTE = "note", "Note"
        TASK = "task", "Task"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    subject = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="activities",
        help_text="Who logged it, or for a task who must do it.",
    )
    lead = models.ForeignKey(
        Lead, on_delete=models.CASCADE, null=True, blank=True, related_name="activities"
    )
    opportunity = models.ForeignKey(
        Opportunity, on_delete=models.CASCADE, null=True, blank=True, related_name="activities"
    )
    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, null=True, blank=True, related_name="activities"
    )
    company = models.ForeignKey(
        Company, on_delete=models.CASCADE, null=True, blank=True, related_name="activities"
    )
    occurred_at = models.DateTimeField(default=timezone.now)
    due_on = models.DateField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    version = models.PositiveIntegerField(
        default=1,
        db_default=1,
        help_text="Increases with every change; a stale edit is refused.",
    )

    objects = ActivityQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name_plural = "activities"
        indexes = [
            models.Index(fields=["owner", "kind", "done_at", "due_on"]),
            # What a rep logged in a period (the scorecards' activity counts), read from the
            # index alone.
            models.Index(
                fields=["owner", "occurred_at"],
                condition=~Q(kind="task"),
                name="activity_logged_idx",
            ),
            models.Index(fields=["opportunity", "-occurred_at"]),
            models.Index(fields=["lead", "-occurred_at"]),
            models.Index(fields=["contact", "-occurred_at"]),
            models.Index(fields=["company", "-occurred_at"]),
            # The latest activity of a team or of everyone (the manager's home), newest first.
            models.Index(fields=["-occurred_at", "-id"], name="activity_latest_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(lead__isnull=False)
                | Q(opportunity__isnull=False)
                | Q(contact__isnull=False)
                | Q(company__isnull=False),
                name="activity_has_a_subject_record",
            ),
            models.CheckConstraint(
                condition=Q(kind="task") | Q(due_on__isnull=True, done_at__isnull=True),
                name="activity_only_tasks_are_due",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.subject}"

    def get_absolute_url(self):
        target = self.opportunity or self.lead or self.contact or self.company
        return target.get_absolute_url() if target else reverse("pipeline:tasks")

    @property
    def is_task(self) -> bool:
        return self.kind == self.Kind.TASK

    @property
    def is_done(self) -> bool:
        return self.done_at is not None

    @property
    def target(self):
        return self.opportunity or self.lead or self.contact or self.company

    @property
    def visible_target(self):
        """The record the activity is on, when the viewer may open it (the queryset was
        annotated by ``with_visible_targets``); ``None`` otherwise, so a deal reassigned to
        someone else is no longer named on its former owner's pages."""
        for name in ACTIVITY_TARGETS:
            if getattr(self, f"{name}_id"):
                return getattr(self, name) if getattr(self, f"{name}_visible", False) else None
        return None
