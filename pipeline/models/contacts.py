"""People at customer accounts."""

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from pipeline.models.companies import Company, DealLinkedQuerySet


class Contact(models.Model):
    """A person at a customer account."""

    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=50, blank=True)
    title = models.CharField("job title", max_length=150, blank=True)
    is_decision_maker = models.BooleanField(
        default=False,
        help_text="Has authority to sign. Stages may require a decision-maker contact.",
    )
    company = models.ForeignKey(
        Company, on_delete=models.SET_NULL, null=True, blank=True, related_name="contacts"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="contacts"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    version = models.PositiveIntegerField(
        default=1,
        db_default=1,
        help_text="Increases with every change; a stale edit is refused.",
    )

    objects = DealLinkedQuerySet.as_manager()

    class Meta:
        ordering = ["last_name", "first_name", "id"]
        indexes = [
            models.Index(fields=["owner", "last_name"]),
            models.Index(fields=["company", "last_name"]),
            models.Index(fields=["email"]),
            # The list's order: its first page is read from the index, not sorted from the table.
            models.Index(
                fields=["last_name", "first_name", "id"], name="pipeline_co_list_order_idx"
            ),
        ]

    def __str__(self):
        return self.full_name

    def get_absolute_url(self):
        return reverse("pipeline:contact_detail", args=[self.pk])

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()
