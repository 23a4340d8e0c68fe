"""What changed, accuracy and empirical stage rates, against hand-computed figures."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from forecasting import selectors, services, winrates
from forecasting.accuracy import accuracy
from forecasting.models import ForecastSnapshot
from forecasting.periods import Period
from forecasting.scope import ForecastScope
from pipeline import services as deals
from tests.factories import OpportunityFactory, current_version, stage


def at(day, hour=10):
    return time_machine.travel(dt.datetime(2026, 3, day, hour, tzinfo=dt.UTC), tick=False)


@pytest.fixture
def moves(rep, pipeline, lost_reason):
    """March 2026: open at the end of 1 Mar: X 10,000, Y 5,000, Z 8,000, L 3,000 (26,000).
    By the end of 8 Mar: Y pushed to April, Z won, L lost, P pulled in from April, X up to
    12,000, N new: open X 12,000 + P 7,000 + N 4,000 = 23,000."""

    def make(name, amount, close):
        return OpportunityFactory(owner=rep, pipeline=pipeline, name=name,
                                  amount=Decimal(amount), expected_close_date=close)  # fmt: skip

    with at(1):
        x = make("X", "10000", dt.date(2026, 3, 20))
        y = make("Y", "5000", dt.date(2026, 3, 25))
        z = make("Z", "8000", dt.date(2026, 3, 15))
        lo = make("L", "3000", dt.date(2026, 3, 18))
        p = make("P", "7000", dt.date(2026, 4, 30))
    with at(4):
        make("N", "4000", dt.date(2026, 3, 30))
    with at(5):
        deals.update_opportunity(
            opportunity=y, by=rep, version=y.version, expected_close_date=dt.date(2026, 4, 10)
        )
        deals.update_opportunity(
            opportunity=p, by=rep, version=p.version, expected_close_date=dt.date(2026, 3, 29)
        )
        deals.update_opportunity(opportunity=x, by=rep, version=x.version, amount=Decimal("12000"))
    with at(6):
        deals.close_won(opportunity=z, version=current_version(z), by=rep)
        deals.close_lost(
            opportunity=lo, version=current_version(lo), by=rep, lost_reason=lost_reason
        )


EXPECTED = {
    "start": (4, Decimal("26000")),
    "new": (1, Decimal("4000")),
    "pulled_in": (1, Decimal("7000")),
    "pushed_out": (1, Decimal("5000")),
    "amount_change": (1, Decimal("2000")),
    "won": (1, Decimal("8000")),
    "lost": (1, Decimal("3000")),
    "end": (3, Decimal("23000")),
}


@pytest.mark.parametrize("end_day", [8, 20])  # a reconstructed day, and today (live)
def test_what_changed_waterfall_hand_computed(moves, manager, end_day):
    with at(20):
        scope = ForecastScope(user=manager, period=Period.parse("2026-03"))
        bars = selectors.what_changed(scope, dt.date(2026, 3, 1), dt.date(2026, 3, end_day))
        got = {b["key"]: (b["count"], b["amount"]) for b in bars}
        assert got == EXPECTED
        names = {
            key: sorted(d.name for d in selectors.changed_deals(scope, dt.date(2026, 3, 1),
                                                               dt.date(2026, 3, end_day), key))
            for key in EXPECTED
        }  # fmt: skip
    assert names["pushed_out"] == ["Y"] and names["pulled_in"] == ["P"]
    assert names["new"] == ["N"] and names["won"] == ["Z"] and names["lost"] == ["L"]
    assert names["amount_change"] == ["X"] and names["end"] == ["N", "P", "X"]
    assert bars[-1]["high"] == Decimal("23000") and bars[5]["delta"] == Decimal("-8000")


def test_what_changed_hides_other_reps_deals(moves, outsider):
    with at(20):
        scope = ForecastScope(user=outsider, period=Period.parse("2026-03"))
        bars = selectors.what_changed(scope, dt.date(2026, 3, 1), dt.date(2026, 3, 8))
    assert all(b["count"] == 0 for b in bars)


def test_accuracy_forecast_on_first_day_vs_actual_and_brier(rep, manager, pipeline, lost_reason):
    feb1 = dt.datetime(2026, 2, 1, 1, tzinfo=dt.UTC)
    with time_machine.travel(feb1, tick=False):
        a = OpportunityFactory(
            owner=rep,
            pipeline=pipeline,
            amount=Decimal("10000"),
            expected_close_date=dt.date(2026, 2, 20),
            stage=stage(pipeline, "Proposal"),
        )
        c = OpportunityFactory(owner=rep, pipeline=pipeline, amount=Decimal("6000"),
                               expected_close_date=dt.date(2026, 2, 25))  # fmt: skip
        services.take_snapshot(taken_on=dt.date(2026, 2, 1))
    with time_machine.travel(dt.datetime(2026, 2, 15, 10, tzinfo=dt.UTC), tick=False):
        deals.close_won(opportunity=a, version=current_version(a), by=rep)
        deals.close_lost(opportunity=c, version=current_version(c), by=rep, lost_reason=lost_reason)
    with at(10):
        scope = ForecastScope(user=manager, period=Period.parse("2026-03"))
        result = accuracy(scope, [dt.date(2026, 1, 1), dt.date(2026, 2, 1)])
    row = next(r for r in result["rows"] if r.label == str(rep))
    jan, feb = row.cells
    assert jan.forecast is None and jan.actual == 0  # no snapshot on 1 Jan
    assert (feb.forecast, feb.actual) == (Decimal("5600"), Decimal("10000"))  # 5,000 + 600
    assert feb.error == Decimal("-44")
    assert row.bias == Decimal("-44") and row.mape == Decimal("44")
    assert row.brier == pytest.approx((0.5 - 1) ** 2 / 2 + (0.1 - 0) ** 2 / 2)
    assert row.closed == 2
    team_row = result["team_rows"][0]
    assert team_row.brier == pytest.approx(row.brier) and team_row.closed == 2
    assert result["missing"] == [dt.date(2026, 1, 1)]
    assert {b["p"]: (b["n"], b["won"]) for b in result["buckets"]} == {10: (1, 0), 50: (1, 1)}
    assert result["show_total"] is True
    # The rep sees their own row only: no team or "all" row repeating it under another name.
    with at(10):
        mine = accuracy(
            ForecastScope(user=rep, period=Period.parse("2026-03")),
            [dt.date(2026, 1, 1), dt.date(2026, 2, 1)],
        )
    assert [r.label for r in mine["rows"]] == [str(rep)]
    assert mine["team_rows"] == [] and mine["show_total"] is False


def test_empirical_stage_rates_drive_the_forecast_when_enabled(rep, pipeline, lost_reason):
    with at(1):
        close = dt.date(2026, 3, 9)
        made = [
            OpportunityFactory(owner=rep, pipeline=pipeline, expected_close_date=close)
            for _ in range(5)
        ]
    with at(2):
        for deal in made[:4]:
            deals.close_won(opportunity=deal, version=current_version(deal), by=rep)
        deals.close_lost(
            opportunity=made[4], version=current_version(made[4]), by=rep, lost_reason=lost_reason
        )
        OpportunityFactory(owner=rep, pipeline=pipeline, amount=Decimal("10000"),
                           expected_close_date=dt.date(2026, 3, 30))  # fmt: skip
        qualification = stage(pipeline, "Qualification")
        counts = winrates.stage_win_counts(on=dt.date(2026, 3, 2))[qualification.pk]
        assert (counts.entered, counts.closed, counts.won, counts.rate) == (
            6,
            5,
            4,
            Decimal("80.0"),
        )
        assert winrates.empirical_stage_rates(on=dt.date(2026, 3, 2)) == {}  # setting off
        services.take_snapshot(taken_on=dt.date(2026, 3, 2))
        assert ForecastSnapshot.objects.get().weighted_amount == Decimal("1000")
        pipeline.probability_source = "empirical"
        pipeline.save()
        assert winrates.empirical_stage_rates(on=dt.date(2026, 3, 2)) == {qualification.pk: 80}
        services.take_snapshot(taken_on=dt.date(2026, 3, 2))
        assert ForecastSnapshot.objects.get().weighted_amount == Decimal("8000")


def test_what_changed_details_hand_computed(moves, manager, rep, rep2):
    """X went up by 2,000; nothing went down; Y (pushed out) changed hands after 8 Mar."""
    with at(10):
        y = selectors.changed_deals(
            ForecastScope(user=manager, period=Period.parse("2026-03")),
            dt.date(2026, 3, 1), dt.date(2026, 3, 8), "pushed_out",
        ).get()  # fmt: skip
        deals.update_opportunity(opportunity=y, by=manager, version=y.version, owner=rep2)
    with at(20):
        scope = ForecastScope(user=manager, period=Period.parse("2026-03"))
        for end in (dt.date(2026, 3, 8), dt.date(2026, 3, 20)):
            _, details = selectors.changes(scope, dt.date(2026, 3, 1), end)
            got = {d["key"]: (d["count"], d["delta"]) for d in details}
            moved = (1, Decimal("5000")) if end.day == 20 else (0, Decimal("0"))
            assert got == {
                "amount_up": (1, Decimal("2000")),
                "amount_down": (0, Decimal("0")),
                "reassigned": moved,
            }, end
        behind = selectors.changed_deals(
            scope, dt.date(2026, 3, 1), dt.date(2026, 3, 20), "reassigned"
        )
        names = [d.name for d in behind]
    assert names == ["Y"]


@pytest.mark.parametrize("start_day", [1, 2])  # one week, and a longer range: same budget
def test_what_changed_page_query_budget(
    moves, manager, client, django_assert_max_num_queries, start_day
):
    client.force_login(manager)
    with at(20):
        params = {"period": "2026-03", "start": f"2026-03-0{start_day}", "end": "2026-03-08"}
        # 11, plus the exchange rates of the two days the states are read at.
        with django_assert_max_num_queries(13):
            response = client.get("/forecasting/changes/", params)
        assert response.status_code == 200
        # Each state read takes its day's exchange rates: one query per date.
        with django_assert_max_num_queries(18):
            response = client.get("/forecasting/changes/", {**params, "bar": "amount_up"})
    assert response.status_code == 200
    assert "Amount up" in response.content.decode()


def test_what_changed_counts_deals_untouched_in_the_range(moves, rep, pipeline, manager):
    """U (March) and V (May) do not change after 1 Mar: U is open at start and at end, V in
    no bar; every other bar is as before."""
    with at(1):
        for name, close in (("U", dt.date(2026, 3, 12)), ("V", dt.date(2026, 5, 12))):
            OpportunityFactory(owner=rep, pipeline=pipeline, name=name,
                               amount=Decimal("1000"), expected_close_date=close)  # fmt: skip
    with at(20):
        scope = ForecastScope(user=manager, period=Period.parse("2026-03"))
        for end_day in (8, 20):
            bars = selectors.what_changed(scope, dt.date(2026, 3, 1), dt.date(2026, 3, end_day))
            got = {b["key"]: (b["count"], b["amount"]) for b in bars}
            assert got == {
                **EXPECTED,
                "start": (5, Decimal("27000")),
                "end": (4, Decimal("24000")),
            }
        end = selectors.changed_deals(scope, dt.date(2026, 3, 1), dt.date(2026, 3, 8), "end")
    assert sorted(d.name for d in end) == ["N", "P", "U", "X"]


def test_what_changed_computes_states_only_for_deals_in_the_period_at_some_date(
    moves, rep, pipeline, manager
):
    """W (May) changes amount on 5 Mar and is in March at no date: it falls in no bar, so
    its states are not computed; Y (March at the start, April now) is found through its
    history row, P (April at the start, March now) through its close date, Z and L through
    their closing moves; the bars are as before."""
    with at(1):
        w = OpportunityFactory(owner=rep, pipeline=pipeline, name="W", amount=Decimal("900"),
                               expected_close_date=dt.date(2026, 5, 12))  # fmt: skip
    with at(5):
        deals.update_opportunity(opportunity=w, by=rep, version=w.version, amount=Decimal("950"))
    with at(20):
        scope = ForecastScope(user=manager, period=Period.parse("2026-03"))
        for end_day in (8, 20):
            end = dt.date(2026, 3, end_day)
            found = selectors._changes_candidates(
                scope.opportunities(), scope.period.months, dt.date(2026, 3, 1), end
            )
            assert sorted(d.name for d in found) == ["L", "N", "P", "X", "Y", "Z"]
            got = {b["key"]: (b["count"], b["amount"]) for b in selectors.what_changed(
                scope, dt.date(2026, 3, 1), end)}  # fmt: skip
            assert got == EXPECTED


def test_totals_over_equals_the_orm_aggregate(moves):
    """forecasting.rowsums: the same aggregates over the same rows as QuerySet.aggregate."""
    from django.db.models import BooleanField, Count, ExpressionWrapper, F, Q, Sum, Value
    from django.db.models.functions import Coalesce

    from forecasting.rowsums import totals_over
    from pipeline.models import Opportunity

    big = Q(big=True)
    aggregates = lambda count: {  # noqa: E731
        "n": count,
        "big_amount": Coalesce(Sum("s_amount", filter=big), Value(Decimal("0"))),
        "small_amount": Sum(F("s_amount") * 2, filter=~big),
        "none": Sum("s_amount", filter=Q(s_amount__lt=0)),
    }
    rows = Opportunity.objects.annotate(
        s_amount=F("amount"),
        big=ExpressionWrapper(Q(amount__gte=7000), output_field=BooleanField()),
    )
    expected = rows.aggregate(**aggregates(Count("pk", filter=big)))
    got = totals_over(
        rows.values("s_amount", "big"),
        {"s_amount": Opportunity._meta.get_field("amount"), "big": BooleanField()},
        aggregates(Count(Value(1), filter=big)),
    )
    assert (
        got
        == expected
        == {
            "n": 3,
            "big_amount": Decimal("27000"),
            "small_amount": Decimal("24000"),
            "none": None,
        }
    )


def test_figures_by_owner_and_month_equal_the_plain_grouped_aggregate(
    moves, rep, manager, lost_reason
):
    """The dashboard's live figures (one query grouped by owner and month) read the period's
    deals through their stored dates and sum each deal's state once (forecasting.rowsums):
    the same figures as the ORM's grouped
    aggregate of the period filter alone, for deals whose closed date and expected close date
    fall in different months, and for a closed deal without a closed date."""
    from forecasting.aggregates import figures_from_row, snapshot_aggregates
    from forecasting.scope import scoped_deals
    from pipeline.models import Opportunity

    with at(9):
        early = OpportunityFactory(owner=rep, name="E", amount=Decimal("900"),
                                   expected_close_date=dt.date(2026, 6, 30))  # fmt: skip
        deals.close_won(opportunity=early, version=current_version(early), by=rep)
        OpportunityFactory(owner=rep, name="O", amount=Decimal("2500"),
                           expected_close_date=dt.date(2026, 2, 27))  # fmt: skip
        undated = OpportunityFactory(owner=rep, name="U", amount=Decimal("1100"),
                                     expected_close_date=dt.date(2026, 4, 2))  # fmt: skip
        deals.close_lost(opportunity=undated, version=current_version(undated), by=rep,
                         lost_reason=lost_reason)  # fmt: skip
        Opportunity.objects.filter(pk=undated.pk).update(closed_on=None)
        months = [dt.date(2026, m, 1) for m in range(1, 13)]
        scope = ForecastScope(user=manager, period=Period.parse("2026-Q1"))

        def plain(key, period_months):
            rows = (
                scoped_deals(scope)
                .filter(s_period__gte=period_months[0], s_period__lte=period_months[-1])
                .values(key)
                .annotate(**snapshot_aggregates())
                .order_by()
            )
            return {r[key]: vars(figures_from_row(r)) for r in rows}

        owners, monthly = selectors.figures_by_owner_and_month(scope, months)
        by_month = {m: vars(f) for m, f in monthly.items()}
        assert by_month == plain("s_period", months)
        # March holds the won Z (closed 6 Mar) and E (closed 9 Mar, expected in June), the
        # lost L; February the overdue O; April the lost U, which has no closed date.
        assert by_month[dt.date(2026, 3, 1)]["won"] == Decimal("8900")
        assert by_month[dt.date(2026, 2, 1)]["open"] == Decimal("2500")
        assert by_month[dt.date(2026, 4, 1)]["lost_count"] == 1
        by_owner = {o: vars(f) for o, f in owners.items()}
        assert by_owner == plain("s_owner", scope.period.months)
        assert by_owner[rep.pk]["won"] == Decimal("8900")


def test_grouped_totals_over_equals_the_orm_grouped_aggregate(moves):
    from django.db.models import Count, DateField, F, Sum, Value

    from forecasting.rowsums import grouped_totals_over
    from pipeline.models import Opportunity

    rows = Opportunity.objects.annotate(s_amount=F("amount"), s_close=F("expected_close_date"))
    expected = {
        (r["s_close"],): {"n": r["n"], "total": r["total"]}
        for r in rows.values("s_close").annotate(n=Count("pk"), total=Sum("s_amount")).order_by()
    }
    got = grouped_totals_over(
        rows.values("s_close", "s_amount"),
        {"s_close": DateField(), "s_amount": Opportunity._meta.get_field("amount")},
        {"n": Count(Value(1)), "total": Sum("s_amount")},
        group=("s_close",),
    )
    assert got == expected
    assert got[(dt.date(2026, 3, 29),)] == {"n": 1, "total": Decimal("7000")}
    assert all(isinstance(key[0], dt.date) for key in got)


def test_first_values_equal_min_and_max(moves, rep):
    from django.db.models import Max, Min

    from forecasting.rowsums import first_values
    from pipeline.models import Opportunity

    mine = Opportunity.objects.filter(owner=rep)
    got = first_values(
        first=mine.order_by("expected_close_date").values_list("expected_close_date"),
        last=mine.order_by("-created_at").values_list("created_at"),
        none=mine.filter(amount__lt=0).order_by("amount").values_list("amount"),
    )
    expected = mine.aggregate(first=Min("expected_close_date"), last=Max("created_at"))
    assert got == {**expected, "none": None}
    assert got["first"] == dt.date(2026, 3, 15)
