"""ReportScope.narrowed: a copy with other filters that keeps what the scope has read and
the change leaves valid, so a page showing one scope several ways reads it once."""

import datetime as dt

from pipeline.models import Pipeline, Stage


def test_a_narrowed_scope_keeps_the_rates_and_open_stages_it_may(
    world, scope_for, django_assert_num_queries
):
    scope = scope_for(world.manager, pipeline=world.pipeline)
    rates, stages = scope.rates(), scope.open_stages()
    own = scope.narrowed(owner=world.rep)
    with django_assert_num_queries(0):
        assert own.rates() is rates
        assert own.open_stages() is stages
    assert (own.owner, scope.owner) == (world.rep, None)


def test_a_narrowed_scope_reads_again_what_the_change_makes_stale(world, scope_for):
    scope = scope_for(world.manager, pipeline=world.pipeline)
    scope.rates(), scope.open_stages()
    other = Pipeline.objects.create(name="Renewals", position=9)
    Stage.objects.create(pipeline=other, name="Open", kind=Stage.Kind.OPEN, position=0)
    moved = scope.narrowed(pipeline=other)
    assert [pk for pk, _ in moved.open_stages()] == list(
        other.stages.filter(kind=Stage.Kind.OPEN).values_list("pk", flat=True)
    )
    later = scope.narrowed(now=scope.now + dt.timedelta(days=40))
    assert "_fx" not in later.__dict__
