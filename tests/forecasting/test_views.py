import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import User
from forecasting import services
from forecasting.models import ForecastAdjustment, Quota
from tests.factories import OpportunityFactory
from tests.forecasting.conftest import MARCH, TODAY

PAGES = ["dashboard", "deals", "changes", "accuracy", "quotas", "calibration", "adjust"]


def get(client, user, name, **params):
    client.force_login(user)
    return client.get(reverse(f"forecasting:{name}"), params)


@pytest.mark.parametrize("name", PAGES)
def test_pages_need_login(client, db, name):
    response = client.get(reverse(f"forecasting:{name}"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("rep", {"dashboard": 200, "deals": 200, "changes": 200, "accuracy": 200, "quotas": 200,
                 "calibration": 403, "adjust": 403}),
        ("manager", {"dashboard": 200, "deals": 200, "changes": 200, "accuracy": 200,
                     "quotas": 200, "calibration": 403, "adjust": 200}),
        ("admin_user", {"dashboard": 200, "deals": 200, "changes": 200, "accuracy": 200,
                        "quotas": 200, "calibration": 200, "adjust": 200}),
    ],
)  # fmt: skip
def test_pages_permissions_per_role(client, book, request, rep, who, expected):
    user = request.getfixturevalue(who)
    for name, status in expected.items():
        params = {"rep": rep.pk, "period": "2026-03"} if name == "adjust" else {}
        assert get(client, user, name, **params).status_code == status, name


def test_dashboard_figures_for_manager(client, book, manager, rep):
    Quota.objects.create(user=rep, month=MARCH, amount=Decimal("16000"))
    response = get(client, manager, "dashboard", period="2026-03")
    board = response.context["board"]
    t = board.total
    assert t.won == Decimal("8000")
    assert t.commit_forecast == Decimal("28000")
    assert t.best_case_forecast == Decimal("33000")
    assert t.weighted_forecast == Decimal("8000") + Decimal("18500") + Decimal("12000")
    assert t.quota == Decimal("16000")
    assert t.attainment == Decimal("50")
    assert t.gap == Decimal("8000")
    assert t.coverage == Decimal("75000") / Decimal("8000")
    rows = {r.rep.username: r.figures for r in board.rows}
    assert rows["rep"].weighted_forecast == Decimal("26500")
    assert rows["rep2"].open == Decimal("40000")
    assert b"$26,500" in response.content


def test_dashboard_rep_sees_only_own_numbers(client, book, rep, rep2):
    response = get(client, rep, "dashboard", period="2026-03", rep=rep2.pk)
    assert response.status_code == 200
    assert "rep" in response.context["form"].errors  # not a choice for this rep
    board = response.context["board"]
    assert [r.rep for r in board.rows] == [rep]
    assert board.total.open == Decimal("35000")
    assert b"40,000" not in response.content


def test_dashboard_outsider_sees_nothing_of_the_team(client, book, outsider):
    board = get(client, outsider, "dashboard", period="2026-03").context["board"]
    assert board.total.won == 0 and board.total.open == 0


def test_deals_list_matches_the_tile(client, book, manager):
    response = get(client, manager, "deals", period="2026-03", metric="commit_forecast")
    totals = response.context["totals"]
    assert totals["count"] == 2 and totals["amount"] == Decimal("28000")
    names = {d.name for d in response.context["page"].object_list}
    assert names == {book["B"].name, book["D"].name}


def test_deals_unknown_metric_is_404(client, book, manager):
    assert get(client, manager, "deals", metric="nope").status_code == 404


def test_bad_period_shows_message_and_keeps_default(client, book, manager):
    response = get(client, manager, "dashboard", period="2026-13")
    assert response.status_code == 200
    assert "period" in response.context["form"].errors
    assert response.context["scope"].period.param == "2026-Q1"


def test_dashboard_query_budget_does_not_grow(client, frozen, manager, rep, pipeline,
                                              django_assert_max_num_queries):  # fmt: skip
    def load():
        services.take_snapshot(taken_on=TODAY)
        client.force_login(manager)
        # 17 (the figures per rep and per month are one query), plus whether the current
        # quarter has deals and the period menu's first day, plus today's exchange rates and
        # the missing-rate check (pipeline.conversion). And the pipelines' probability
        # sources, to say which one weighted the figures.
        with django_assert_max_num_queries(22):
            assert client.get(reverse("forecasting:dashboard")).status_code == 200
        with django_assert_max_num_queries(10):
            assert client.get(reverse("forecasting:deals")).status_code == 200

    for _ in range(10):
        OpportunityFactory(owner=rep, pipeline=pipeline, expected_close_date=TODAY)
    load()
    for _ in range(200):
        OpportunityFactory(owner=rep, pipeline=pipeline, expected_close_date=TODAY)
    load()


def test_adjustment_by_manager_is_shown_beside_the_figure(client, book, manager, rep):
    client.force_login(manager)
    url = reverse("forecasting:adjust") + f"?rep={rep.pk}&period=2026-03"
    response = client.post(url, {"amount": "30000", "note": "B slips to April", "next": "/x"})
    assert response.status_code == 302
    adj = ForecastAdjustment.objects.get(user=rep)
    assert (adj.amount, adj.period, adj.author) == (Decimal("30000"), MARCH, manager)
    board = get(client, manager, "dashboard", period="2026-03").context["board"]
    row = next(r for r in board.rows if r.rep == rep)
    assert row.adjustment == adj and row.figures.weighted_forecast == Decimal("26500")


def test_adjustment_bad_amount_writes_nothing(client, book, manager, rep):
    client.force_login(manager)
    url = reverse("forecasting:adjust") + f"?rep={rep.pk}&period=2026-03"
    response = client.post(url, {"amount": "-5", "note": "x"})
    assert response.status_code == 400
    assert not ForecastAdjustment.objects.exists()


def test_manager_cannot_adjust_another_team(client, book, manager, outsider):
    client.force_login(manager)
    url = reverse("forecasting:adjust") + f"?rep={outsider.pk}&period=2026-03"
    assert client.post(url, {"amount": "1"}).status_code == 404


def test_quotas_grid_saves_and_rejects_bad_input(client, book, manager, rep, team):
    client.force_login(manager)
    url = reverse("forecasting:quotas") + "?year=2026"
    bad = client.post(url, {f"q-u{rep.pk}-03": "12,000", f"q-t{team.pk}-03": "abc"})
    assert bad.status_code == 400 and not Quota.objects.exists()
    assert "12,000" in bad.content.decode()
    ok = client.post(url, {f"q-u{rep.pk}-03": "12,000", f"q-t{team.pk}-04": "50000"})
    assert ok.status_code == 302
    assert Quota.objects.get(user=rep).amount == Decimal("12000")
    assert Quota.objects.get(team=team, month=dt.date(2026, 4, 1)).amount == Decimal("50000")


def test_rep_cannot_post_quotas(client, book, rep):
    client.force_login(rep)
    response = client.post(reverse("forecasting:quotas"), {f"q-u{rep.pk}-03": "1"})
    assert response.status_code == 403 and not Quota.objects.exists()


def test_rep_dashboard_quota_is_their_own_not_the_team_sum(client, book, rep, rep2):
    Quota.objects.create(user=rep, month=MARCH, amount=Decimal("16000"))
    Quota.objects.create(user=rep2, month=MARCH, amount=Decimal("90000"))
    board = get(client, rep, "dashboard", period="2026-03").context["board"]
    assert board.total.quota == Decimal("16000")
    assert board.months[2]["figures"].quota == Decimal("16000")
    assert board.team_adjustments == []
    response = get(client, rep, "dashboard", period="2026-03")
    assert b'name="rep"' not in response.content  # no people filters for a rep


def test_team_quota_replaces_members_sum_for_the_manager(client, book, manager, rep, rep2, team):
    Quota.objects.create(user=rep, month=MARCH, amount=Decimal("16000"))
    Quota.objects.create(user=rep2, month=MARCH, amount=Decimal("4000"))
    board = get(client, manager, "dashboard", period="2026-03").context["board"]
    assert board.total.quota == Decimal("20000")
    Quota.objects.create(team=team, month=MARCH, amount=Decimal("50000"))
    board = get(client, manager, "dashboard", period="2026-03").context["board"]
    assert board.total.quota == Decimal("50000")
    assert board.total.attainment == Decimal("16")  # 8,000 ÷ 50,000


@pytest.mark.parametrize(
    "model", ["quota", "forecastadjustment", "forecastsnapshot", "forecastrange"]
)
def test_admin_lists_forecasting_models(client, book, admin_user, model):
    services.take_snapshot(taken_on=TODAY)
    admin_user.is_staff = True
    admin_user.save()
    client.force_login(admin_user)
    assert client.get(reverse(f"admin:forecasting_{model}_changelist")).status_code == 200


def test_admin_nightly_schedule_is_listed(client, db, admin_user):
    admin_user.is_staff = True
    admin_user.save()
    client.force_login(admin_user)
    response = client.get(reverse("admin:django_celery_beat_periodictask_changelist"))
    assert b"Nightly forecast snapshot" in response.content


def test_other_pages_query_budgets_do_not_grow(client, frozen, manager, rep, pipeline,
                                               django_assert_max_num_queries):  # fmt: skip
    # Accuracy: the first day for its years, and (no snapshot on a month's first day in the
    # last 12 months) the latest month that has one; what changed and accuracy read the
    # exchange rates they convert with.
    budgets = {"changes": 18, "accuracy": 19, "quotas": 8, "calibration": 6}
    admin = User.objects.create(username="boss", role="admin")

    def load():
        services.take_snapshot(taken_on=TODAY)
        for name, budget in budgets.items():
            client.force_login(admin if name == "calibration" else manager)
            params = {"bar": "end"} if name == "changes" else {}
            url = reverse(f"forecasting:{name}")
            with django_assert_max_num_queries(budget):
                assert client.get(url, params).status_code == 200

    for _ in range(10):
        OpportunityFactory(owner=rep, pipeline=pipeline, expected_close_date=TODAY)
    load()
    for _ in range(200):
        OpportunityFactory(owner=rep, pipeline=pipeline, expected_close_date=TODAY)
    load()


@pytest.mark.parametrize(
    ("period", "open_count"),
    [("2026-Q1", 4), ("2026-03", 4), ("2026-Q2", 1), ("2026-04", 1)],
)
def test_dashboard_shows_the_range_of_this_and_next_quarter(
    client, book, manager, period, open_count
):
    """The nightly snapshot simulates the current quarter and the next: a manager preparing
    the call near the end of Q1 sees Q2's range too."""
    services.take_snapshot(taken_on=TODAY)
    response = get(client, manager, "dashboard", period=period)
    r = response.context["board"].range
    assert r is not None and r.open_count == open_count
    body = response.content.decode()
    assert "Low case · P10 <strong" in body and "High case · P90 <strong" in body
    assert f"{r.open_count} open deal" in body


def test_dashboard_gives_the_chance_to_reach_quota_as_a_percentage(client, book, rep):
    Quota.objects.create(user=rep, month=MARCH, amount=Decimal("20000"))
    services.take_snapshot(taken_on=TODAY)
    response = get(client, rep, "dashboard", period="2026-03")
    chance = response.context["board"].range.chance_to_reach_quota
    assert 0 < chance < 1
    shown = f'chance to reach quota <strong class="num">{round(chance * 100)}%</strong>'
    assert shown in response.content.decode()


def test_dashboard_range_beyond_next_quarter_says_why_it_is_missing(client, book, manager):
    services.take_snapshot(taken_on=TODAY)
    response = get(client, manager, "dashboard", period="2026-Q3")
    assert response.context["board"].range is None
    assert "current and the next quarter" in response.content.decode()
