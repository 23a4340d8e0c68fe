"""A deal's state as of any instant, reconstructed from its transitions and field history
(hand-computed), and "as of now" equal to the live state."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from forecasting import dealstate
from forecasting.dealstate import live_deals, reconstructed_deals, state_at
from pipeline import services as deals
from pipeline.models import Opportunity
from tests.factories import OpportunityFactory, current_version, stage

FIELDS = ("s_kind", "s_stage", "s_amount", "s_close", "s_owner", "s_prob", "s_category")
FIELDS += ("s_period",)


def at(day, hour=12):
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=dt.UTC)


@pytest.fixture
def story(rep, rep2, manager, pipeline):
    """One deal's life (all at noon UTC):

    5 Jan  created by rep: Qualification, 10,000, closing 31 Mar
    20 Jan moved to Proposal (50 %, best case)
    3 Feb  amount 15,000, closing 30 Apr
    17 Feb reassigned to rep2 (by the manager)
    2 Mar  probability override 60 %
    9 Mar  won
    """
    with time_machine.travel(at(dt.date(2026, 1, 5)), tick=False) as clock:
        deal = OpportunityFactory(
            owner=rep,
            pipeline=pipeline,
            amount=Decimal("10000"),
            expected_close_date=dt.date(2026, 3, 31),
        )
        clock.move_to(at(dt.date(2026, 1, 20)))
        deal = deals.move_opportunity(
            opportunity=deal,
            to_stage=stage(pipeline, "Proposal"),
            by=rep,
            version=current_version(deal),
        )
        clock.move_to(at(dt.date(2026, 2, 3)))
        deal = deals.update_opportunity(
            opportunity=deal,
            by=rep,
            version=current_version(deal),
            amount=Decimal("15000"),
            expected_close_date=dt.date(2026, 4, 30),
        )
        clock.move_to(at(dt.date(2026, 2, 17)))
        deal = deals.update_opportunity(
            opportunity=deal, by=manager, version=current_version(deal), owner=rep2
        )
        clock.move_to(at(dt.date(2026, 3, 2)))
        deal = deals.update_opportunity(
            opportunity=deal, by=rep2, version=current_version(deal), probability=60
        )
        clock.move_to(at(dt.date(2026, 3, 9)))
        deal = deals.close_won(opportunity=deal, by=rep2, version=current_version(deal))
        clock.move_to(at(dt.date(2026, 3, 10)))
        yield deal


def expected(pipeline, rep, rep2):
    qual, proposal, won = (stage(pipeline, n).pk for n in ("Qualification", "Proposal", "Won"))
    mar, apr = dt.date(2026, 3, 1), dt.date(2026, 4, 1)
    m31, a30 = dt.date(2026, 3, 31), dt.date(2026, 4, 30)
    k, p = Decimal("10000"), Decimal("15000")
    return [
        # end of day     kind   stage     amount close owner    prob category     period
        (dt.date(2026, 1, 5), ("open", qual, k, m31, rep.pk, 10, "pipeline", mar)),
        (dt.date(2026, 1, 19), ("open", qual, k, m31, rep.pk, 10, "pipeline", mar)),
        (dt.date(2026, 1, 20), ("open", proposal, k, m31, rep.pk, 50, "best_case", mar)),
        (dt.date(2026, 2, 3), ("open", proposal, p, a30, rep.pk, 50, "best_case", apr)),
        (dt.date(2026, 2, 17), ("open", proposal, p, a30, rep2.pk, 50, "best_case", apr)),
        (dt.date(2026, 3, 2), ("open", proposal, p, a30, rep2.pk, 60, "best_case", apr)),
        # Won on 9 Mar: closed in March (its closed_on), whatever the expected date said.
        (dt.date(2026, 3, 9), ("won", won, p, a30, rep2.pk, 100, "closed", mar)),
    ]


def state(qs, deal):
    row = qs.filter(pk=deal.pk).values_list(*FIELDS).get()
    return row[:-1] + (row[-1].date() if isinstance(row[-1], dt.datetime) else row[-1],)


def test_state_at_every_instant_of_the_history(story, pipeline, rep, rep2):
    assert not reconstructed_deals(on=dt.date(2026, 1, 4), rates={}).filter(pk=story.pk).exists()
    for day, want in expected(pipeline, rep, rep2):
        assert state(reconstructed_deals(on=day, rates={}), story) == want, day


def test_as_of_now_equals_the_live_state(story, book):
    today = dt.date(2026, 3, 10)
    everyone = Opportunity.objects.order_by("pk")
    live = list(live_deals(rates={}).order_by("pk").values_list("pk", *FIELDS))
    rebuilt = list(
        reconstructed_deals(on=today, rates={}).order_by("pk").values_list("pk", *FIELDS)
    )
    assert len(live) == everyone.count() == 8
    assert rebuilt == live


def test_two_states_in_one_query_with_lateral_joins(story, pipeline, rep, rep2):
    """One query for both dates: four lateral joins on PostgreSQL, correlated subqueries (the
    same rows) on SQLite, which has no lateral join."""
    rows = expected(pipeline, rep, rep2)
    (first, want_a), (second, want_b) = rows[1], rows[4]
    qs = state_at(Opportunity.objects.filter(pk=story.pk), first, "a_", {})
    qs = state_at(qs, second, "b_", {})
    with CaptureQueriesContext(connection) as ctx:
        got = qs.values_list("a_kind", "a_amount", "a_owner", "b_kind", "b_amount", "b_owner").get()
    assert got == (want_a[0], want_a[2], want_a[4], want_b[0], want_b[2], want_b[4])
    (sql,) = [q["sql"] for q in ctx.captured_queries]
    assert sql.count("JOIN LATERAL") == (4 if connection.vendor == "postgresql" else 0)
    # Before the deal existed: its row is kept, with no state.
    early = state_at(Opportunity.objects.filter(pk=story.pk), dt.date(2026, 1, 1), "a_", {})
    assert early.values_list("a_kind", "a_amount").get() == (None, None)


def test_state_survives_use_as_a_subquery(story, pipeline):
    """Relabelled aliases (the queryset inside ``pk__in``) still find their lateral rows."""
    inner = reconstructed_deals(on=dt.date(2026, 2, 3), rates={}).filter(s_amount=Decimal("15000"))
    assert list(Opportunity.objects.filter(pk__in=inner.values("pk"))) == [story]
    assert dealstate.reconstructed_deals(on=dt.date(2026, 2, 3), rates={}).count() == 1


def test_snapshot_of_today_as_of_now_equals_todays_snapshot(story, book):
    """The snapshot's grouped sums over the state reconstructed "as of now" are today's."""
    from forecasting.aggregates import snapshot_aggregates

    def grouped(qs):
        rows = qs.values("s_period", "s_owner", "s_pipeline").annotate(**snapshot_aggregates())
        return sorted(rows.order_by(), key=lambda r: (r["s_period"], r["s_owner"]))

    today = dt.date(2026, 3, 10)
    live = grouped(live_deals(rates={}))
    assert len(live) == 3
    assert grouped(reconstructed_deals(on=today, rates={})) == live
