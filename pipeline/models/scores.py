"""Each open deal's win probability as the pipeline's model scored it, with the factors that
moved it. Written only by :mod:`pipeline.services.scores` (the forecasting app's nightly
training calls it); the board, the deal page and the effective probability read it here, in
the pipeline layer, without knowing how the model works."""

from django.db import models

from pipeline.models.opportunities import Opportunity
from pipeline.models.stages import PERCENT


class DealScore(models.Model):
    """The model's win probability of one open deal, as of ``scored_at``.

    ``factors`` lists what moved the probability away from ``base_probability`` (the model's
    rate for an average deal of the pipeline), largest first: ``[{"label": str, "points":
    float}, ...]`` with the three largest and, last, ``"All other factors"``; the points add
    up to ``probability_exact − base_probability``.
    """

    opportunity = models.OneToOneField(
        Opportunity, on_delete=models.CASCADE, primary_key=True, related_name="win_score"
    )
    probability = models.PositiveSmallIntegerField(
        validators=PERCENT, help_text="The model's win probability, whole percent."
    )
    probability_exact = models.FloatField(help_text="The same, unrounded (0–100).")
    base_probability = models.FloatField(
        help_text="The model's probability for an average deal of the pipeline (0–100)."
    )
    factors = models.JSONField(default=list)
    model_trained_at = models.DateTimeField()
    scored_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(probability__gte=0, probability__lte=100),
                name="deal_score_probability_0_100",
            )
        ]

    def __str__(self):
        return f"{self.opportunity_id}: {self.probability}%"

    @property
    def top_factors(self) -> list[dict]:
        """The three named factors (without the remainder)."""
        return [f for f in self.factors if not f.get("rest")]

    @property
    def other_points(self) -> float:
        return sum(f["points"] for f in self.factors if f.get("rest"))
