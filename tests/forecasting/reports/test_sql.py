"""The SQL building blocks give the same numbers on SQLite and PostgreSQL."""

import datetime as dt

import pytest
from django.db.models import F, Q

from forecasting.reports.sql import DateDiff, DaysBetween, Median
from pipeline.models import Opportunity, StageTransition


def test_median_odd_even_filtered_and_empty(world):
    # Amounts: A 10,000 B 20,000 C 30,000 D 5,000 F 8,000 G 40,000 E 99,999.
    assert Opportunity.objects.aggregate(m=Median("amount"))["m"] == 20000
    assert Opportunity.objects.exclude(name="E").aggregate(m=Median("amount"))["m"] == 15000
    filtered = Opportunity.objects.aggregate(m=Median("amount", filter=Q(owner=world.rep)))
    assert filtered["m"] == 15000  # 8,000 10,000 | 20,000 40,000
    assert Opportunity.objects.filter(name="none").aggregate(m=Median("amount"))["m"] is None


def test_median_grouped(world):
    rows = dict(
        Opportunity.objects.values_list("owner__username")
        .annotate(m=Median("amount"))
        .order_by("owner__username")
    )
    assert rows == {"outsider": 99999, "rep": 15000, "rep2": 17500}


def test_days_between_and_date_diff(world):
    # A entered Discovery Jan 20 12:00 and Proposal Feb 9 12:00: 20 days.
    first, second = StageTransition.objects.filter(
        opportunity=world.a, to_stage__name__in=["Discovery", "Proposal"]
    ).order_by("changed_at")
    days = (
        StageTransition.objects.filter(pk=second.pk)
        .annotate(d=DaysBetween(F("changed_at"), first.changed_at))
        .values_list("d", flat=True)
        .get()
    )
    assert round(days, 6) == 20
    cycle = (
        Opportunity.objects.filter(pk=world.a.pk)
        .annotate(d=DateDiff(F("closed_on"), dt.date(2026, 1, 10)))
        .values_list("d", flat=True)
        .get()
    )
    assert cycle == 50


@pytest.mark.django_db(transaction=True)  # no outer transaction: as in a report view
def test_planner_settings_last_for_the_block_only():
    """``stream`` turns hashed grouping and bitmap scans off and raises work_mem, ``by_deal``
    turns hash and merge joins off, for the block's transaction alone; elsewhere than
    PostgreSQL the block runs as it is."""
    from django.db import connection

    from forecasting.reports.sql import planner_settings

    names = ("work_mem", "enable_hashagg", "enable_bitmapscan", "enable_hashjoin")

    def shown():
        with connection.cursor() as cursor:
            found = []
            for name in names:
                cursor.execute(f"SHOW {name}")  # nosec B608: names from the tuple above
                found.append(cursor.fetchone()[0])
            return found

    if connection.vendor != "postgresql":
        with planner_settings(stream=True, by_deal=True):
            assert Opportunity.objects.count() >= 0
        return
    before = shown()
    with planner_settings(stream=True):
        assert shown() == ["32MB", "off", "off", before[3]]
    with planner_settings(megabytes=None, by_deal=True):
        assert shown() == [before[0], before[1], before[2], "off"]
    assert shown() == before
