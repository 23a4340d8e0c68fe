"""The win-probability model: features as of a date (nothing after it is used), a model that
finds a real signal and beats the stage percentages in the back-test, one that finds none and
does not claim to, calibration, the short-history fallback, explanations that add up, and who
sees which scores."""

import datetime as dt
from decimal import Decimal

import numpy as np
import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from forecasting import periods
from forecasting.learning import backtest, features, services
from forecasting.learning.model import NUMERIC
from forecasting.models import WinModel
from pipeline import services as deals
from pipeline.models import DealScore, Opportunity
from tests.factories import OpportunityFactory, PipelineFactory, current_version, stage
from tests.forecasting import learning_history
from tests.forecasting.chart_helpers import assert_readable, charts_of

pytestmark = pytest.mark.django_db
EVEN = [
    ("Qualification", "open", 45, "pipeline", None, []),
    ("Proposal", "open", 45, "best_case", None, []),
    ("Won", "won", 100, "closed", None, []),
    ("Lost", "lost", 0, "omitted", None, []),
]


def noon(day):
    return dt.datetime(day.year, day.month, day.day, 12, tzinfo=dt.UTC)


def row_of(frame, deal_id):
    index = int(np.flatnonzero(frame.columns["deal"] == deal_id)[0])
    values = {k: v[index] for k, v in frame.columns.items()}
    values.update({k: v[index] for k, v in frame.categories.items()})
    return values


@pytest.fixture
def history(rep, rep2, manager, pipeline):
    """One deal (noon UTC): created 5 Jan in Qualification, 10,000 closing 31 Mar; a call on
    10 Jan; moved to Proposal 20 Jan; a call on 25 Jan logged only on 5 Feb; close date
    slipped to 30 Apr and amount 15,000 on 3 Feb; calls on 10 and 12 Feb; won 9 Mar."""
    with time_machine.travel(noon(dt.date(2026, 1, 5)), tick=False) as clock:
        deal = OpportunityFactory(
            owner=rep,
            pipeline=pipeline,
            stage=stage(pipeline, "Qualification"),
            amount=Decimal("10000"),
            expected_close_date=dt.date(2026, 3, 31),
        )

        def call(day, logged=None):
            clock.move_to(noon(logged or day))
            deals.log_activity(
                by=rep, kind="call", subject="Call", opportunity=deal, occurred_at=noon(day)
            )

        call(dt.date(2026, 1, 10))
        clock.move_to(noon(dt.date(2026, 1, 20)))
        deal = deals.move_opportunity(
            opportunity=deal, to_stage=stage(pipeline, "Proposal"), by=rep,
            version=current_version(deal),
        )  # fmt: skip
        clock.move_to(noon(dt.date(2026, 2, 3)))
        deal = deals.update_opportunity(
            opportunity=deal, by=rep, version=current_version(deal),
            amount=Decimal("15000"), expected_close_date=dt.date(2026, 4, 30),
        )  # fmt: skip
        call(dt.date(2026, 1, 25), logged=dt.date(2026, 2, 5))
        call(dt.date(2026, 2, 10))
        call(dt.date(2026, 2, 12))
        clock.move_to(noon(dt.date(2026, 3, 9)))
        deals.close_won(opportunity=deal, by=rep, version=current_version(deal))
    return deal


def test_features_as_of_a_date_use_nothing_after_it(history, pipeline):
    with time_machine.travel(noon(dt.date(2026, 6, 1)), tick=False):
        frame = features.frame(
            pipeline_id=pipeline.pk,
            dates=[dt.date(2026, 1, 4), dt.date(2026, 1, 31), dt.date(2026, 2, 14)],
        )
    # Not created yet on 4 Jan: no row that day.
    assert sorted(features_dates(frame, history.pk)) == [dt.date(2026, 1, 31), dt.date(2026, 2, 14)]
    jan = row_of(frame.take(frame.columns["on"] == dt.date(2026, 1, 31).toordinal()), history.pk)
    assert jan["stage"] == stage(pipeline, "Proposal").pk
    assert jan["amount"] == 10000  # the change of 3 Feb is not known yet
    assert jan["slips"] == 0 and jan["amount_changes"] == 0
    assert jan["days_in_stage"] == pytest.approx(11.5)  # 20 Jan noon to 1 Feb midnight
    assert jan["age_days"] == pytest.approx(26.5)
    assert jan["days_to_close"] == 58  # 1 Feb to 31 Mar
    # The call of 25 Jan was logged on 5 Feb: not known on 31 Jan.
    assert jan["acts30"] == 1 and jan["acts14"] == 0
    assert jan["idle_days"] == pytest.approx(21.5)  # since 10 Jan noon
    feb = row_of(frame.take(frame.columns["on"] == dt.date(2026, 2, 14).toordinal()), history.pk)
    assert feb["amount"] == 15000 and feb["slips"] == 1 and feb["amount_changes"] == 1
    assert feb["acts14"] == 2  # 10 and 12 Feb
    assert feb["acts30"] == 3  # and 25 Jan, logged on 5 Feb
    assert feb["idle_days"] == pytest.approx(2.5)
    assert feb["days_to_close"] == 74  # 15 Feb to 30 Apr
    # The first closing (won, 9 Mar) is kept apart from the features, for the labels only.
    at, won = frame.closings[history.pk]
    assert won and dt.datetime.fromtimestamp(at, dt.UTC) == noon(dt.date(2026, 3, 9))


def features_dates(frame, deal_id):
    return [
        dt.date.fromordinal(int(o)) for o in frame.columns["on"][frame.columns["deal"] == deal_id]
    ]


def test_owner_win_rate_and_company_wins_count_only_earlier_closings(rep, pipeline):
    with time_machine.travel(noon(dt.date(2026, 1, 5)), tick=False) as clock:
        first = OpportunityFactory(owner=rep, pipeline=pipeline)
        later = OpportunityFactory(owner=rep, pipeline=pipeline, company=first.company)
        clock.move_to(noon(dt.date(2026, 1, 20)))
        deals.close_won(opportunity=first, by=rep, version=current_version(first))
    with time_machine.travel(noon(dt.date(2026, 3, 1)), tick=False):
        frame = features.frame(
            pipeline_id=pipeline.pk, dates=[dt.date(2026, 1, 10), dt.date(2026, 1, 31)]
        )
    before = row_of(frame.take(frame.columns["on"] == dt.date(2026, 1, 10).toordinal()), later.pk)
    after = row_of(frame.take(frame.columns["on"] == dt.date(2026, 1, 31).toordinal()), later.pk)
    assert (before["owner_won"], before["owner_closed"], before["company_wins"]) == (0, 0, 0)
    assert (after["owner_won"], after["owner_closed"], after["company_wins"]) == (1, 1, 1)


@pytest.fixture
def signal_pipeline(rep, rep2):
    line = PipelineFactory(name="Signal", stages=EVEN)
    learning_history.build(
        pipeline=line, owners=[rep, rep2], n=1000, seed=7,
        win_chance=lambda active: 0.9 if active else 0.05,
    )  # fmt: skip
    return line


@pytest.fixture
def noise_pipeline(rep, rep2):
    line = PipelineFactory(name="Noise", stages=EVEN)
    learning_history.build(
        pipeline=line, owners=[rep, rep2], n=1000, seed=11, win_chance=lambda active: 0.45
    )
    return line


def test_a_real_inactivity_signal_beats_the_stage_percentages(signal_pipeline):
    model = services.train_pipeline(pipeline=signal_pipeline)
    assert model.status == WinModel.Status.TRAINED
    summary = model.backtest["summary"]
    assert summary["months_modelled"] == 12
    assert summary["model"]["brier"] < summary["configured"]["brier"] - 0.03
    assert summary["model"]["mae"] < summary["configured"]["mae"]
    assert summary["model_beats_configured"] is True
    # Each month's model was trained only on deals closed before its month-start.
    first = model.backtest["months"][0]
    assert first["training_deals"] < model.closed_deals


def test_no_signal_no_claim(noise_pipeline):
    model = services.train_pipeline(pipeline=noise_pipeline)
    assert model.status == WinModel.Status.TRAINED
    summary = model.backtest["summary"]
    assert summary["model_beats_configured"] is False


def test_the_stored_model_is_calibrated(signal_pipeline):
    model = services.train_pipeline(pipeline=signal_pipeline, with_backtest=False)
    validation = model.validation
    assert validation["rows"] > 100
    assert validation["brier"] < validation["brier_stage"]
    for cell in validation["calibration"]:
        if cell["n"] >= 40:
            assert abs(cell["predicted"] - cell["observed"]) < 0.15, cell
    # What is stored is plain JSON numbers, scored again from the row alone.
    assert set(model.params) >= {"coef", "intercept", "mean", "scale", "platt", "categories"}
    assert all(isinstance(x, float) for x in model.params["coef"])


def test_explanations_add_up_to_the_difference_from_the_base_rate(signal_pipeline):
    services.train_pipeline(pipeline=signal_pipeline, with_backtest=False)
    scores = list(DealScore.objects.filter(opportunity__pipeline=signal_pipeline))
    open_count = Opportunity.objects.open().filter(pipeline=signal_pipeline).count()
    assert len(scores) == open_count > 0
    for score in scores:
        assert len(score.top_factors) == 3
        total = sum(f["points"] for f in score.factors)
        assert total == pytest.approx(score.probability_exact - score.base_probability, abs=0.01)
        sizes = [abs(f["points"]) for f in score.top_factors]
        assert sizes == sorted(sizes, reverse=True)
    idle = [s for s in scores if any("no activity" in f["label"] for f in s.top_factors)]
    assert idle, "inactivity is the signal: it shows among the top factors"


def test_scoring_costs_the_same_queries_for_any_number_of_open_deals(rep, rep2, pipeline):
    learning_history.build(
        pipeline=pipeline, owners=[rep, rep2], n=150, seed=5,
        win_chance=lambda active: 0.8 if active else 0.2,
    )  # fmt: skip
    on, now = periods.today(), timezone.now()
    frame = features.frame(pipeline_id=pipeline.pk, dates=services.history_dates(on, 24))
    fitted, _ = services.fit_current(frame, now=now)
    assert fitted is not None

    def score():
        with CaptureQueriesContext(connection) as queries:
            stored = services.score_open(
                pipeline_id=pipeline.pk, params=fitted["params"], trained_at=now, now=now
            )
        return stored, len(queries)

    few, few_queries = score()
    # Sixty more open deals (created in the last ten days, none closed yet).
    learning_history.build(
        pipeline=pipeline, owners=[rep, rep2], n=60, seed=6, days_back=10,
        win_chance=lambda active: 0.5,
    )  # fmt: skip
    many, many_queries = score()
    assert many == few + 60 == DealScore.objects.filter(opportunity__pipeline=pipeline).count()
    assert few > 0
    # PostgreSQL writes the scores with COPY, which the capture does not count; SQLite with
    # one bulk INSERT, which it does.
    budget = 10 if connection.vendor == "postgresql" else 11
    assert many_queries == few_queries <= budget, (few_queries, many_queries)


def test_short_history_gives_no_model_and_the_pages_say_so(client, rep, admin_user, pipeline):
    learning_history.build(pipeline=pipeline, owners=[rep], n=30, seed=3, win_chance=lambda a: 0.5)
    deal = OpportunityFactory(owner=rep, pipeline=pipeline)
    model = services.train_pipeline(pipeline=pipeline)
    assert model.status == WinModel.Status.INSUFFICIENT and not model.params
    assert model.closed_deals < backtest.MIN_CLOSED_DEALS
    assert not DealScore.objects.exists()
    client.force_login(admin_user)
    page = client.get(reverse("forecasting:accuracy")).content.decode()
    assert "No model for New business: too little history" in page
    assert f"has {model.closed_deals} (" in page
    page = client.get(deal.get_absolute_url()).content.decode()
    assert "Why the model says" not in page


def test_a_rep_sees_only_their_deals_scores(client, rep, rep2, signal_pipeline):
    services.train_pipeline(pipeline=signal_pipeline, with_backtest=False)
    mine = DealScore.objects.filter(opportunity__owner=rep).select_related("opportunity").first()
    theirs = DealScore.objects.filter(opportunity__owner=rep2).select_related("opportunity").first()
    client.force_login(rep)
    page = client.get(mine.opportunity.get_absolute_url()).content.decode()
    assert f"Why the model says {mine.probability}%" in page
    assert str(mine) == f"{mine.opportunity_id}: {mine.probability}%"
    assert mine.top_factors[0]["label"][1:] in page
    assert client.get(theirs.opportunity.get_absolute_url()).status_code == 404


def test_the_accuracy_page_shows_the_backtest_and_amounts_only_to_admins(
    client, rep, admin_user, signal_pipeline
):
    services.train_pipeline(pipeline=signal_pipeline)
    client.force_login(admin_user)
    page = client.get(reverse("forecasting:accuracy")).content.decode()
    assert "back-test of the three probability sources" in page
    assert "The model beat the configured percentages in this back-test." in page
    assert 'id="backtest-chart-' in page and "Mean absolute error" in page
    backtest_charts = [c for k, c in charts_of(page).items() if k.startswith("backtest-chart-")]
    assert len(backtest_charts) == 1
    assert_readable(page, backtest_charts[0])
    assert "<dt>Log loss</dt>" in page and "<dt>Mean absolute error</dt>" in page
    client.force_login(rep)
    page = client.get(reverse("forecasting:accuracy")).content.decode()
    assert "Mean Brier" in page and "Mean absolute error" not in page
    assert "<dt>Brier score</dt>" in page and "<dt>Log loss</dt>" in page


def test_the_nightly_training_is_scheduled():
    task = PeriodicTask.objects.get(task="forecasting.tasks.train_win_models")
    assert task.enabled and task.crontab.hour == "3"


def test_the_owners_win_rate_reads_as_a_percentage():
    label = NUMERIC["owner_rate"][1]
    assert label({"owner_rate": 0.523}) == "owner's win rate 52% (last 12 months)"
