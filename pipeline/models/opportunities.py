"""Opportunities (deals) and the stage transitions each one records."""

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from simple_history.models import HistoricalRecords

from accounts.visibility import VisibleQuerySet
from pipeline.currency import reporting_currency, validate_currency
from pipeline.models.companies import Company
from pipeline.models.contacts import Contact
from pipeline.models.stages import MONEY, PERCENT, ForecastCategory, LostReason, Pipeline, Stage


class OpportunityQuerySet(VisibleQuerySet):
    def open(self):
        return self.filter(stage__kind=Stage.Kind.OPEN)

    def won(self):
        return self.filter(stage__kind=Stage.Kind.WON)

    def lost(self):
        return self.filter(stage__kind=Stage.Kind.LOST)


# What a closed deal's stored rate (``Opportunity.closed_rate``) depends on.
RATE_INPUTS = frozenset({"stage", "stage_id", "currency", "closed_on", "expected_close_date"})


class Opportunity(models.Model):
    """A qualified prospect with a defined need, budget and timeline, worked through a pipeline.

    ``stage`` is assigned only by ``pipeline.services``; ``version`` increases with every write
    so that a stale edit is refused instead of silently overwriting someone else's change.
    Field history of amount, close date, owner, probability and forecast category is kept by
    django-simple-history (``history``).
    """

    name = models.CharField(max_length=200)
    company = models.ForeignKey(
        Company,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="opportunities",
        help_text="The customer's account; empty for a deal without one (shown as No company).",
    )
    contact = models.ForeignKey(
        Contact,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="opportunities",
        help_text="The primary contact.",
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="opportunities"
    )
    pipeline = models.ForeignKey(Pipeline, on_delete=models.PROTECT, related_name="opportunities")
    stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="opportunities")
    amount = models.DecimalField(
        **MONEY, default=Decimal("0"), validators=[MinValueValidator(Decimal("0"))]
    )
    currency = models.CharField(
        max_length=3,
        default=reporting_currency,
        validators=[validate_currency],
        help_text="The currency of the amount and the line items (ISO 4217); totals convert "
        "it to the reporting currency (pipeline.conversion).",
    )
    probability = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=PERCENT,
        help_text="Override of the stage's probability (0–100%); empty uses the stage's.",
    )
    expected_close_date = models.DateField()
    closed_on = models.DateField(null=True, blank=True)
    forecast_category = models.CharField(
        max_length=20,
        choices=ForecastCategory.choices,
        blank=True,
        default="",
        help_text="Override of the stage's forecast category; empty uses the stage's.",
    )
    lost_reason = models.ForeignKey(
        LostReason, on_delete=models.PROTECT, null=True, blank=True, related_name="opportunities"
    )
    lost_note = models.CharField(max_length=255, blank=True)
    next_step = models.CharField(max_length=255, blank=True)
    next_step_due = models.DateField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    stage_entered_at = models.DateTimeField(
        default=timezone.now,
        help_text="When the deal entered its current stage (mirrors its last transition).",
    )
    last_activity_at = models.DateTimeField(null=True, blank=True)
    # How often the expected close date was moved later, and by how many days in all: what
    # the field history says (each history row's close date against the one before it), kept
    # with every save that writes a history row (:meth:`save`), so the slipped flag and the
    # pushes of the rotting report read a column instead of a window over the history.
    close_pushes = models.PositiveIntegerField(default=0, editable=False)
    close_pushed_days = models.PositiveIntegerField(default=0, editable=False)
    # The exchange rate a closed deal in another currency converts at (that of its closed
    # date), kept by :meth:`save` and by the rates' writes (pipeline.services.closed_rates),
    # so sums over closed deals read it instead of looking it up deal by deal; NULL while
    # open, in the reporting currency, or without a rate (sums then look it up).
    closed_rate = models.DecimalField(
        max_digits=18, decimal_places=8, null=True, blank=True, editable=False
    )

    history = HistoricalRecords(
        excluded_fields=[
            "name",
            "company",
            "contact",
            "pipeline",
            "stage",
            "closed_on",
            "lost_reason",
            "lost_note",
            "next_step",
            "next_step_due",
            "version",
            "created_at",
            "updated_at",
            "stage_entered_at",
            "last_activity_at",
            "close_pushes",
            "close_pushed_days",
            "closed_rate",
        ],
        cascade_delete_history=True,
    )

    objects = OpportunityQuerySet.as_manager()

    TRACKED_FIELDS = (
        "amount",
        "currency",
        "expected_close_date",
        "owner",
        "probability",
        "forecast_category",
    )

    class Meta:
        ordering = ["expected_close_date", "id"]
        verbose_name_plural = "opportunities"
        indexes = [
            models.Index(fields=["pipeline", "stage", "expected_close_date"]),
            models.Index(fields=["owner", "stage", "expected_close_date"]),
            # Board column totals: count, amount and weighted amount per stage of a scope,
            # converted per currency, answered from the index alone.
            models.Index(
                fields=["owner", "stage", "currency", "amount", "probability"],
                name="opp_owner_stage_cur_totals",
            ),
            models.Index(fields=["owner", "-expected_close_date"]),
            models.Index(fields=["expected_close_date"]),
            models.Index(fields=["closed_on"]),
            # A team's or a rep's closed deals in a period (win rate, scorecards, the home
            # page's month and quarter): counted and summed in the reporting currency from
            # the index alone.
            models.Index(
                fields=["owner", "closed_on"],
                include=[
                    "id",
                    "pipeline",
                    "stage",
                    "currency",
                    "amount",
                    "closed_rate",
                    "created_at",
                    "expected_close_date",
                ],
                condition=Q(closed_on__isnull=False),
                name="opp_owner_closed",
            ),
            # A team's or a rep's open deals (open deals have no closed date: the services
            # clear it when a deal reopens): the home page's open pipeline and quarter, the
            # rotting flags, the scorecards' open deals, counted and summed from the index
            # alone (``ReportScope.open_deals``).
            models.Index(
                fields=["owner", "stage"],
                include=[
                    "id",
                    "pipeline",
                    "currency",
                    "amount",
                    "probability",
                    "closed_on",
                    "closed_rate",
                    "expected_close_date",
                    "stage_entered_at",
                    "last_activity_at",
                    "created_at",
                    "close_pushes",
                ],
                condition=Q(closed_on__isnull=True),
                name="opp_owner_open",
            ),
            # A team's or a rep's deals created in a period (pipeline created, the deal
            # funnel, the win rate's open deals at each month end), from the index alone.
            models.Index(
                fields=["owner", "created_at"],
                include=[
                    "id",
                    "pipeline",
                    "stage",
                    "currency",
                    "amount",
                    "closed_on",
                    "closed_rate",
                    "expected_close_date",
                ],
                name="opp_owner_created",
            ),
            # Deals without an exchange rate (pipeline.conversion.missing_rates): a currency
            # and the dates a rate is needed on, read as ranges of this index.
            models.Index(
                fields=["currency", "closed_on", "expected_close_date"], name="opp_currency_dates"
            ),
            models.Index(fields=["created_at"]),
            models.Index(fields=["company", "-created_at"]),
            # The API's cursor orderings (sync walks by updated_at): read from an index, not
            # a sort of every visible deal.
            models.Index(fields=["updated_at"]),
            models.Index(fields=["amount"]),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="opportunity_amount_gte_0"),
            models.CheckConstraint(
                condition=Q(probability__isnull=True) | Q(probability__gte=0, probability__lte=100),
                name="opportunity_probability_0_100",
            ),
            models.CheckConstraint(condition=Q(version__gte=1), name="opportunity_version_gte_1"),
        ]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        """Count a push of the close date when this save moves it later than the stored one
        and writes a history row (the history's rule: a row's close date after the previous
        row's). Deals saved without being read first (creation) have no stored date."""
        before = self.__dict__.get("_stored_close")
        after = self.expected_close_date
        pushed = (
            isinstance(before, dt.date)
            and isinstance(after, dt.date)
            and after > before
            and not getattr(self, "skip_history_when_saving", False)
        )
        fields = kwargs.get("update_fields")
        if pushed:
            self.close_pushes += 1
            self.close_pushed_days += (after - before).days
            if fields is not None:
                fields = kwargs["update_fields"] = {*fields, "close_pushes", "close_pushed_days"}
        if fields is None or not RATE_INPUTS.isdisjoint(fields):
            from pipeline.services.closed_rates import closed_rate_of

            self.closed_rate = closed_rate_of(self)
            if fields is not None:
                kwargs["update_fields"] = {*fields, "closed_rate"}
        super().save(*args, **kwargs)
        self._stored_close = self.expected_close_date

    def get_absolute_url(self):
        return reverse("pipeline:opportunity_detail", args=[self.pk])

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance._stored_close = instance.__dict__.get("expected_close_date")
        return instance

    def refresh_from_db(self, using=None, fields=None, from_queryset=None):
        super().refresh_from_db(using=using, fields=fields, from_queryset=from_queryset)
        if fields is None or "expected_close_date" in fields:
            self._stored_close = self.__dict__.get("expected_close_date")

    @property
    def effective_probability(self) -> int:
        """DESIGN §3: :meth:`Stage.probability_for`, except that an open deal without an
        override in a pipeline that uses its model (:attr:`Pipeline.uses_model`) takes the
        model's score when it has one (SQL twin: ``expressions.effective_probability``)."""
        if self.probability is None and self.stage.is_open and self.pipeline.uses_model:
            score = self.model_score
            if score is not None:
                return score.probability
        return self.stage.probability_for(self.probability)

    @property
    def model_score(self):
        """The deal's :class:`~pipeline.models.DealScore`, or None."""
        try:
            return self.win_score
        except models.ObjectDoesNotExist:
            return None

    @property
    def probability_source_label(self) -> str:
        """Which source the effective probability came from, for the pages."""
        if self.stage.kind != Stage.Kind.OPEN:
            return "closed"
        if self.probability is not None:
            return "override"
        if self.pipeline.uses_model and self.model_score is not None:
            return "win model"
        return "stage"

    @property
    def weighted_amount(self) -> Decimal:
        return (self.amount * self.effective_probability / Decimal(100)).quantize(Decimal("0.01"))

    @property
    def effective_forecast_category(self) -> str:
        if self.stage.kind == Stage.Kind.WON:
            return ForecastCategory.CLOSED
        if self.stage.kind == Stage.Kind.LOST:
            return ForecastCategory.OMITTED
        return self.forecast_category or self.stage.forecast_category

    @property
    def is_open(self) -> bool:
        return self.stage.kind == Stage.Kind.OPEN

    @property
    def is_closed(self) -> bool:
        return not self.is_open

    def days_in_stage(self, now=None) -> int:
        now = now or timezone.now()
        return max(0, (now - self.stage_entered_at).days)

    def is_rotting(self, now=None) -> bool:
        days = self.stage.rot_after_days
        return self.is_open and days is not None and self.days_in_stage(now) > days

    def is_overdue(self, today=None) -> bool:
        today = today or timezone.localdate()
        return self.is_open and self.expected_close_date < today


class StageTransition(models.Model):
    """One row per stage an opportunity enters, creation included; written only by
    ``pipeline.services`` in the same transaction as the change. Time in stage, cycle
    length and conversion by stage are read from here.
    """

    # Indexed with the stage it entered (Meta.indexes), which serves every lookup by deal.
    opportunity = models.ForeignKey(
        Opportunity, on_delete=models.CASCADE, related_name="transitions", db_index=False
    )
    from_stage = models.ForeignKey(
        Stage, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    to_stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="+")
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    changed_at = models.DateTimeField(default=timezone.now)
    amount = models.DecimalField(**MONEY)
    probability = models.PositiveSmallIntegerField(validators=PERCENT)
    left_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the deal left this stage (the next transition's time); empty while "
        "it is still there.",
    )
    next_stage = models.ForeignKey(
        Stage,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The stage the deal entered next; empty while it is still here.",
    )

    class Meta:
        ordering = ["changed_at", "id"]
        indexes = [
            models.Index(fields=["opportunity", "changed_at", "id"]),
            # The stages a deal ever entered, from the index alone (the deal funnel's
            # furthest stage of each deal).
            models.Index(fields=["opportunity", "to_stage"], name="pipeline_st_deal_stages_idx"),
            models.Index(fields=["to_stage", "changed_at"]),
            models.Index(fields=["changed_at"]),
            # The stays a closing move ended, by when (forecast accuracy's Brier score).
            models.Index(fields=["next_stage", "left_at"], name="pipeline_st_closing_stay_idx"),
            # Whose moves fell in a span, to which stage, read from the index alone ("what
            # changed" finds the deals that closed in a period through it).
            models.Index(
                fields=["changed_at", "to_stage", "opportunity"], name="pipeline_st_span_moves_idx"
            ),
            # The stage report's visits: each stage's entries, deal by deal, with when and
            # where each stay ended, read in order from the index alone and grouped as read.
            models.Index(
                fields=["to_stage", "opportunity"],
                include=["changed_at", "left_at", "next_stage"],
                name="pipeline_st_stage_visits_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(probability__gte=0, probability__lte=100),
                name="transition_probability_0_100",
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name="transition_amount_gte_0"),
        ]

    def __str__(self):
        src = self.from_stage.name if self.from_stage_id else "created"
        return f"{self.opportunity_id}: {src} → {self.to_stage.name}"
