"""Leads: interest not vetted yet, qualified into prospects and converted into deals."""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from accounts.visibility import VisibleQuerySet
from pipeline.models.companies import Company
from pipeline.models.contacts import Contact
from pipeline.models.stages import MONEY


class Lead(models.Model):
    """Someone who showed interest but is not vetted yet.

    A lead becomes a *prospect* (status ``prospect``) once qualified against the ideal
    customer profile, and an opportunity through ``services.convert_lead``, which needs a
    defined need, budget and timeline.
    """

    class Status(models.TextChoices):
        NEW = "new", "New"
        WORKING = "working", "Working"
        PROSPECT = "prospect", "Prospect"
        CONVERTED = "converted", "Converted"
        DISQUALIFIED = "disqualified", "Disqualified"

    OPEN_STATUSES = (Status.NEW, Status.WORKING, Status.PROSPECT)

    class Source(models.TextChoices):
        WEB = "web", "Web"
        REFERRAL = "referral", "Referral"
        EVENT = "event", "Event"
        OUTBOUND = "outbound", "Outbound"
        PARTNER = "partner", "Partner"
        OTHER = "other", "Other"

    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=50, blank=True)
    title = models.CharField("job title", max_length=150, blank=True)
    company_name = models.CharField(max_length=200, blank=True)
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.WEB)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NEW)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="leads"
    )
    need = models.TextField(blank=True, help_text="The problem the lead wants solved.")
    budget = models.DecimalField(
        **MONEY, null=True, blank=True, validators=[MinValueValidator(Decimal("0"))]
    )
    authority = models.CharField(
        max_length=200, blank=True, help_text="Who decides and signs on the buyer's side."
    )
    timeline = models.CharField(
        max_length=200, blank=True, help_text="When the buyer intends to decide or start."
    )
    disqualification_reason = models.CharField(max_length=255, blank=True)
    company = models.ForeignKey(
        Company, on_delete=models.SET_NULL, null=True, blank=True, related_name="leads"
    )
    contact = models.ForeignKey(
        Contact, on_delete=models.SET_NULL, null=True, blank=True, related_name="leads"
    )
    opportunity = models.OneToOneField(
        "Opportunity",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="lead",
        help_text="The opportunity this lead was converted into.",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    version = models.PositiveIntegerField(
        default=1,
        db_default=1,
        help_text="Increases with every change; a stale edit is refused.",
    )
    qualified_at = models.DateTimeField(null=True, blank=True)
    converted_at = models.DateTimeField(null=True, blank=True)
    disqualified_at = models.DateTimeField(null=True, blank=True)

    objects = VisibleQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["owner", "status", "-created_at"]),
            models.Index(fields=["status", "-created_at"]),
            models.Index(fields=["created_at"]),
            # A team's or a rep's leads created in a period (the lead funnel), counted by
            # source and stage from the index alone.
            models.Index(
                fields=["owner", "created_at"],
                include=["id", "source", "qualified_at", "status", "opportunity"],
                name="lead_owner_created",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(budget__isnull=True) | Q(budget__gte=0),
                name="lead_budget_not_negative",
            ),
            models.CheckConstraint(
                condition=~Q(status="disqualified") | ~Q(disqualification_reason=""),
                name="lead_disqualified_has_reason",
            ),
        ]

    def __str__(self):
        name = f"{self.first_name} {self.last_name}".strip()
        return f"{name} ({self.company_name})" if self.company_name else name

    def get_absolute_url(self):
        return reverse("pipeline:lead_detail", args=[self.pk])

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES
