"""Customer accounts (companies), and the visibility of records reached through deals."""

from django.conf import settings
from django.db import models
from django.db.models import OuterRef, Q
from django.urls import reverse
from django.utils import timezone

from accounts.visibility import RowExists, VisibleQuerySet, owner_q


class DealLinkedQuerySet(VisibleQuerySet):
    """Records visible to whoever owns them or may see one of their deals: a rep sees the
    company and the contact of a deal they own. The deal's foreign key to the record is named
    after the record's model (``Opportunity.company``, ``Opportunity.contact``)."""

    def visibility_q(self, user):
        from pipeline.models.opportunities import Opportunity

        q = owner_q(user)
        if q is None:
            return None
        deal_field = self.model._meta.model_name
        deals = Opportunity.objects.filter(owner_q(user), **{deal_field: OuterRef("pk")})
        return q | Q(RowExists(deals))


class Company(models.Model):
    """A customer account: the organisation that buys. Its page shows its deals and timeline."""

    name = models.CharField(max_length=200)
    website = models.CharField(max_length=200, blank=True)
    industry = models.CharField(max_length=100, blank=True)
    employees = models.PositiveIntegerField(null=True, blank=True)
    phone = models.CharField(max_length=50, blank=True)
    city = models.CharField(max_length=100, blank=True)
    country = models.CharField(max_length=100, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="companies"
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
        ordering = ["name", "id"]
        verbose_name_plural = "companies"
        indexes = [models.Index(fields=["owner", "name"]), models.Index(fields=["name"])]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("pipeline:company_detail", args=[self.pk])

    @property
    def website_url(self) -> str:
        """The website as a link target: ``acme.com`` becomes ``https://acme.com``; only
        http and https links are made (a typed ``javascript:`` stays text), else ""."""
        text = self.website.strip()
        if not text or any(ch.isspace() for ch in text):
            return ""
        scheme, sep, rest = text.partition("://")
        if not sep:
            host, colon, port = text.split("/")[0].partition(":")
            # "mailto:x" or "javascript:x" is no host; "acme.com:8443" is.
            return "" if colon and not port.isdigit() else f"https://{text}"
        if scheme.lower() not in ("http", "https") or not rest:
            return ""
        return text
