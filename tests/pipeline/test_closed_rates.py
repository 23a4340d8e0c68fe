"""A closed deal's stored rate (``Opportunity.closed_rate``, pipeline.services.closed_rates):
kept by every write that can change it (the deal's own saves, the rates' saves, edits,
deletions and file loads, bulk writers), equal to the rate the conversion rule looks up, and
never needed for a right figure (a deal without one is looked up as before)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum

from pipeline import conversion, services
from pipeline.models import ExchangeRate, Opportunity
from pipeline.services.closed_rates import refresh_closed_rates
from pipeline.services.exchange_rates import load_rates
from tests.factories import OpportunityFactory, current_version

D = dt.date


@pytest.fixture
def rates(db):
    for code, day, rate in [
        ("EUR", D(2026, 1, 1), "1.10000000"),
        ("EUR", D(2026, 2, 1), "1.20000000"),
        ("GBP", D(2026, 2, 1), "1.33333333"),
    ]:
        ExchangeRate.objects.create(currency=code, on_date=day, rate=Decimal(rate))


def _deal(rep, pipeline, currency="EUR", amount="100.00", **kw):
    return OpportunityFactory(
        owner=rep, pipeline=pipeline, amount=Decimal(amount), currency=currency, **kw
    )


def _won(deal, rep, on):
    return services.close_won(opportunity=deal, by=rep, version=current_version(deal), closed_on=on)


def _stored(deal):
    return Opportunity.objects.values_list("closed_rate", flat=True).get(pk=deal.pk)


def _looked_up(deal):
    """What the conversion rule says, from the rates alone (None while open)."""
    deal = Opportunity.objects.select_related("stage").get(pk=deal.pk)
    if deal.is_open or deal.currency == "USD":
        return None
    return conversion.rate_on(deal.currency, deal.closed_on or deal.expected_close_date)


def _all_match():
    for deal in Opportunity.objects.all():
        assert _stored(deal) == _looked_up(deal), deal


def test_a_deal_keeps_the_rate_of_its_closed_date_only_while_closed(rates, rep, manager, pipeline):
    deal = _deal(rep, pipeline, expected_close_date=D(2026, 3, 31))
    assert _stored(deal) is None  # open: converts at the as-of date's rate
    deal = _won(deal, rep, D(2026, 1, 20))
    assert _stored(deal) == Decimal("1.10000000")
    deal = services.move_opportunity(
        opportunity=deal,
        to_stage=pipeline.stages.filter(kind="open").first(),
        by=manager,
        version=current_version(deal),
    )
    assert _stored(deal) is None  # reopened
    deal = _won(deal, rep, D(2026, 2, 20))
    assert _stored(deal) == Decimal("1.20000000")
    deal.currency = "GBP"  # any save of the model keeps it, not the services alone
    deal.save(update_fields=["currency"])
    assert _stored(deal) == Decimal("1.33333333")
    deal.closed_on = D(2026, 1, 20)
    deal.save()
    assert _stored(deal) is None  # no GBP rate on 20 January: looked up, and left out
    usd = _won(_deal(rep, pipeline, currency="USD"), rep, D(2026, 2, 5))
    assert _stored(usd) is None  # the reporting currency is never converted
    _all_match()


def test_rates_written_deleted_or_moved_refresh_the_deals_they_convert(rates, rep, pipeline):
    early = _won(_deal(rep, pipeline), rep, D(2026, 1, 20))
    late = _won(_deal(rep, pipeline), rep, D(2026, 2, 20))
    assert (_stored(early), _stored(late)) == (Decimal("1.1"), Decimal("1.2"))

    mid = ExchangeRate.objects.create(currency="EUR", on_date=D(2026, 1, 15), rate=Decimal("1.15"))
    assert (_stored(early), _stored(late)) == (Decimal("1.15"), Decimal("1.2"))

    mid.on_date = D(2026, 2, 15)  # moved: the old day's deals and the new day's
    mid.save()
    assert (_stored(early), _stored(late)) == (Decimal("1.1"), Decimal("1.15"))

    mid.delete()
    assert (_stored(early), _stored(late)) == (Decimal("1.1"), Decimal("1.2"))

    load_rates("date,currency,rate\n2026-01-10,EUR,1.11\n2026-02-01,EUR,1.21\n")
    assert (_stored(early), _stored(late)) == (Decimal("1.11"), Decimal("1.21"))

    ExchangeRate.objects.filter(currency="EUR").delete()
    assert (_stored(early), _stored(late)) == (None, None)
    _all_match()


def test_the_refresh_equals_what_saves_keep_and_clears_stale_rates(rates, rep, pipeline):
    deals = [
        _won(_deal(rep, pipeline), rep, D(2026, 1, 20)),
        _won(_deal(rep, pipeline, currency="GBP"), rep, D(2026, 2, 3)),
        _deal(rep, pipeline),
        _deal(rep, pipeline, currency="USD"),
    ]
    kept = {d.pk: _stored(d) for d in deals}
    # A bulk writer's rows: none stored, or a wrong one on an open deal.
    Opportunity.objects.update(closed_rate=None)
    Opportunity.objects.filter(pk=deals[2].pk).update(closed_rate=Decimal("9"))
    refresh_closed_rates(connection)
    assert {d.pk: _stored(d) for d in deals} == kept
    Opportunity.objects.update(closed_rate=None)
    refresh_closed_rates(connection, ids=[deals[0].pk], new=True)
    assert _stored(deals[0]) == kept[deals[0].pk]
    assert _stored(deals[1]) is None


def test_sums_are_the_same_with_or_without_stored_rates(rates, rep, pipeline):
    for day, currency, amount in [
        (D(2026, 1, 20), "EUR", "100.05"),
        (D(2026, 2, 3), "GBP", "77.77"),
        (D(2026, 2, 9), "EUR", "12.34"),
        (D(2025, 12, 1), "EUR", "50.00"),  # before the first EUR rate: left out
        (D(2026, 2, 9), "USD", "10.00"),
    ]:
        _won(_deal(rep, pipeline, currency=currency, amount=amount), rep, day)
    expected = sum(
        (
            amount
            for deal in Opportunity.objects.select_related("stage")
            if (amount := conversion.deal_in_reporting(deal, on=D(2026, 3, 1))) is not None
        ),
        Decimal(0),
    )

    def total():
        qs = Opportunity.objects.all()
        return (
            qs.aggregate(a=Sum(conversion.closed_amount()))["a"],
            qs.aggregate(a=Sum(conversion.deal_amount(conversion.rates_on(D(2026, 3, 1)))))["a"],
        )

    assert total() == (expected, expected)
    Opportunity.objects.update(closed_rate=None)
    assert total() == (expected, expected)


def test_past_states_convert_the_same_with_or_without_stored_rates(rates, rep, manager, pipeline):
    """A past state that is the deal's current closed stay converts at the stored rate; one
    that is not (won then, reopened and won again since; another currency then) at the rate
    of that state's own day, as before."""
    import time_machine

    from pipeline.selectors.dealstate import reconstructed_deals

    with time_machine.travel(dt.datetime(2026, 1, 20, 12, tzinfo=dt.UTC), tick=False):
        again = _won(_deal(rep, pipeline, amount="100.00"), rep, D(2026, 1, 20))
        kept = _won(_deal(rep, pipeline, amount="33.33"), rep, D(2026, 1, 20))
        switched = _deal(rep, pipeline, currency="USD", amount="10.00")
    with time_machine.travel(dt.datetime(2026, 2, 10, 12, tzinfo=dt.UTC), tick=False):
        again = services.move_opportunity(
            opportunity=again,
            to_stage=pipeline.stages.filter(kind="open").first(),
            by=manager,
            version=current_version(again),
        )
        again = _won(again, rep, D(2026, 2, 10))
        switched = services.update_opportunity(
            opportunity=switched, by=rep, version=current_version(switched), currency="GBP"
        )
        switched = _won(switched, rep, D(2026, 2, 10))
    assert _stored(again) == Decimal("1.2") and _stored(kept) == Decimal("1.1")

    def amounts(on):
        rows = reconstructed_deals(on=on).values_list("pk", "s_amount")
        return dict(rows)

    with time_machine.travel(dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC), tick=False):
        stored = {day: amounts(day) for day in (D(2026, 1, 25), D(2026, 2, 15))}
        Opportunity.objects.update(closed_rate=None)
        looked_up = {day: amounts(day) for day in (D(2026, 1, 25), D(2026, 2, 15))}
    assert stored == looked_up
    assert stored[D(2026, 1, 25)][again.pk] == Decimal("110.00")  # won then at 1.1
    assert stored[D(2026, 2, 15)][again.pk] == Decimal("120.00")  # its current stay
    assert stored[D(2026, 2, 15)][switched.pk] == Decimal("13.33")  # GBP at 1.33333333


def test_the_admins_bulk_delete_refreshes_the_stored_rates_once(
    rates, rep, pipeline, admin_user, client
):
    """Deleting several rates at once from the admin's list refreshes the closed deals once
    per currency (from the earliest date deleted), not once per rate, with the same result."""
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    early = _won(_deal(rep, pipeline), rep, D(2026, 1, 20))
    late = _won(_deal(rep, pipeline), rep, D(2026, 2, 20))
    pound = _won(_deal(rep, pipeline, currency="GBP"), rep, D(2026, 2, 20))
    extra = [
        ExchangeRate.objects.create(currency="EUR", on_date=D(2026, 1, day), rate=Decimal("1.3"))
        for day in (5, 10, 15, 25)
    ]
    assert _stored(early) == Decimal("1.3") and _stored(late) == Decimal("1.2")
    client.force_login(admin_user)
    chosen = [r.pk for r in extra] + [
        ExchangeRate.objects.get(currency="EUR", on_date=D(2026, 2, 1)).pk
    ]
    with CaptureQueriesContext(connection) as ctx:
        response = client.post(
            reverse("admin:pipeline_exchangerate_changelist"),
            {"action": "delete_selected", "_selected_action": chosen, "post": "yes"},
        )
    assert response.status_code == 302
    refreshes = [
        q for q in ctx.captured_queries if q["sql"].startswith("UPDATE pipeline_opportunity")
    ]
    assert len(refreshes) == 1  # one currency (EUR), from 5 Jan
    assert (_stored(early), _stored(late), _stored(pound)) == (
        Decimal("1.1"),
        Decimal("1.1"),
        Decimal("1.33333333"),
    )
    _all_match()
