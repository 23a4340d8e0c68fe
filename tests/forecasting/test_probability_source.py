"""A pipeline's probability source: the model only while its back-test beats the configured
percentages; one definition of the effective probability (SQL and Python, board totals,
snapshots) that takes the model's score when the source is the model; pages say the source."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from forecasting import services as forecast_services
from forecasting.learning import services as learning
from forecasting.models import ForecastSnapshot
from pipeline import expressions
from pipeline import services as deals
from pipeline.models import DealScore, Opportunity, Pipeline, StageTransition
from pipeline.selectors.board import column_totals
from tests.factories import OpportunityFactory, PipelineFactory

pytestmark = pytest.mark.django_db


def score(deal, probability):
    now = timezone.now()
    return DealScore.objects.create(
        opportunity=deal, probability=probability, probability_exact=probability,
        base_probability=40, factors=[], model_trained_at=now, scored_at=now,
    )  # fmt: skip


def use_model(pipeline, *, eligible=True):
    Pipeline.objects.filter(pk=pipeline.pk).update(
        probability_source="model", model_eligible=eligible
    )
    pipeline.refresh_from_db()


@pytest.fixture
def book(rep, pipeline):
    scored = OpportunityFactory(owner=rep, pipeline=pipeline, amount=Decimal("10000"))
    overridden = OpportunityFactory(
        owner=rep, pipeline=pipeline, amount=Decimal("1000"), probability=33
    )
    unscored = OpportunityFactory(owner=rep, pipeline=pipeline, amount=Decimal("2000"))
    score(scored, 80)
    score(overridden, 5)
    return scored, overridden, unscored


def effective(pk):
    return Opportunity.objects.annotate(p=expressions.effective_probability()).get(pk=pk).p


@pytest.mark.parametrize(("eligible", "expected"), [(True, [80, 33, 10]), (False, [10, 33, 10])])
def test_one_definition_in_sql_and_python(book, pipeline, eligible, expected):
    use_model(pipeline, eligible=eligible)
    for deal, p in zip(book, expected, strict=True):
        fresh = Opportunity.objects.select_related("stage", "pipeline").get(pk=deal.pk)
        assert effective(deal.pk) == fresh.effective_probability == p


def test_configured_source_ignores_the_scores(book, pipeline):
    assert [effective(d.pk) for d in book] == [10, 33, 10]


def test_board_totals_and_snapshots_weigh_by_the_model(book, pipeline, rep):
    use_model(pipeline)
    stages = list(pipeline.stages.all())
    totals = column_totals(Opportunity.objects.filter(pipeline=pipeline), stages)
    first = stages[0]
    assert totals[first.pk]["weighted"] == Decimal("8530.00")  # 8000 + 330 + 200
    forecast_services.take_snapshot(taken_on=timezone.localdate(), ranges=False)
    row = ForecastSnapshot.objects.get()
    assert row.weighted_amount == row.model_weighted_amount == Decimal("8530.00")
    assert row.stage_weighted_amount == Decimal("1530.00")  # 1000 + 330 + 200, beside it
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    earlier = timezone.now() - dt.timedelta(days=3)
    Opportunity.objects.update(created_at=earlier)
    StageTransition.objects.update(changed_at=earlier)
    Opportunity.history.update(history_date=earlier)
    forecast_services.take_snapshot(taken_on=yesterday, ranges=False)
    past = ForecastSnapshot.objects.get(taken_on=yesterday)
    # A past date's scores are not recorded: its deals count by the configured percentages.
    assert past.model_weighted_amount == past.stage_weighted_amount == Decimal("1530.00")


def test_the_model_is_chosen_only_while_it_beats_the_configured_percentages(
    pipeline, admin_user, rep
):
    with pytest.raises(ValidationError, match="only while its back-test beats"):
        deals.set_probability_source(pipeline=pipeline, source="model", by=admin_user)
    with pytest.raises(PermissionDenied):
        deals.set_probability_source(pipeline=pipeline, source="empirical", by=rep)
    assert deals.set_probability_source(
        pipeline=pipeline, source="empirical", by=admin_user
    ).use_empirical_probabilities
    deals.set_model_eligibility(pipeline_id=pipeline.pk, eligible=True)
    pipeline.refresh_from_db()
    assert deals.set_probability_source(pipeline=pipeline, source="model", by=admin_user).uses_model


def test_the_calibration_page_sets_the_source_and_explains_a_refusal(client, admin_user, pipeline):
    client.force_login(admin_user)
    url = reverse("forecasting:probability_source", args=[pipeline.pk])
    page = client.post(url, {"probability_source": "model"}, follow=True).content.decode()
    assert "only while its back-test beats" in page
    pipeline.refresh_from_db()
    assert pipeline.probability_source == "configured"
    page = client.post(url, {"probability_source": "empirical"}, follow=True).content.decode()
    assert "now weighs open deals by empirical stage win rates" in page
    assert "forecasts with empirical stage win rates" in page


def test_a_rep_cannot_set_the_source(client, rep, pipeline):
    client.force_login(rep)
    url = reverse("forecasting:probability_source", args=[pipeline.pk])
    assert client.post(url, {"probability_source": "empirical"}).status_code == 403


def test_pages_say_which_source_weighted_them(client, rep, book, pipeline):
    use_model(pipeline)
    client.force_login(rep)
    board = client.get(reverse("pipeline:board")).content.decode()
    assert "by win-probability model" in board
    assert "model 80% · stage 10%" in board
    dashboard = client.get(reverse("forecasting:dashboard")).content.decode()
    assert "New business: win-probability model" in dashboard
    # The tile shows two lines of it at most; the whole text is its title, shown on hover.
    assert 'class="s weighting" title="weighted by New business: win-probability model' in dashboard
    page = client.get(book[0].get_absolute_url()).content.decode()
    assert "at 80% (win model)" in page
    deals.set_model_eligibility(pipeline_id=pipeline.pk, eligible=False)  # a new back-test
    board = client.get(reverse("pipeline:board")).content.decode()
    assert "configured stage percentages (the win model" in board


def test_the_nightly_training_records_whether_the_model_may_be_the_source(rep, rep2):
    from tests.forecasting import learning_history

    line = PipelineFactory(
        name="Eligible",
        stages=[
            ("Qualification", "open", 45, "pipeline", None, []),
            ("Proposal", "open", 45, "best_case", None, []),
            ("Won", "won", 100, "closed", None, []),
            ("Lost", "lost", 0, "omitted", None, []),
        ],
    )
    learning_history.build(
        pipeline=line, owners=[rep, rep2], n=1000, seed=7,
        win_chance=lambda active: 0.9 if active else 0.05,
    )  # fmt: skip
    learning.train_pipeline(pipeline=line)
    line.refresh_from_db()
    assert line.model_eligible
    learning.train_pipeline(pipeline=line, with_backtest=False)  # no back-test, no claim
    line.refresh_from_db()
    assert not line.model_eligible


def test_priorities_can_rank_by_the_win_model(client, rep, pipeline):
    small = OpportunityFactory(owner=rep, pipeline=pipeline, name="Small", amount=Decimal("5000"))
    big = OpportunityFactory(owner=rep, pipeline=pipeline, name="Big", amount=Decimal("6000"))
    score(small, 90)
    score(big, 5)
    client.force_login(rep)
    url = reverse("forecasting:report_priorities")
    plain = client.get(url).content.decode()
    by_model = client.get(url, {"rank": "model"}).content.decode()
    # Configured: both 10 %, the bigger deal first; by the model 4,500 beats 300.
    assert plain.index("Big") < plain.index("Small")
    assert by_model.index("Small") < by_model.index("Big")
    assert "<strong>the win model</strong>" in by_model
