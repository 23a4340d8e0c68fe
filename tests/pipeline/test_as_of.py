"""The board and the deal list as of a past day (``?as_of=``), on a hand-built history: each
deal where it stood then, the same figures as the forecast snapshot of that day, read-only,
the change since when compared with today, only deals the viewer may see, and bad dates
refused with a message."""

import datetime as dt
import re
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from forecasting import services as forecasts
from forecasting.models import ForecastSnapshot
from pipeline import services as deals
from pipeline.models import Opportunity
from pipeline.selectors.as_of import board_as_of, parse_as_of
from pipeline.selectors.paging import BoundedPaginator
from tests.factories import LostReasonFactory, OpportunityFactory, current_version, stage

DAY = dt.date(2026, 2, 20)  # the day looked back to
NOW = dt.date(2026, 3, 10)  # "today" in these tests
BOARD = reverse("pipeline:board")
LIST = reverse("pipeline:opportunity_list")


def at(day, hour=12):
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=dt.UTC)


def _move(deal, to, by):
    return deals.move_opportunity(
        opportunity=deal, to_stage=to, by=by, version=current_version(deal)
    )


def _edit(deal, by, **changes):
    return deals.update_opportunity(
        opportunity=deal, by=by, version=current_version(deal), **changes
    )


@pytest.fixture
def history(rep, rep2, manager, outsider, pipeline):
    """(all at noon UTC)

    A  5 Jan rep, Qualification, 10,000, closing 31 Mar; 20 Jan Proposal; 3 Feb 15,000
       closing 30 Apr; 17 Feb reassigned to rep2; 9 Mar won.
    B  10 Jan rep2, 5,000 closing 28 Feb; 1 Feb lost.
    D  6 Jan outsider (the other team), 3,000 closing 31 Mar.
    E  12 Jan rep, 8,000 closing 15 Mar; 25 Jan Discovery; 1 Mar 9,000 closing 15 Apr.
    F  15 Jan rep2, 4,000 closing 31 May; 5 Mar reassigned to rep.
    C  25 Feb rep, 7,000 (created after the day looked back to).

    At the end of 20 Feb: A open in Proposal 15,000 (rep2), D open in Qualification 3,000,
    E open in Discovery 8,000 (rep), F open in Qualification 4,000 (rep2); B lost; no C.
    """
    qual, disc, prop = (stage(pipeline, n) for n in ("Qualification", "Discovery", "Proposal"))
    made = {}
    with time_machine.travel(at(dt.date(2026, 1, 5)), tick=False) as clock:

        def create(key, owner, amount, close, name=None):
            made[key] = OpportunityFactory(
                owner=owner,
                pipeline=pipeline,
                name=name or f"Deal {key}",
                amount=Decimal(amount),
                expected_close_date=close,
            )

        create("A", rep, "10000", dt.date(2026, 3, 31))
        clock.move_to(at(dt.date(2026, 1, 6)))
        create("D", outsider, "3000", dt.date(2026, 3, 31))
        clock.move_to(at(dt.date(2026, 1, 10)))
        create("B", rep2, "5000", dt.date(2026, 2, 28))
        clock.move_to(at(dt.date(2026, 1, 12)))
        create("E", rep, "8000", dt.date(2026, 3, 15), name="<b>E</b> & co")
        clock.move_to(at(dt.date(2026, 1, 15)))
        create("F", rep2, "4000", dt.date(2026, 5, 31))
        clock.move_to(at(dt.date(2026, 1, 20)))
        made["A"] = _move(made["A"], prop, rep)
        clock.move_to(at(dt.date(2026, 1, 25)))
        made["E"] = _move(made["E"], disc, rep)
        clock.move_to(at(dt.date(2026, 2, 1)))
        made["B"] = deals.close_lost(
            opportunity=made["B"],
            by=rep2,
            lost_reason=LostReasonFactory(name="Price"),
            version=current_version(made["B"]),
        )
        clock.move_to(at(dt.date(2026, 2, 3)))
        made["A"] = _edit(
            made["A"], rep, amount=Decimal("15000"), expected_close_date=dt.date(2026, 4, 30)
        )
        clock.move_to(at(dt.date(2026, 2, 17)))
        made["A"] = _edit(made["A"], manager, owner=rep2)
        clock.move_to(at(dt.date(2026, 2, 25)))
        create("C", rep, "7000", dt.date(2026, 4, 30))
        clock.move_to(at(dt.date(2026, 3, 1)))
        made["E"] = _edit(
            made["E"], rep, amount=Decimal("9000"), expected_close_date=dt.date(2026, 4, 15)
        )
        clock.move_to(at(dt.date(2026, 3, 5)))
        made["F"] = _edit(made["F"], manager, owner=rep)
        clock.move_to(at(dt.date(2026, 3, 9)))
        made["A"] = deals.close_won(
            opportunity=made["A"], by=rep2, version=current_version(made["A"])
        )
        clock.move_to(at(NOW))
        yield made


def _get(client, user, url, **params):
    client.force_login(user)
    return client.get(url, params)


def _cards(html: str) -> dict[str, str]:
    """Each card's deal id and its HTML."""
    parts = html.split('<li class="card card-as-of')[1:]
    return {re.search(r'id="card-(\d+)"', part).group(1): part for part in parts}


def _card_ids(html: str) -> set[int]:
    return {int(pk) for pk in re.findall(r'class="card card-as-of[^"]*" id="card-(\d+)"', html)}


def test_board_as_of_shows_each_deal_where_it_stood(client, admin_user, history, pipeline):
    r = _get(client, admin_user, BOARD, as_of=DAY.isoformat())
    assert r.status_code == 200
    html = r.content.decode()
    board = board_as_of(user=admin_user, params={}, day=DAY)
    by_stage = {c.stage.name: c for c in board.columns}
    ids = {k: d.pk for k, d in history.items()}
    assert [c["id"] for c in by_stage["Qualification"].cards] == [ids["D"], ids["F"]]
    assert [c["id"] for c in by_stage["Discovery"].cards] == [ids["E"]]
    assert [c["id"] for c in by_stage["Proposal"].cards] == [ids["A"]]
    assert by_stage["Negotiation"].cards == []
    assert (board.count, board.total) == (4, Decimal("30000"))
    # 3,000 × 10 % + 4,000 × 10 % + 8,000 × 25 % + 15,000 × 50 %
    assert board.weighted == Decimal("10200")
    a = next(c for c in by_stage["Proposal"].cards if c["id"] == ids["A"])
    assert (a["s_amount"], a["s_close"], a["owner_username"]) == (
        Decimal("15000"),
        dt.date(2026, 4, 30),
        "rep2",
    )
    assert a["days_in_stage"] == 31  # 20 Jan noon to the end of 20 Feb
    assert _card_ids(html) == {ids[k] for k in "ADEF"}
    assert 'data-as-of="2026-02-20"' in html
    assert "Feb 20, 2026" in html
    assert "$15,000" in _cards(html)[str(ids["A"])]
    # Names are escaped.
    assert "&lt;b&gt;E&lt;/b&gt; &amp; co" in html and "<b>E</b>" not in html


def test_board_as_of_is_read_only(client, admin_user, history):
    html = _get(client, admin_user, BOARD, as_of=DAY.isoformat()).content.decode()
    for writable in ("card-move", "data-move-url", "data-version", 'id="board"', "board.js"):
        assert writable not in html, writable
    assert reverse("pipeline:opportunity_create") not in html
    assert "drop-targets" not in html and "lost-dialog" not in html
    # The banner links back to today's board with the same filters.
    html = _get(client, admin_user, BOARD, as_of=DAY.isoformat(), q="Deal").content.decode()
    assert f'href="{BOARD}?q=Deal"' in html


def test_board_as_of_agrees_with_the_snapshot_of_that_day(client, admin_user, history):
    forecasts.take_snapshot(taken_on=DAY, ranges=False)
    open_rows = ForecastSnapshot.objects.filter(taken_on=DAY, open_count__gt=0)
    by_owner: dict[str, list] = {}
    for row in open_rows.select_related("owner"):
        got = by_owner.setdefault(row.owner.username, [0, Decimal("0"), Decimal("0")])
        got[0] += row.open_count
        got[1] += row.open_amount
        got[2] += row.weighted_amount
    board = board_as_of(user=admin_user, params={}, day=DAY)
    shown: dict[str, list] = {}
    for col in board.columns:
        for card in col.cards:
            got = shown.setdefault(card["owner_username"], [0, Decimal("0"), Decimal("0")])
            got[0] += 1
            got[1] += card["s_amount"]
            got[2] += card["s_amount"] * col.stage.probability / 100
    assert (
        shown
        == by_owner
        == {
            "rep2": [2, Decimal("19000"), Decimal("7900")],
            "rep": [1, Decimal("8000"), Decimal("2000")],
            "outsider": [1, Decimal("3000"), Decimal("300")],
        }
    )
    assert board.total == sum((v[1] for v in by_owner.values()), Decimal("0"))
    assert board.weighted == sum((v[2] for v in by_owner.values()), Decimal("0"))


def test_compare_with_today_shows_each_change(client, admin_user, history, pipeline):
    ids = {k: d.pk for k, d in history.items()}
    r = _get(client, admin_user, BOARD, as_of=DAY.isoformat(), compare="1")
    cards = _cards(r.content.decode())
    assert "Won since" in cards[str(ids["A"])]
    assert "Amount now $9,000" in cards[str(ids["E"])]
    assert "Closes now Apr 15, 2026" in cards[str(ids["E"])]
    assert f"Now {history['F'].owner.get_full_name()}" in cards[str(ids["F"])]
    assert "card-changes" not in cards[str(ids["D"])]  # unchanged
    board = board_as_of(user=admin_user, params={}, day=DAY, compare=True)
    by_stage = {c.stage.name: c for c in board.columns}
    assert by_stage["Qualification"].new_count == 1  # C, created on 25 Feb
    assert by_stage["Proposal"].closed_count == 1  # A, won on 9 Mar
    assert (by_stage["Qualification"].today_count, by_stage["Discovery"].today_count) == (3, 1)
    assert board.today_total == Decimal("3000") + Decimal("4000") + Decimal("7000") + Decimal(
        "9000"
    )
    # Without compare, no change is shown.
    plain = _get(client, admin_user, BOARD, as_of=DAY.isoformat()).content.decode()
    assert "card-changes" not in plain and "Compare with today" in plain


@pytest.mark.parametrize(
    ("who", "keys"),
    [("admin_user", "ADEF"), ("manager", "AEF"), ("rep", "EF"), ("rep2", "A"), ("outsider", "D")],
)
def test_only_deals_the_viewer_may_see(request, client, history, who, keys):
    user = request.getfixturevalue(who)
    html = _get(client, user, BOARD, as_of=DAY.isoformat()).content.decode()
    assert _card_ids(html) == {history[k].pk for k in keys}
    page = _get(client, user, LIST, as_of=DAY.isoformat()).content.decode()
    listed = {int(pk) for pk in re.findall(r'href="/pipeline/opportunities/(\d+)/"', page)}
    assert listed == {
        history[k].pk for k in keys + ("B" if who in ("admin_user", "manager", "rep2") else "")
    }


def test_filters_read_the_state_of_that_day(client, manager, rep2, history):
    # F is rep's today but was rep2's on the day; A was rep2's on the day.
    html = _get(client, manager, BOARD, as_of=DAY.isoformat(), owner=rep2.pk).content.decode()
    assert _card_ids(html) == {history["A"].pk, history["F"].pk}
    html = _get(client, manager, BOARD, as_of=DAY.isoformat(), amount_min="10000").content.decode()
    assert _card_ids(html) == {history["A"].pk}  # 15,000 then (won since)
    html = _get(
        client, manager, BOARD, as_of=DAY.isoformat(), close_before="2026-03-31"
    ).content.decode()
    assert _card_ids(html) == {history["E"].pk}  # closing 15 Mar then


def test_deal_list_as_of(client, admin_user, history):
    ids = {k: d.pk for k, d in history.items()}
    html = _get(client, admin_user, LIST, as_of=DAY.isoformat()).content.decode()
    order = [int(pk) for pk in re.findall(r'href="/pipeline/opportunities/(\d+)/"', html)]
    # Open then first, by their close date then (E 15 Mar, D 31 Mar, A 30 Apr, F 31 May), then B.
    assert order == [ids["E"], ids["D"], ids["A"], ids["F"], ids["B"]]
    assert "5</span> deals existed then" in html
    lost = _get(client, admin_user, LIST, as_of=DAY.isoformat(), status="lost").content.decode()
    assert [int(pk) for pk in re.findall(r'href="/pipeline/opportunities/(\d+)/"', lost)] == [
        ids["B"]
    ]
    by_amount = _get(client, admin_user, LIST, as_of=DAY.isoformat(), o="-amount").content.decode()
    first = re.findall(r'href="/pipeline/opportunities/(\d+)/"', by_amount)[0]
    assert int(first) == ids["A"]  # 15,000 then
    compared = _get(client, admin_user, LIST, as_of=DAY.isoformat(), compare="1").content.decode()
    assert "Won since" in compared and "Amount now $9,000" in compared
    assert "data-as-of" in compared


@pytest.mark.parametrize(
    "raw",
    [
        "garbage",
        "2026-02-30",
        "1899-12-31",
        "2201-01-01",
        "99999-01-01",
        "0001-01-01",
        "2026-2-3x",
        "'; DROP TABLE pipeline_opportunity; --",
        "<script>alert(1)</script>",
        "x" * 5000,
    ],
)
@pytest.mark.parametrize("url", [BOARD, LIST])
def test_a_bad_date_is_a_400_with_its_reason(client, admin_user, history, raw, url):
    r = _get(client, admin_user, url, as_of=raw)
    assert r.status_code == 400
    html = r.content.decode()
    assert "is not a date the pipeline can be shown at" in html
    assert "<script>alert(1)</script>" not in html
    assert "data-as-of" not in html
    assert Opportunity.objects.count() == 6


@pytest.mark.parametrize("day", [NOW, dt.date(2026, 3, 11), dt.date(2199, 1, 1)])
def test_today_or_a_later_date_shows_today_with_a_note(client, admin_user, history, day):
    r = _get(client, admin_user, BOARD, as_of=day.isoformat())
    assert r.status_code == 200
    html = r.content.decode()
    assert "this is the pipeline as it stands now" in html
    assert 'id="board"' in html and "data-as-of" not in html


def test_parse_as_of():
    assert parse_as_of({}).day is None
    assert parse_as_of({"as_of": ""}).error == ""
    assert parse_as_of({"as_of": "2026-02-20", "compare": "1"}) == parse_as_of(
        {"as_of": "2026-02-20", "compare": "on"}
    )


def test_board_as_of_query_count_does_not_grow_with_the_deals(admin_user, history, pipeline):
    def queries():
        with CaptureQueriesContext(connection) as ctx:
            board_as_of(user=admin_user, params={}, day=DAY, compare=True)
        return len(ctx)

    before = queries()
    with time_machine.travel(at(dt.date(2026, 2, 2)), tick=False):
        for i in range(8):
            OpportunityFactory(owner=admin_user, pipeline=pipeline, name=f"more {i}")
    # 10, plus the exchange rates of that day and of today (compare converts both states).
    assert queries() == before <= 12


def test_bounded_count(history, admin_user, monkeypatch):
    monkeypatch.setattr(BoundedPaginator, "limit", 3)
    paginator = BoundedPaginator(Opportunity.objects.order_by("pk"), 2)
    assert (paginator.count, paginator.capped, paginator.count_label()) == (4, True, "3+")
    assert paginator.num_pages == 2
    monkeypatch.setattr(BoundedPaginator, "limit", 100)
    paginator = BoundedPaginator(Opportunity.objects.order_by("pk"), 2)
    assert (paginator.count, paginator.capped, paginator.count_label()) == (6, False, "6")


def test_untouched_deals_skip_the_joins_with_the_same_state(history, monkeypatch):
    """A deal untouched since the day reads its live columns instead of its history: the same
    state as the joins give, on every day of the history."""
    from pipeline.selectors import dealstate

    fields = ("pk", "s_kind", "s_stage", "s_entered", "s_owner", "s_amount", "s_close")
    fields += ("s_prob", "s_category", "s_period")
    days = [dt.date(2026, 1, d) for d in (4, 5, 9, 20, 31)] + [dt.date(2026, 2, d) for d in (1, 20)]
    days += [dt.date(2026, 3, d) for d in (1, 8, 9)]

    def states(day):
        qs = dealstate.reconstructed_deals(on=day, rates={}).order_by("pk")
        return list(qs.values_list(*fields))

    gated = {day: states(day) for day in days}
    with CaptureQueriesContext(connection) as ctx:
        states(DAY)
    assert 'stage_entered_at" >=' in ctx.captured_queries[-1]["sql"]  # after the rates
    monkeypatch.setattr(dealstate._TouchedSince, "as_sql", lambda self, c, conn: ("TRUE", []))
    for day in days:
        assert states(day) == gated[day], day
    assert len(gated[dt.date(2026, 3, 9)]) == 6 and len(gated[dt.date(2026, 1, 4)]) == 0


def test_lists_say_how_many_only_up_to_the_bound(client, admin_user, history, monkeypatch):
    monkeypatch.setattr(BoundedPaginator, "limit", 3)
    client.force_login(admin_user)
    html = client.get(LIST, {"status": ""}).content.decode()
    assert "3+</span> deals" in html and "page 1 of" not in html
    html = client.get(reverse("pipeline:company_list")).content.decode()
    assert " of 3+" in html
    monkeypatch.setattr(BoundedPaginator, "limit", 100)
    html = client.get(reverse("pipeline:company_list")).content.decode()
    assert "of 6" in html
