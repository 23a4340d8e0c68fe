"""The sales domain: accounts and people, leads, pipelines and stages, opportunities, their
stage transitions and field history, and activities.

Models hold fields, constraints, indexes and small derived properties only. Every business
action that writes (``convert_lead``, ``move_opportunity`` ...) lives in
``pipeline.services``; nothing else assigns an opportunity's stage.
"""

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils import timezone
from simple_history.models import HistoricalRecords

from accounts.visibility import VisibleQuerySet, owner_q, visible_ref

PERCENT = [MinValueValidator(0), MaxValueValidator(100)]
MONEY = {"max_digits": 14, "decimal_places": 2}


class ForecastCategory(models.TextChoices):
    PIPELINE = "pipeline", "Pipeline"
    BEST_CASE = "best_case", "Best case"
    COMMIT = "commit", "Commit"
    CLOSED = "closed", "Closed"
    OMITTED = "omitted", "Omitted"


# --- Accounts and people ---------------------------------------------------------------------


class CompanyQuerySet(VisibleQuerySet):
    def visibility_q(self, user):
        q = owner_q(user)
        if q is None:
            return None
        deals = Opportunity.objects.filter(owner_q(user), company=OuterRef("pk"))
        return q | Q(Exists(deals))


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

    objects = CompanyQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        verbose_name_plural = "companies"
        indexes = [models.Index(fields=["owner", "name"]), models.Index(fields=["name"])]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("pipeline:company_detail", args=[self.pk])


class ContactQuerySet(VisibleQuerySet):
    def visibility_q(self, user):
        q = owner_q(user)
        if q is None:
            return None
        deals = Opportunity.objects.filter(owner_q(user), contact=OuterRef("pk"))
        return q | Q(Exists(deals))


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

    objects = ContactQuerySet.as_manager()

    class Meta:
        ordering = ["last_name", "first_name", "id"]
        indexes = [
            models.Index(fields=["owner", "last_name"]),
            models.Index(fields=["company", "last_name"]),
            models.Index(fields=["email"]),
        ]

    def __str__(self):
        return self.full_name

    def get_absolute_url(self):
        return reverse("pipeline:contact_detail", args=[self.pk])

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


# --- Leads -----------------------------------------------------------------------------------


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


# --- Pipelines and stages --------------------------------------------------------------------


class Pipeline(models.Model):
    """A sales process: an ordered list of stages with exactly one won and at least one lost."""

    name = models.CharField(max_length=100, unique=True)
    position = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(default=True)
    use_empirical_probabilities = models.BooleanField(
        default=False,
        help_text=(
            "Forecasts weight open deals by each stage's empirical win rate (trailing 12 "
            "months of transitions) instead of its configured probability."
        ),
    )

    class Meta:
        ordering = ["position", "id"]

    def __str__(self):
        return self.name

    def first_open_stage(self):
        return self.stages.filter(kind=Stage.Kind.OPEN).order_by("position", "id").first()

    def won_stage(self):
        return self.stages.filter(kind=Stage.Kind.WON).first()

    def lost_stages(self):
        return self.stages.filter(kind=Stage.Kind.LOST).order_by("position", "id")


class ExitCriterion(models.TextChoices):
    """Facts a deal must have before it may enter a stage."""

    AMOUNT = "amount", "Amount above zero"
    CLOSE_DATE = "expected_close_date", "Expected close date"
    CONTACT = "contact", "Primary contact"
    DECISION_MAKER = "decision_maker", "Decision-maker contact"
    NEXT_STEP = "next_step", "Next step"


class Stage(models.Model):
    """A step of a pipeline. Admins set its order, default probability, kind, default
    forecast category, rotting threshold and the exit criteria a deal must meet to enter it.
    """

    class Kind(models.TextChoices):
        OPEN = "open", "Open"
        WON = "won", "Won"
        LOST = "lost", "Lost"

    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="stages")
    name = models.CharField(max_length=100)
    position = models.PositiveIntegerField(
        default=0, help_text="Order on the board, left to right; lower comes first."
    )
    probability = models.PositiveSmallIntegerField(
        default=10,
        validators=PERCENT,
        help_text=(
            "Default win probability (0–100 %) of deals in this stage; weighted forecasts "
            "multiply amounts by it. Won stages are 100, lost stages 0."
        ),
    )
    kind = models.CharField(
        max_length=10,
        choices=Kind.choices,
        default=Kind.OPEN,
        help_text="Open stages are columns on the board; won and lost close the deal.",
    )
    forecast_category = models.CharField(
        max_length=20,
        choices=ForecastCategory.choices,
        default=ForecastCategory.PIPELINE,
        help_text="Default forecast category of deals in this stage (a deal may override it).",
    )
    rot_after_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="A deal longer than this many days in the stage is flagged as rotting.",
    )
    exit_criteria = models.JSONField(
        default=list,
        blank=True,
        help_text="What a deal must have filled before it may enter this stage.",
    )

    class Meta:
        ordering = ["pipeline", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["pipeline", "name"], name="stage_name_unique"),
            models.UniqueConstraint(
                fields=["pipeline"], condition=Q(kind="won"), name="one_won_stage_per_pipeline"
            ),
            models.CheckConstraint(
                condition=Q(probability__gte=0, probability__lte=100),
                name="stage_probability_0_100",
            ),
            models.CheckConstraint(
                condition=~Q(kind="won") | Q(probability=100), name="won_stage_probability_100"
            ),
            models.CheckConstraint(
                condition=~Q(kind="lost") | Q(probability=0), name="lost_stage_probability_0"
            ),
        ]

    def __str__(self):
        return f"{self.name}"

    def clean(self):
        errors = {}
        if self.kind == self.Kind.WON and self.probability != 100:
            errors["probability"] = "A won stage has probability 100."
        if self.kind == self.Kind.LOST and self.probability != 0:
            errors["probability"] = "A lost stage has probability 0."
        if self.kind == self.Kind.WON and self.forecast_category != ForecastCategory.CLOSED:
            errors["forecast_category"] = "A won stage's forecast category is Closed."
        if self.kind == self.Kind.LOST and self.forecast_category != ForecastCategory.OMITTED:
            errors["forecast_category"] = "A lost stage's forecast category is Omitted."
        if self.kind == self.Kind.OPEN and self.forecast_category in (
            ForecastCategory.CLOSED,
            ForecastCategory.OMITTED,
        ):
            errors["forecast_category"] = (
                "An open stage forecasts as Pipeline, Best case or Commit."
            )
        valid = set(ExitCriterion.values)
        unknown = [c for c in (self.exit_criteria or []) if c not in valid]
        if unknown:
            errors["exit_criteria"] = f"Unknown exit criteria: {', '.join(map(str, unknown))}."
        if errors:
            raise ValidationError(errors)

    @property
    def is_open(self) -> bool:
        return self.kind == self.Kind.OPEN

    @property
    def is_won(self) -> bool:
        return self.kind == self.Kind.WON

    @property
    def is_lost(self) -> bool:
        return self.kind == self.Kind.LOST


class LostReason(models.Model):
    """Why a deal was lost; required when a deal enters a lost stage."""

    name = models.CharField(max_length=100, unique=True)
    is_active = models.BooleanField(default=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self):
        return self.name


# --- Opportunities ---------------------------------------------------------------------------


class OpportunityQuerySet(VisibleQuerySet):
    def open(self):
        return self.filter(stage__kind=Stage.Kind.OPEN)

    def won(self):
        return self.filter(stage__kind=Stage.Kind.WON)

    def lost(self):
        return self.filter(stage__kind=Stage.Kind.LOST)


class Opportunity(models.Model):
    """A qualified prospect with a defined need, budget and timeline, worked through a pipeline.

    ``stage`` is assigned only by ``pipeline.services``; ``version`` increases with every write
    so that a stale edit is refused instead of silently overwriting someone else's change.
    Field history of amount, close date, owner, probability and forecast category is kept by
    django-simple-history (``history``).
    """

    name = models.CharField(max_length=200)
    company = models.ForeignKey(Company, on_delete=models.PROTECT, related_name="opportunities")
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
    probability = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=PERCENT,
        help_text="Override of the stage's probability (0–100 %); empty uses the stage's.",
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
        ],
        cascade_delete_history=True,
    )

    objects = OpportunityQuerySet.as_manager()

    TRACKED_FIELDS = ("amount", "expected_close_date", "owner", "probability", "forecast_category")

    class Meta:
        ordering = ["expected_close_date", "id"]
        verbose_name_plural = "opportunities"
        indexes = [
            models.Index(fields=["pipeline", "stage", "expected_close_date"]),
            models.Index(fields=["owner", "stage", "expected_close_date"]),
            # Board column totals: count, amount and weighted amount per stage of a scope,
            # answered from the index alone.
            models.Index(
                fields=["owner", "stage", "amount", "probability"], name="opp_owner_stage_totals"
            ),
            models.Index(fields=["owner", "-expected_close_date"]),
            models.Index(fields=["expected_close_date"]),
            models.Index(fields=["closed_on"]),
            models.Index(fields=["created_at"]),
            models.Index(fields=["company", "-created_at"]),
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

    def get_absolute_url(self):
        return reverse("pipeline:opportunity_detail", args=[self.pk])

    @property
    def effective_probability(self) -> int:
        """DESIGN §3: won = 100, lost = 0, else the override, else the stage's probability."""
        if self.stage.kind == Stage.Kind.WON:
            return 100
        if self.stage.kind == Stage.Kind.LOST:
            return 0
        return self.probability if self.probability is not None else self.stage.probability

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

    opportunity = models.ForeignKey(
        Opportunity, on_delete=models.CASCADE, related_name="transitions"
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
            models.Index(fields=["opportunity", "changed_at"]),
            models.Index(fields=["to_stage", "changed_at"]),
            models.Index(fields=["changed_at"]),
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


# --- Activities ------------------------------------------------------------------------------


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

    objects = ActivityQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name_plural = "activities"
        indexes = [
            models.Index(fields=["owner", "kind", "done_at", "due_on"]),
            models.Index(fields=["opportunity", "-occurred_at"]),
            models.Index(fields=["lead", "-occurred_at"]),
            models.Index(fields=["contact", "-occurred_at"]),
            models.Index(fields=["company", "-occurred_at"]),
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
