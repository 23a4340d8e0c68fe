"""Pipelines, their stages and forecast categories, and the reasons a deal is lost."""

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

PERCENT = [MinValueValidator(0), MaxValueValidator(100)]
MONEY = {"max_digits": 14, "decimal_places": 2}


class ForecastCategory(models.TextChoices):
    PIPELINE = "pipeline", "Pipeline"
    BEST_CASE = "best_case", "Best case"
    COMMIT = "commit", "Commit"
    CLOSED = "closed", "Closed"
    OMITTED = "omitted", "Omitted"


class ProbabilitySource(models.TextChoices):
    """Where an open deal's probability comes from when it has no override (DESIGN.md §3)."""

    CONFIGURED = "configured", "Configured stage percentages"
    EMPIRICAL = "empirical", "Empirical stage win rates"
    MODEL = "model", "Win-probability model"


class Pipeline(models.Model):
    """A sales process: an ordered list of stages with exactly one won and at least one lost."""

    name = models.CharField(max_length=100, unique=True)
    position = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(default=True)
    probability_source = models.CharField(
        max_length=20,
        choices=ProbabilitySource.choices,
        default=ProbabilitySource.CONFIGURED,
        help_text=(
            "Where open deals without an override take their probability: the stages' "
            "configured percentages, each stage's empirical win rate (trailing 12 months), or "
            "the win-probability model (only while its back-test beats the configured "
            "percentages)."
        ),
    )
    model_eligible = models.BooleanField(
        default=False,
        editable=False,
        help_text=(
            "Set by the nightly training: the model's latest back-test beat the configured "
            "percentages on both the mean Brier score and the mean absolute error of the "
            "month forecasts."
        ),
    )

    class Meta:
        ordering = ["position", "id"]

    def __str__(self):
        return self.name

    def clean(self):
        if self.probability_source == ProbabilitySource.MODEL and not self.model_eligible:
            raise ValidationError(
                {
                    "probability_source": (
                        "The win-probability model can be the source only while its back-test "
                        "beats the configured percentages on both the mean Brier score and the "
                        "mean absolute error of the month forecasts; the accuracy page shows "
                        "its latest back-test."
                    )
                }
            )

    @property
    def use_empirical_probabilities(self) -> bool:
        return self.probability_source == ProbabilitySource.EMPIRICAL

    @property
    def weighting_label(self) -> str:
        """The source its weighted figures use, as the pages say it."""
        if self.probability_source == ProbabilitySource.MODEL and not self.model_eligible:
            return "configured stage percentages (the win model's back-test does not beat them)"
        return self.get_probability_source_display().lower()

    @property
    def uses_model(self) -> bool:
        """Open deals without an override take the model's probability (DESIGN §3)."""
        return self.probability_source == ProbabilitySource.MODEL and self.model_eligible

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
            "Default win probability (0–100%) of deals in this stage; weighted forecasts "
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
            # What a deal's (stage, pipeline) pair refers to: on PostgreSQL a foreign key on
            # that pair keeps every deal's stage in its own pipeline (pipeline migration 0027).
            models.UniqueConstraint(fields=["id", "pipeline"], name="stage_id_pipeline_unique"),
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

    def probability_for(self, override: int | None) -> int:
        """The win probability of a deal in this stage (DESIGN §3): won = 100, lost = 0,
        else the deal's ``override``, else the stage's own. The SQL twin of this rule is
        :func:`pipeline.expressions.effective_probability`."""
        if self.kind == self.Kind.WON:
            return 100
        if self.kind == self.Kind.LOST:
            return 0
        return override if override is not None else self.probability

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
