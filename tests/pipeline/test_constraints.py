"""Database constraints: the last line of defence, enforced even for writes that bypass the
services (bulk updates, raw admin edits, data migrations)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from pipeline.models import Activity, Lead, Opportunity, Stage, StageTransition
from tests.factories import CompanyFactory, LeadFactory, PipelineFactory, stage


def _refused(write):
    """Run ``write`` in its own savepoint and return whether the database refused it."""
    try:
        with transaction.atomic():
            write()
    except IntegrityError:
        return True
    return False


@pytest.mark.parametrize(
    ("field", "bad", "good"),
    [
        ("amount", Decimal("-0.01"), Decimal("0")),
        ("probability", 101, 100),
        ("version", 0, 1),
    ],
)
def test_opportunity_check_constraints(opportunity, field, bad, good):
    rows = Opportunity.objects.filter(pk=opportunity.pk)
    assert _refused(lambda: rows.update(**{field: bad}))
    assert getattr(rows.get(), field) != bad
    assert not _refused(lambda: rows.update(**{field: good}))
    assert getattr(rows.get(), field) == good


def test_opportunity_probability_null_means_stage_default(opportunity):
    rows = Opportunity.objects.filter(pk=opportunity.pk)
    assert not _refused(lambda: rows.update(probability=None))
    assert not _refused(lambda: rows.update(probability=0))


def test_stage_one_won_stage_per_pipeline(pipeline):
    second_won = {"pipeline": pipeline, "name": "Won again", "kind": "won", "probability": 100}
    assert _refused(lambda: Stage.objects.create(**second_won))
    # Another pipeline has its own won stage; several lost stages are fine.
    assert PipelineFactory(name="Renewals").won_stage() is not None
    assert not _refused(
        lambda: Stage.objects.create(
            pipeline=pipeline, name="No decision", kind="lost", probability=0
        )
    )
    assert pipeline.stages.filter(kind="won").count() == 1


@pytest.mark.parametrize(
    ("kind", "bad", "good"), [("won", 99, 100), ("lost", 1, 0), ("open", 101, 100)]
)
def test_stage_probability_matches_kind(pipeline, kind, bad, good):
    name = {"won": "Won", "lost": "Lost", "open": "Discovery"}[kind]
    rows = Stage.objects.filter(pk=stage(pipeline, name).pk)
    assert _refused(lambda: rows.update(probability=bad))
    assert not _refused(lambda: rows.update(probability=good))


def test_stage_names_unique_within_pipeline(pipeline):
    assert _refused(lambda: Stage.objects.create(pipeline=pipeline, name="Discovery"))
    other = PipelineFactory(name="Renewals", stages=False)
    assert not _refused(lambda: Stage.objects.create(pipeline=other, name="Discovery"))


def test_lead_disqualified_needs_reason(rep):
    lead = LeadFactory(owner=rep)
    rows = Lead.objects.filter(pk=lead.pk)
    assert _refused(lambda: rows.update(status="disqualified", disqualification_reason=""))
    assert rows.get().status == Lead.Status.NEW
    assert not _refused(
        lambda: rows.update(status="disqualified", disqualification_reason="Student")
    )


def test_lead_budget_not_negative(rep):
    lead = LeadFactory(owner=rep)
    rows = Lead.objects.filter(pk=lead.pk)
    assert _refused(lambda: rows.update(budget=Decimal("-1")))
    assert not _refused(lambda: rows.update(budget=None))


def test_activity_needs_a_subject_record(rep):
    assert _refused(lambda: Activity.objects.create(kind="note", subject="Orphan", owner=rep))
    company = CompanyFactory(owner=rep)
    assert not _refused(
        lambda: Activity.objects.create(kind="note", subject="x", owner=rep, company=company)
    )


@pytest.mark.parametrize(
    "extra",
    [{"due_on": dt.date(2026, 1, 1)}, {"done_at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC)}],
)
def test_activity_only_tasks_are_due_or_done(rep, extra):
    company = CompanyFactory(owner=rep)
    base = dict(subject="x", owner=rep, company=company, **extra)
    assert _refused(lambda: Activity.objects.create(kind="call", **base))
    assert not _refused(lambda: Activity.objects.create(kind="task", **base))


def test_transition_amount_and_probability_checks(opportunity):
    first = opportunity.transitions.get()
    row = {
        "opportunity": opportunity,
        "to_stage": first.to_stage,
        "changed_at": timezone.now(),
        "amount": Decimal("1"),
        "probability": 50,
    }
    assert _refused(lambda: StageTransition.objects.create(**{**row, "amount": Decimal("-1")}))
    assert _refused(lambda: StageTransition.objects.create(**{**row, "probability": 101}))
    assert StageTransition.objects.filter(opportunity=opportunity).count() == 1


def test_stage_with_deals_cannot_be_deleted(pipeline, opportunity):
    from django.db.models import ProtectedError

    with pytest.raises(ProtectedError), transaction.atomic():
        stage(pipeline, "Qualification").delete()
    assert pipeline.stages.count() == 6
