import datetime as dt
import hashlib
import re

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count

from accounts.models import Team, User
from pipeline import demo
from pipeline.models import Activity, Lead, Opportunity, Pipeline, StageTransition

TODAY = dt.date(2026, 11, 27)


def _digest() -> str:
    rows = Opportunity.objects.order_by("id").values_list(
        "name", "owner__username", "stage__name", "company__name", "contact__email", "amount",
        "expected_close_date", "closed_on", "created_at", "stage_entered_at", "forecast_category",
        "lost_reason__name", "currency",
    )  # fmt: skip
    transitions = StageTransition.objects.order_by("id").values_list(
        "opportunity__name", "from_stage__name", "to_stage__name", "changed_at", "amount"
    )
    leads = Lead.objects.order_by("id").values_list("first_name", "status", "owner__username")
    acts = Activity.objects.order_by("id").values_list("kind", "subject", "occurred_at", "due_on")
    h = hashlib.sha256()
    for qs in (rows, transitions, leads, acts):
        for row in qs:
            h.update(repr(row).encode())
    return h.hexdigest()


def _wipe():
    for model in (Activity, Lead, StageTransition, Opportunity.history.model, Opportunity):
        model.objects.all().delete()
    from pipeline.models import Company, Contact, LostReason

    for model in (Contact, Company, Pipeline, LostReason):
        model.objects.all().delete()
    Team.objects.update(manager=None)
    User.objects.all().delete()
    Team.objects.all().delete()


@pytest.mark.django_db
def test_seed_demo_same_seed_gives_same_data():
    demo.seed(opportunities=150, seed=7, today=TODAY)
    first = _digest()
    _wipe()
    demo.seed(opportunities=150, seed=7, today=TODAY)
    assert _digest() == first
    _wipe()
    demo.seed(opportunities=150, seed=8, today=TODAY)
    assert _digest() != first


@pytest.mark.django_db
def test_seed_demo_builds_the_promised_world():
    counts = demo.seed(opportunities=400, seed=1, today=TODAY)
    assert counts["opportunity"] == 400
    assert Team.objects.count() == 3
    assert all(t.manager and t.manager.role == "manager" for t in Team.objects.all())
    assert User.objects.filter(role="rep").count() == 12
    assert User.objects.get(username="admin").role == "admin"
    assert User.objects.get(username="rep1").check_password(demo.DEMO_PASSWORD)
    assert set(Pipeline.objects.values_list("name", flat=True)) == {"New business", "Renewals"}
    assert set(Lead.objects.values_list("status", flat=True)) == set(Lead.Status.values)
    kinds = dict(Opportunity.objects.values_list("stage__kind").annotate(n=Count("id")).order_by())
    assert kinds["open"] > 40 and kinds["won"] > 40 and kinds["lost"] > 40
    # Every deal has a creation transition and its stage is the last one entered.
    assert StageTransition.objects.filter(from_stage__isnull=True).count() == 400
    for opp in Opportunity.objects.select_related("stage")[:100]:
        last = opp.transitions.order_by("-changed_at", "-id").first()
        assert last.to_stage_id == opp.stage_id
        assert last.changed_at == opp.stage_entered_at
        assert opp.history.exists()
        if opp.stage.kind == "open":
            assert opp.closed_on is None
        else:
            assert opp.closed_on is not None
    # History spans at least 24 months; open close dates span the next six months.
    first = StageTransition.objects.order_by("changed_at").first().changed_at.date()
    assert (TODAY - first).days >= 731
    closed = Opportunity.objects.filter(closed_on__lt=TODAY - dt.timedelta(days=550))
    assert closed.filter(stage__kind="won").exists() and closed.filter(stage__kind="lost").exists()
    latest_open = Opportunity.objects.open().order_by("-expected_close_date").first()
    assert 120 < (latest_open.expected_close_date - TODAY).days <= 183
    assert Activity.objects.open_tasks().exists()
    # Deals in a stage that needs a decision maker have one.
    for opp in Opportunity.objects.filter(stage__name="Negotiation").select_related("contact"):
        assert opp.contact.is_decision_maker


@pytest.mark.django_db
def test_seed_demo_refuses_a_database_with_data_and_if_empty_skips(capsys):
    call_command("seed_demo", opportunities=20, seed=1, today=TODAY, snapshots=False)
    with pytest.raises(CommandError, match="already has users"):
        call_command("seed_demo", opportunities=20, seed=1)
    call_command("seed_demo", opportunities=20, seed=1, if_empty=True)
    assert "already loaded" in capsys.readouterr().out
    assert Opportunity.objects.count() == 20


@pytest.mark.django_db
def test_seeded_ids_continue_after_seed_so_services_can_create():
    demo.seed(opportunities=30, seed=3, today=TODAY)
    from pipeline import services

    rep = User.objects.get(username="rep1")
    company = services.create_company(by=rep, name="After seed Ltd")
    deal = services.create_opportunity(
        by=rep, name="New", company=company, pipeline=Pipeline.objects.first(),
        amount="100", expected_close_date=TODAY,
    )  # fmt: skip
    assert deal.pk > 30
    assert deal.transitions.count() == 1


@pytest.mark.django_db
def test_seed_demo_back_fills_weekly_snapshots_and_quotas(capsys):
    from forecasting.models import ForecastSnapshot, Quota

    today = dt.date.today()
    call_command("seed_demo", opportunities=60, seed=2)
    dates = sorted(set(ForecastSnapshot.objects.values_list("taken_on", flat=True)))
    # A long load is never a silent one: rows per table, then snapshot dates with an estimate.
    out = capsys.readouterr().out
    assert "wrote 60 opportunities" in out
    total = re.search(r"snapshot 1/(\d+) \(\d{4}-\d\d-\d\d\), about \d+s left", out)
    assert total and int(total.group(1)) >= len(dates)
    assert f"snapshot {total.group(1)}/{total.group(1)} ({today}), about 0s left" in out
    assert dates[-1] == today
    # Each month's first day over the 24 months; weekly over the last 18.
    assert (dates[-1] - dates[0]).days >= 730
    firsts = {d for d in dates if d.day == 1}
    assert len(firsts) >= 24
    recent = [d for d in dates if (today - d).days <= 540]
    assert all((b - a).days <= 7 for a, b in zip(recent, recent[1:], strict=False))
    assert len(dates) <= 110
    rep1 = User.objects.get(username="rep1")
    months = Quota.objects.filter(user=rep1).values_list("month", flat=True)
    assert len(months) == 31 and all(m.day == 1 for m in months)


@pytest.mark.django_db
def test_seed_demo_transitions_know_when_each_stage_was_left():
    demo.seed(opportunities=80, seed=4, today=TODAY)
    for opp in Opportunity.objects.all()[:40]:
        stays = list(opp.transitions.order_by("changed_at", "id"))
        for stay, nxt in zip(stays, stays[1:], strict=False):
            assert (stay.left_at, stay.next_stage_id) == (nxt.changed_at, nxt.to_stage_id)
        assert stays[-1].left_at is None and stays[-1].next_stage_id is None


@pytest.mark.django_db
def test_seed_demo_offers_a_product_catalogue_a_rep_can_sell_from(settings):
    """The demo's catalogue is priced in the installation's currency (and two others), and a
    line item on a seeded deal starts from the list price in the deal's currency."""
    from decimal import Decimal

    from pipeline import services
    from pipeline.demo_catalogue import DEMO_CATALOGUE
    from pipeline.models import Product

    demo.seed(opportunities=30, seed=1, today=TODAY)
    assert Product.objects.count() == len(DEMO_CATALOGUE)
    product = Product.objects.get(code="SVC-ONB")
    assert (settings.OPPORTUNE_CURRENCY, Decimal("2300.00")) in list(
        product.prices.values_list("currency", "unit_price")
    )
    assert product.prices.count() == 3
    deal = (
        Opportunity.objects.filter(stage__kind="open", currency=settings.OPPORTUNE_CURRENCY)
        .order_by("id")
        .first()
    )
    lines = sum(deal.line_items.values_list("total", flat=True), Decimal(0))
    services.add_line_item(opportunity=deal, by=deal.owner, version=deal.version, product=product)
    deal.refresh_from_db()
    assert deal.amount == lines + Decimal("2300.00")


@pytest.mark.django_db
def test_seed_demo_sells_from_the_catalogue_in_three_currencies(settings):
    """Most seeded deals have line items whose sum is the amount; a minority of recent deals
    are in the two other currencies, and every one of them has a rate for every day it
    existed, so nothing in the demo warns of a missing rate."""
    from django.db.models import Count, Min, Sum
    from django.utils import timezone

    from pipeline import conversion
    from pipeline.demo_catalogue import RATE_DAYS
    from pipeline.models import ExchangeRate, LineItem

    demo.seed(opportunities=400, seed=3, today=TODAY)
    deals = Opportunity.objects.annotate(n=Count("line_items"), s=Sum("line_items__total"))
    with_lines = deals.filter(n__gt=0)
    assert with_lines.count() > 0.6 * 400
    assert all(d.s == d.amount for d in with_lines)
    by_currency = dict(
        Opportunity.objects.values_list("currency").annotate(n=Count("pk")).order_by()
    )
    assert set(by_currency) == {"USD", "EUR", "GBP"}
    assert 0 < by_currency["EUR"] + by_currency["GBP"] < 0.2 * 400
    assert ExchangeRate.objects.filter(currency="EUR").count() == RATE_DAYS
    # Rates cover the whole history: a snapshot or report of any seeded date converts.
    first_rate = ExchangeRate.objects.aggregate(d=Min("on_date"))["d"]
    first_deal = Opportunity.objects.aggregate(d=Min("created_at"))["d"]
    assert first_rate <= timezone.localdate(first_deal)
    assert conversion.missing_rates(Opportunity.objects.all(), on=TODAY) == []
    line = LineItem.objects.filter(opportunity__currency="EUR").select_related("product").first()
    assert line.unit_price == line.product.prices.get(currency="EUR").unit_price


@pytest.mark.django_db
def test_seed_demo_close_pushes_are_what_the_field_history_says():
    """The seeded deals' pushes (written in bulk beside their history rows) equal the recount
    from the history, and some deals were pushed."""
    from django.db import connection

    from pipeline.services.close_pushes import recount_close_pushes

    demo.seed(opportunities=120, seed=4, today=TODAY)
    fields = ("pk", "close_pushes", "close_pushed_days")
    seeded = set(Opportunity.objects.values_list(*fields))
    recount_close_pushes(connection)
    assert set(Opportunity.objects.values_list(*fields)) == seeded
    assert Opportunity.objects.filter(close_pushes__gt=0).count() > 10


@pytest.mark.django_db
def test_a_morning_seed_dates_nothing_after_now():
    """The demo's day ends at noon, or at the moment it is seeded when that is earlier: a
    seed at 9 a.m. shows no call, move or lead "in 2 hours"."""
    import time_machine
    from django.utils import timezone

    morning = timezone.make_aware(dt.datetime(2026, 11, 27, 9, 0))
    with time_machine.travel(morning, tick=False):
        assert demo.DemoBuilder(opportunities=1, seed=3).now == morning
        demo.seed(opportunities=150, seed=3)
    assert not Activity.objects.filter(occurred_at__gt=morning).exists()
    assert not StageTransition.objects.filter(changed_at__gt=morning).exists()
    assert not Lead.objects.filter(created_at__gt=morning).exists()
    assert not Opportunity.objects.filter(created_at__gt=morning).exists()
    # A past day's demo (a fixed date) still ends at that day's noon.
    noon = timezone.make_aware(dt.datetime(2026, 11, 26, 12, 0))
    assert demo.DemoBuilder(opportunities=1, seed=3, today=noon.date()).now == noon
