"""A deal's stage belongs to the deal's pipeline, in the database itself (pipeline migration
0027): a foreign key from the deal's (stage, pipeline) pair to the stage's, so a write that
bypasses the services (a bulk update, a hand-run statement, a faulty import) cannot leave a
deal in another pipeline's stage, where every board, report and snapshot would misread it."""

import pytest
from django.db import IntegrityError, connection, transaction

from pipeline import services
from pipeline.models import Opportunity
from tests.factories import OpportunityFactory, PipelineFactory, current_version, stage

pytestmark = pytest.mark.django_db


@pytest.fixture
def postgres():
    if connection.vendor != "postgresql":
        pytest.skip("the composite foreign key is PostgreSQL's (set DATABASE_URL)")


def test_no_update_puts_a_deal_in_a_stage_of_another_pipeline(postgres, rep, pipeline):
    deal = OpportunityFactory(owner=rep, pipeline=pipeline)
    other = stage(PipelineFactory(name="Renewals"), "Discovery")
    with pytest.raises(IntegrityError, match="opp_stage_in_pipeline"), transaction.atomic():
        Opportunity.objects.filter(pk=deal.pk).update(stage=other)
    deal.refresh_from_db()
    assert deal.stage.pipeline_id == pipeline.pk
    # Nor the other way round: the deal keeps its stage and is pointed at another pipeline.
    with pytest.raises(IntegrityError, match="opp_stage_in_pipeline"), transaction.atomic():
        Opportunity.objects.filter(pk=deal.pk).update(pipeline=other.pipeline)


def test_moves_within_the_pipeline_are_unaffected(postgres, rep, pipeline):
    deal = OpportunityFactory(owner=rep, pipeline=pipeline)
    moved = services.move_opportunity(
        opportunity=deal,
        to_stage=stage(pipeline, "Proposal"),
        by=rep,
        version=current_version(deal),
    )
    assert moved.stage.name == "Proposal"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT convalidated FROM pg_constraint WHERE conname = 'opp_stage_in_pipeline'"
        )
        assert cursor.fetchone() == (True,)
