"""Quotas, forecast snapshots, forecast ranges and managers' adjustments.

Models hold fields, constraints and small derived properties only; the snapshot job and
every write live in :mod:`forecasting.services`; reads in :mod:`forecasting.selectors` over the
deal state, period, quota and win-rate modules beside it.

Snapshot columns (DESIGN.md §3, §4) hold the *components* of the forecasts for one
period × owner × pipeline as they stood on ``taken_on``; the forecasts are sums of them:

* commit forecast     = ``won_amount + commit_amount``
* best-case forecast  = ``won_amount + commit_amount + best_case_amount``
* weighted forecast   = ``won_amount + weighted_amount``
"""

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.visibility import OwnerOrTeamQuerySet, VisibleQuerySet

MONEY = {"max_digits": 16, "decimal_places": 2}


class UserOrTeamQuerySet(OwnerOrTeamQuerySet):
    """Quotas and adjustments: about a rep (``user``) or a team."""

    owner_field = "user"


class Quota(models.Model):
    """The revenue target of a rep or of a team for one calendar month.

    A team's quota for a month is its own row when one is set, else the sum of its members'
    quotas for that month (see ``selectors.quota_total``). Quotas cover every pipeline.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="quotas",
        help_text="The rep whose target this is (leave empty for a team quota).",
    )
    team = models.ForeignKey(
        "accounts.Team",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="quotas",
        help_text="The team whose target this is (leave empty for a rep's quota). When set it "
        "replaces the sum of the members' quotas for that month.",
    )
    month = models.DateField(help_text="The first day of the month the quota is for.")
    amount = models.DecimalField(
        **MONEY,
        validators=[MinValueValidator(Decimal("0"))],
        help_text="Closed-won revenue expected in the month.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    objects = UserOrTeamQuerySet.as_manager()

    class Meta:
        ordering = ["month", "team", "user"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(user__isnull=False) & Q(team__isnull=True))
                | (Q(user__isnull=True) & Q(team__isnull=False)),
                name="quota_user_xor_team",
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name="quota_amount_gte_0"),
            models.UniqueConstraint(
                fields=["user", "month"],
                condition=Q(user__isnull=False),
                name="quota_unique_user_month",
            ),
            models.UniqueConstraint(
                fields=["team", "month"],
                condition=Q(team__isnull=False),
                name="quota_unique_team_month",
            ),
        ]
        indexes = [models.Index(fields=["month", "user"]), models.Index(fields=["month", "team"])]

    def __str__(self):
        who = self.user or self.team
        return f"{who} · {self.month:%b %Y}"

    def clean(self):
        errors = {}
        if bool(self.user_id) == bool(self.team_id):
            errors["user"] = "Choose either a rep or a team, not both."
        if self.month and self.month.day != 1:
            errors["month"] = "A quota is for a whole month: use the first day of the month."
        if errors:
            raise ValidationError(errors)


class ForecastSnapshotQuerySet(VisibleQuerySet):
    owner_field = "owner"


class ForecastSnapshot(models.Model):
    """The forecast components of one period × owner × pipeline as they stood on ``taken_on``.

    Written only by ``services.take_snapshot`` (a date's rows are rebuilt in one transaction,
    so taking a date twice gives the same rows) and, in a chunked run, by
    ``services.take_pipeline_snapshot`` (one pipeline's rows of a date in one transaction).
    Open-deal columns: ``open_count``, ``open_amount``, ``weighted_amount`` (Σ amount ×
    effective probability / 100), beside it ``stage_weighted_amount`` (by the configured
    percentages) and ``model_weighted_amount`` (by the win model's scores, the configured
    percentage for an unscored deal and for every deal of a past date, whose scores are not
    recorded), ``commit_amount`` and ``best_case_amount`` (Σ amount
    of open deals in that forecast category). Closed columns: ``won_amount``, ``won_count``,
    ``lost_count``, ``lost_amount``.
    """

    taken_on = models.DateField()
    period = models.DateField(help_text="First day of the month.")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="forecast_snapshots"
    )
    pipeline = models.ForeignKey(
        "pipeline.Pipeline", on_delete=models.CASCADE, related_name="forecast_snapshots"
    )
    open_count = models.PositiveIntegerField(default=0)
    open_amount = models.DecimalField(**MONEY, default=Decimal("0"))
    weighted_amount = models.DecimalField(**MONEY, default=Decimal("0"))
    stage_weighted_amount = models.DecimalField(
        **MONEY, default=Decimal("0"), help_text="Σ weighted by the configured percentages."
    )
    model_weighted_amount = models.DecimalField(
        **MONEY,
        default=Decimal("0"),
        help_text="Σ weighted by the win model's scores (configured percentages for unscored "
        "deals, and for a past date, whose scores were not recorded).",
    )
    commit_amount = models.DecimalField(**MONEY, default=Decimal("0"))
    best_case_amount = models.DecimalField(**MONEY, default=Decimal("0"))
    won_amount = models.DecimalField(**MONEY, default=Decimal("0"))
    won_count = models.PositiveIntegerField(default=0)
    lost_count = models.PositiveIntegerField(default=0)
    lost_amount = models.DecimalField(**MONEY, default=Decimal("0"))

    objects = ForecastSnapshotQuerySet.as_manager()

    class Meta:
        ordering = ["taken_on", "period", "owner", "pipeline"]
        constraints = [
            models.UniqueConstraint(
                fields=["taken_on", "period", "owner", "pipeline"],
                name="snapshot_unique_row",
            ),
        ]
        indexes = [
            models.Index(fields=["period", "taken_on"]),
            models.Index(fields=["owner", "period", "taken_on"]),
        ]

    def __str__(self):
        return f"{self.taken_on} · {self.period:%b %Y} · {self.owner_id} · {self.pipeline_id}"

    @property
    def commit_forecast(self) -> Decimal:
        return self.won_amount + self.commit_amount

    @property
    def best_case_forecast(self) -> Decimal:
        return self.won_amount + self.commit_amount + self.best_case_amount

    @property
    def weighted_forecast(self) -> Decimal:
        return self.won_amount + self.weighted_amount


class PeriodKind(models.TextChoices):
    MONTH = "month", "Month"
    QUARTER = "quarter", "Quarter"


class ForecastRangeQuerySet(OwnerOrTeamQuerySet):
    """Rep-level ranges follow the owner rule, team ranges the manager's teams, the
    company-wide range (no owner, no team) is for admins only."""

    owner_field = "owner"


class ForecastRange(models.Model):
    """Monte Carlo range of a period's closed-won revenue, stored with the snapshot of
    ``taken_on``: P10/P50/P90, the mean, and the chance of reaching quota.

    Scope: a rep (``owner``), a team (``team``) or everyone (neither); ``pipeline`` empty means
    every pipeline. Written only by ``services.take_snapshot`` (or, for a chunked run, by
    ``services.finish_snapshot_run``).
    """

    taken_on = models.DateField()
    period_kind = models.CharField(max_length=10, choices=PeriodKind.choices)
    period = models.DateField(help_text="First day of the month or quarter.")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="forecast_ranges",
    )
    team = models.ForeignKey(
        "accounts.Team",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="forecast_ranges",
    )
    pipeline = models.ForeignKey(
        "pipeline.Pipeline",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="forecast_ranges",
    )
    won_amount = models.DecimalField(**MONEY, default=Decimal("0"))
    mean = models.DecimalField(**MONEY)
    p10 = models.DecimalField(**MONEY)
    p50 = models.DecimalField(**MONEY)
    p90 = models.DecimalField(**MONEY)
    quota = models.DecimalField(**MONEY, null=True, blank=True)
    chance_to_reach_quota = models.FloatField(
        null=True, blank=True, help_text="Share of trials (0–1) reaching quota; empty: no quota."
    )
    open_count = models.PositiveIntegerField(default=0)
    trials = models.PositiveIntegerField()
    seed = models.BigIntegerField()

    objects = ForecastRangeQuerySet.as_manager()

    class Meta:
        ordering = ["taken_on", "period_kind", "period"]
        constraints = [
            models.CheckConstraint(
                condition=Q(owner__isnull=True) | Q(team__isnull=True),
                name="range_owner_or_team",
            ),
        ]
        indexes = [
            models.Index(fields=["period_kind", "period", "taken_on"]),
            models.Index(fields=["taken_on"]),
        ]

    def __str__(self):
        return f"{self.taken_on} · {self.period_kind} {self.period}"


class SnapshotRun(models.Model):
    """When the forecast snapshot of one date was last built, and how: one row per date,
    rewritten by every rebuild of that date (``services.take_snapshot`` in one task, or a
    chunked run: ``start_snapshot_run``, one ``take_pipeline_snapshot`` per pipeline,
    ``finish_snapshot_run``). A run with ``started_at`` but no ``finished_at`` is under way
    or failed; what operators watch each morning is that today's run finished."""

    class Mode(models.TextChoices):
        SINGLE = "single", "One task"
        CHUNKED = "chunked", "Per-pipeline chunks"

    taken_on = models.DateField(unique=True, help_text="The date the snapshot describes.")
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.SINGLE)
    chunks = models.PositiveIntegerField(
        default=1, help_text="Chunks the run was split into (one per pipeline when chunked)."
    )
    chunks_done = models.PositiveIntegerField(default=0, help_text="Chunks finished so far.")
    chunk_rows = models.JSONField(
        default=dict,
        blank=True,
        help_text="Snapshot rows written by each finished chunk, by pipeline id.",
    )
    rows = models.PositiveIntegerField(default=0, help_text="Snapshot rows of the date.")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-taken_on"]

    def __str__(self):
        state = "finished" if self.finished_at else "not finished"
        return f"{self.taken_on} · {self.get_mode_display()} · {state}"

    @property
    def duration(self):
        """Wall time from start to finish; None until finished."""
        if self.finished_at is None:
            return None
        return self.finished_at - self.started_at


class ForecastAdjustment(models.Model):
    """A manager's judgement on a rep's or a team's number for a month or a quarter, with a
    note. Shown beside the computed forecast, never replacing it."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="forecast_adjustments",
        help_text="The rep whose number is adjusted (empty for a team).",
    )
    team = models.ForeignKey(
        "accounts.Team",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="forecast_adjustments",
    )
    period_kind = models.CharField(
        max_length=10, choices=PeriodKind.choices, default=PeriodKind.QUARTER
    )
    period = models.DateField(help_text="First day of the month or quarter.")
    amount = models.DecimalField(
        **MONEY,
        validators=[MinValueValidator(Decimal("0"))],
        help_text="The manager's call of the closed-won revenue for the period.",
    )
    note = models.TextField(blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    objects = UserOrTeamQuerySet.as_manager()

    class Meta:
        ordering = ["period", "team", "user"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(user__isnull=False) & Q(team__isnull=True))
                | (Q(user__isnull=True) & Q(team__isnull=False)),
                name="adjustment_user_xor_team",
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name="adjustment_amount_gte_0"),
            models.UniqueConstraint(
                fields=["user", "period_kind", "period"],
                condition=Q(user__isnull=False),
                name="adjustment_unique_user_period",
            ),
            models.UniqueConstraint(
                fields=["team", "period_kind", "period"],
                condition=Q(team__isnull=False),
                name="adjustment_unique_team_period",
            ),
        ]

    def __str__(self):
        return f"{self.user or self.team} · {self.period_kind} {self.period}"


class WinModel(models.Model):
    """A pipeline's win-probability model as one night's training left it (DESIGN.md §3,
    :mod:`forecasting.learning`): a regularised logistic regression over the features of
    :mod:`forecasting.learning.features`, Platt-calibrated on a held-out fold, stored as
    plain numbers (never a pickle). A pipeline with too little closed history gets a row with
    ``status`` "insufficient" and no coefficients, so its pages can say why there is none.

    ``params``: ``features`` (names, labels, kinds), ``mean``/``scale`` of the scaler,
    ``coef``, ``intercept``, ``platt`` (``a``, ``b``), ``categories`` (one-hot vocabularies),
    ``base`` (calibrated probability of the average deal) and ``prior`` (training win share).
    ``validation``: Brier score and log loss on the validation fold, model and configured
    stage percentages. ``backtest``: the month-by-month back-test of the three probability
    sources and its summary (:mod:`forecasting.learning.backtest`).
    """

    class Status(models.TextChoices):
        TRAINED = "trained", "Trained"
        INSUFFICIENT = "insufficient", "Too little history"

    pipeline = models.ForeignKey(
        "pipeline.Pipeline", on_delete=models.CASCADE, related_name="win_models"
    )
    trained_at = models.DateTimeField(default=timezone.now)
    trained_on = models.DateField(help_text="The date whose history the model learned from.")
    status = models.CharField(max_length=20, choices=Status.choices)
    closed_deals = models.PositiveIntegerField(
        help_text="Deals closed in the trailing 24 months (the training population)."
    )
    samples = models.PositiveIntegerField(
        default=0, help_text="Training rows: closed deals at sampled dates of their life."
    )
    params = models.JSONField(default=dict, blank=True)
    validation = models.JSONField(default=dict, blank=True)
    backtest = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["pipeline", "-trained_at", "-id"]
        get_latest_by = "trained_at"
        indexes = [models.Index(fields=["pipeline", "-trained_at"])]

    def __str__(self):
        return f"{self.pipeline} · {self.trained_on} · {self.get_status_display()}"

    @property
    def is_trained(self) -> bool:
        return self.status == self.Status.TRAINED
