from decimal import Decimal

from pipeline import expressions, services
from pipeline.models import Opportunity
from tests.factories import OpportunityFactory, current_version, stage


def _annotated(pk):
    return Opportunity.objects.annotate(
        p=expressions.effective_probability(),
        w=expressions.weighted_amount(),
        c=expressions.effective_forecast_category(),
        d=expressions.period_date(),
    ).get(pk=pk)


def test_expressions_match_model_properties_for_open_won_and_lost(rep, pipeline, lost_reason):
    open_deal = OpportunityFactory(owner=rep, pipeline=pipeline, amount=Decimal("12345.67"))
    overridden = OpportunityFactory(owner=rep, pipeline=pipeline, amount=Decimal("1000"))
    overridden = services.update_opportunity(
        opportunity=overridden, by=rep, version=1, probability=33, forecast_category="commit"
    )
    won = OpportunityFactory(owner=rep, pipeline=pipeline, amount=Decimal("500"))
    won = services.close_won(opportunity=won, version=current_version(won), by=rep)
    lost = OpportunityFactory(owner=rep, pipeline=pipeline, amount=Decimal("700"))
    lost = services.close_lost(
        opportunity=lost, version=current_version(lost), by=rep, lost_reason=lost_reason
    )
    for deal in (open_deal, overridden, won, lost):
        row = _annotated(deal.pk)
        fresh = Opportunity.objects.select_related("stage").get(pk=deal.pk)
        assert row.p == fresh.effective_probability
        assert Decimal(row.w).quantize(Decimal("0.01")) == fresh.weighted_amount
        assert row.c == fresh.effective_forecast_category
    assert _annotated(open_deal.pk).d == open_deal.expected_close_date
    assert _annotated(won.pk).d == won.closed_on
    assert _annotated(overridden.pk).p == 33
    assert _annotated(won.pk).p == 100 and _annotated(lost.pk).p == 0
    assert stage(pipeline, "Qualification").probability == 10


def test_weighted_amount_of_whole_number_amounts_is_exact(rep, pipeline):
    # 1 × 10 % and 10,001 × 10 % must not be integer-divided (SQLite stores whole numbers as
    # integers).
    small = OpportunityFactory(owner=rep, pipeline=pipeline, amount=Decimal("1"))
    odd = OpportunityFactory(owner=rep, pipeline=pipeline, amount=Decimal("10001"))
    assert Decimal(_annotated(small.pk).w).quantize(Decimal("0.01")) == Decimal("0.10")
    assert Decimal(_annotated(odd.pk).w).quantize(Decimal("0.01")) == Decimal("1000.10")


def test_month_start_is_the_first_day_of_the_dates_month(rep, pipeline):
    """MonthStart: the month of a date as a date, on either database, across year ends, leap
    days and the last and first days of months; the same as Django's TruncMonth."""
    import datetime as dt

    from django.db.models.functions import TruncMonth

    days = [dt.date(2023, 12, 31), dt.date(2024, 1, 1), dt.date(2024, 2, 29),
            dt.date(2026, 3, 31), dt.date(2026, 11, 15)]  # fmt: skip
    for day in days:
        OpportunityFactory(owner=rep, pipeline=pipeline, expected_close_date=day)
    rows = Opportunity.objects.annotate(
        m=expressions.MonthStart("expected_close_date"), t=TruncMonth("expected_close_date")
    ).values_list("expected_close_date", "m", "t")
    assert sorted(rows) == [(day, day.replace(day=1), day.replace(day=1)) for day in days]
