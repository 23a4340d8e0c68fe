"""Imports: a file a user uploaded, what its columns and values mean, and what it wrote.

An :class:`ImportBatch` is one upload from its first page to its undo. It keeps the file
(until the import has run), the mapping the user chose, the preview's counts and refused
rows, the progress of the task and, per record it wrote, an :class:`ImportedRecord` that
says whether the record was created or updated (with its values before), so that the batch
can be undone. Writes go through ``imports.services`` only.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from accounts.visibility import VisibleQuerySet


class Kind(models.TextChoices):
    COMPANIES = "companies", "Companies"
    CONTACTS = "contacts", "Contacts"
    LEADS = "leads", "Leads"
    DEALS = "deals", "Deals (with their company and contact)"


class ImportMapping(models.Model):
    """A named column mapping saved by a user for the next file of the same shape."""

    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="import_mappings"
    )
    columns = models.JSONField(default=dict, help_text="Field → header of the file.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = VisibleQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="import_mapping_name_unique")
        ]

    def __str__(self):
        return self.name


class ImportBatch(models.Model):
    """One import, from upload to undo."""

    class Status(models.TextChoices):
        UPLOADED = "uploaded", "Uploaded"
        PREVIEWED = "previewed", "Previewed"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Imported"
        FAILED = "failed", "Failed"
        UNDONE = "undone", "Undone"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="import_batches",
        help_text="Who imported the file.",
    )
    file_name = models.CharField(max_length=255)
    file_size = models.PositiveIntegerField(default=0)
    data = models.BinaryField(
        null=True, blank=True, help_text="The uploaded file, kept until the import has run."
    )
    encoding = models.CharField(max_length=40, blank=True)
    delimiter = models.CharField(max_length=5, blank=True)
    headers = models.JSONField(default=list)
    row_count = models.PositiveIntegerField(default=0)
    options = models.JSONField(
        default=dict, help_text="The column mapping, value mapping and choices of the wizard."
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.UPLOADED)
    preview_token = models.CharField(max_length=64, blank=True)
    preview_expires_at = models.DateTimeField(null=True, blank=True)
    counts = models.JSONField(default=dict)
    errors = models.JSONField(default=list, help_text="Refused rows: row, column, value, message.")
    error_count = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True, help_text="Why the import failed or was refused.")
    first_date = models.DateField(null=True, blank=True)
    snapshot_dates = models.JSONField(
        default=list, help_text="Snapshot dates the back-fill after this import created."
    )
    snapshots_done = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    finished_at = models.DateTimeField(null=True, blank=True)
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    objects = VisibleQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "import batches"
        indexes = [models.Index(fields=["owner", "-created_at"])]

    def __str__(self):
        return f"{self.file_name} ({self.get_kind_display()})"

    def get_absolute_url(self):
        return reverse("imports:batch", args=[self.pk])

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED, self.Status.UNDONE)


class ImportedRecord(models.Model):
    """A record an import created or updated, with what undo needs to take it back."""

    class Model(models.TextChoices):
        COMPANY = "company", "Company"
        CONTACT = "contact", "Contact"
        LEAD = "lead", "Lead"
        DEAL = "deal", "Deal"

    class Action(models.TextChoices):
        CREATED = "created", "Created"
        UPDATED = "updated", "Updated"

    batch = models.ForeignKey(ImportBatch, on_delete=models.CASCADE, related_name="records")
    model = models.CharField(max_length=10, choices=Model.choices)
    object_id = models.BigIntegerField()
    action = models.CharField(max_length=10, choices=Action.choices)
    before = models.JSONField(null=True, blank=True, help_text="Values before an update.")
    stamp = models.CharField(
        max_length=40,
        blank=True,
        help_text="The record's version (deals) or last change time right after the import; "
        "undo refuses a record whose stamp moved since.",
    )

    class Meta:
        indexes = [
            models.Index(fields=["batch", "model", "action"]),
            models.Index(fields=["model", "object_id"]),
        ]

    def __str__(self):
        return f"{self.get_action_display()} {self.model} {self.object_id}"


class ExternalKey(models.Model):
    """The id a record had in the file it came from (a deal's external id), so that
    importing the same file again updates it instead of creating it twice."""

    model = models.CharField(max_length=10, choices=ImportedRecord.Model.choices)
    key = models.CharField(max_length=200)
    object_id = models.BigIntegerField()

    class Meta:
        # Not unique: two teams may each have a deal "42" in their own files; a lookup only
        # ever considers the keys of records the importing user may see.
        indexes = [
            models.Index(fields=["model", "key"]),
            models.Index(fields=["model", "object_id"]),
        ]

    def __str__(self):
        return f"{self.model} {self.key}"
