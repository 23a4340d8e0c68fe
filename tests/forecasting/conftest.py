"""Fixtures for the forecasting tests: a frozen day and a hand-computed book of deals."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from pipeline import services as deals
from tests.factories import ContactFactory, OpportunityFactory, current_version, stage

TODAY = dt.date(2026, 3, 10)
NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def book(frozen, rep, rep2, pipeline, lost_reason):
    """Deals closing in March 2026 (hand-computed figures in ``BOOK``):

    rep:  A 10,000 Qualification (10 %)            → weighted 1,000
          B 20,000 Negotiation (75 %, commit)      → weighted 15,000
          C  5,000 Proposal (50 %, best case)      → weighted 2,500
          D  8,000 won on 10 Mar
          E  3,000 lost on 10 Mar
    rep2: F 40,000 Discovery with override 30 %    → weighted 12,000
          G  7,000 Qualification, closing in April (other period)
    """
    march = dt.date(2026, 3, 25)
    dm = ContactFactory(owner=rep, is_decision_maker=True)
    made = {
        "A": OpportunityFactory(owner=rep, pipeline=pipeline, amount=Decimal("10000"),
                                expected_close_date=march),
        "B": OpportunityFactory(owner=rep, pipeline=pipeline, amount=Decimal("20000"),
                                expected_close_date=march, contact=dm,
                                company=dm.company, stage=stage(pipeline, "Negotiation")),
        "C": OpportunityFactory(owner=rep, pipeline=pipeline, amount=Decimal("5000"),
                                expected_close_date=march, stage=stage(pipeline, "Proposal")),
        "D": OpportunityFactory(owner=rep, pipeline=pipeline, amount=Decimal("8000"),
                                expected_close_date=march),
        "E": OpportunityFactory(owner=rep, pipeline=pipeline, amount=Decimal("3000"),
                                expected_close_date=march),
        "F": OpportunityFactory(owner=rep2, pipeline=pipeline, amount=Decimal("40000"),
                                expected_close_date=march, probability=30,
                                stage=stage(pipeline, "Discovery")),
        "G": OpportunityFactory(owner=rep2, pipeline=pipeline, amount=Decimal("7000"),
                                expected_close_date=dt.date(2026, 4, 5)),
    }  # fmt: skip
    made["D"] = deals.close_won(opportunity=made["D"], version=current_version(made["D"]), by=rep)
    made["E"] = deals.close_lost(
        opportunity=made["E"], version=current_version(made["E"]), by=rep, lost_reason=lost_reason
    )
    return made


MARCH = dt.date(2026, 3, 1)
BOOK = {
    "rep": {
        "open_count": 3,
        "open_amount": Decimal("35000"),
        "weighted_amount": Decimal("18500"),
        # No model scores: by the configured percentages and by the model alike.
        "stage_weighted_amount": Decimal("18500"),
        "model_weighted_amount": Decimal("18500"),
        "commit_amount": Decimal("20000"),
        "best_case_amount": Decimal("5000"),
        "won_amount": Decimal("8000"),
        "won_count": 1,
        "lost_count": 1,
        "lost_amount": Decimal("3000"),
    },
    "rep2": {
        "open_count": 1,
        "open_amount": Decimal("40000"),
        "weighted_amount": Decimal("12000"),
        "stage_weighted_amount": Decimal("12000"),
        "model_weighted_amount": Decimal("12000"),
        "commit_amount": Decimal("0"),
        "best_case_amount": Decimal("0"),
        "won_amount": Decimal("0"),
        "won_count": 0,
        "lost_count": 0,
        "lost_amount": Decimal("0"),
    },
}
