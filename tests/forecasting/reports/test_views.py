"""Report pages: login, the role rule, filters in the URL, bad input, CSV = the table."""

import datetime as dt

import pytest
from django.urls import reverse

from tests.forecasting.reports.helpers import csv_table, html_table, same_value
from tests.forecasting.reports.world import NOW, travel

RANGE = {"start": "2026-01-01", "end": "2026-03-31"}
PAGES = [
    ("forecasting:reports_index", None),
    ("forecasting:report_funnel", "funnel"),
    ("forecasting:report_stages", "stages"),
    ("forecasting:report_win_rate", "win_rate"),
    ("forecasting:report_pipeline", "months"),
    ("forecasting:report_rotting", "deals"),
    ("forecasting:report_scorecards", "scorecards"),
    ("forecasting:report_priorities", "priorities"),
    ("forecasting:report_deals", "deals"),
]


@pytest.fixture
def now():
    with travel(NOW):
        yield


@pytest.mark.parametrize("name", [n for n, _ in PAGES])
def test_report_pages_require_login(client, db, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


@pytest.mark.parametrize("who", ["rep", "manager", "admin"])
@pytest.mark.parametrize("name", [n for n, _ in PAGES])
def test_report_pages_render_for_every_role(client, world, now, who, name):
    client.force_login(getattr(world, who))
    response = client.get(reverse(name), RANGE)
    assert response.status_code == 200
    assert b"Fix the filters" not in response.content


def test_reports_index_links_every_report(client, world):
    client.force_login(world.manager)
    content = client.get(reverse("forecasting:reports_index")).content.decode()
    for name in (
        "report_funnel",
        "report_stages",
        "report_win_rate",
        "report_pipeline",
        "report_rotting",
        "report_scorecards",
        "report_priorities",
    ):
        assert f'href="{reverse(f"forecasting:{name}")}"' in content


def test_filters_rep_dropdown_lists_only_visible_people(client, world, now):
    client.force_login(world.rep)
    response = client.get(reverse("forecasting:report_funnel"), RANGE)
    owner_choices = [str(u) for u in response.context["form"].fields["owner"].queryset]
    assert owner_choices == [str(world.rep)]
    assert str(world.rep2) not in response.content.decode()


def test_filters_refuse_someone_elses_rep_with_message(client, world, now):
    client.force_login(world.manager)
    response = client.get(
        reverse("forecasting:report_win_rate"), {**RANGE, "owner": world.outsider.pk}
    )
    assert response.status_code == 200
    assert response.context["report"] is None
    assert "Select a valid choice" in response.content.decode()
    csv = client.get(
        reverse("forecasting:report_win_rate"),
        {**RANGE, "owner": world.outsider.pk, "export": "csv"},
    )
    assert csv.status_code == 400


def test_filters_end_before_start_is_explained_and_kept(client, world, now):
    client.force_login(world.manager)
    response = client.get(
        reverse("forecasting:report_funnel"), {"start": "2026-03-01", "end": "2026-01-01"}
    )
    content = response.content.decode()
    assert response.status_code == 200
    assert "The end date is before the start date" in content
    assert 'value="2026-03-01"' in content


def test_filters_garbage_never_500(client, world, now):
    client.force_login(world.manager)
    for params in (
        {"start": "yesterday", "pipeline": "x", "team": "-1", "idle": "0"},
        {"idle": "9999", "sort": "'; drop", "flag": "zzz"},
        {"group": "nope", "kind": "nope"},
    ):
        for name, _ in PAGES:
            assert client.get(reverse(name), params).status_code == 200


@pytest.mark.parametrize(
    "params", [{"page": "-3"}, {"page": "²"}, {"month": "2026-13"}, {"stage": "x"}]
)
def test_malformed_report_numbers_are_a_400(client, world, now, params):
    """A page number, month or id that no link of the application makes is refused."""
    client.force_login(world.manager)
    for name in ("forecasting:report_rotting", "forecasting:report_deals"):
        response = client.get(reverse(name), params)
        assert response.status_code == 400
        assert b"didn&#x27;t make sense" in response.content or b"make sense" in response.content


def test_filters_default_to_last_twelve_months(client, world, now):
    client.force_login(world.manager)
    response = client.get(reverse("forecasting:report_win_rate"))
    scope_rows = [r["month"] for r in response.context["report"].table.rows]
    assert scope_rows[0] == "May 2025" and scope_rows[-1] == "Apr 2026"


def test_funnel_rep_sees_only_own_leads(client, world, now):
    client.force_login(world.rep)
    response = client.get(reverse("forecasting:report_funnel"), {**RANGE, "group": "rep"})
    rows = response.context["report"].table.rows
    assert [r["group"] for r in rows] == [str(world.rep)]
    assert response.context["report"].table.total["leads"] == 3


def test_manager_does_not_see_other_team(client, world, now):
    client.force_login(world.manager)
    response = client.get(reverse("forecasting:report_pipeline"), RANGE)
    assert response.context["report"].table.total["created"] == 6  # E is West's
    client.force_login(world.admin)
    response = client.get(reverse("forecasting:report_pipeline"), RANGE)
    assert response.context["report"].table.total["created"] == 7


def test_scorecard_page_follows_the_role_rule(client, world, now):
    url = reverse("forecasting:report_scorecard", args=[world.rep.pk])
    client.force_login(world.manager)
    assert client.get(url, RANGE).status_code == 200
    client.force_login(world.rep2)
    assert client.get(url, RANGE).status_code == 404
    client.force_login(world.outsider)
    assert client.get(url, RANGE).status_code == 404
    client.force_login(world.rep)
    response = client.get(url, RANGE)
    assert response.status_code == 200
    assert len(response.context["report"].table.rows) == 1  # no team average for a rep


def test_scorecard_page_has_coaching_tables(client, world, now):
    client.force_login(world.manager)
    response = client.get(reverse("forecasting:report_scorecard", args=[world.rep2.pk]), RANGE)
    keys = [t.key for t in response.context["report"].tables]
    assert keys == ["scorecard", "win_rate", "stages", "deals"]
    deals = response.context["report"].get_table("deals").rows
    assert sorted(r["deal"] for r in deals) == ["C", "D"]


def test_drilldown_lists_the_deals_behind_a_number(client, world, now):
    client.force_login(world.manager)
    response = client.get(
        reverse("forecasting:report_deals"), {**RANGE, "kind": "won", "month": "2026-03"}
    )
    assert [r["deal"] for r in response.context["report"].table.rows] == ["A"]
    response = client.get(reverse("forecasting:report_deals"), {**RANGE, "kind": "created"})
    assert response.context["totals"]["n"] == 6
    response = client.get(
        reverse("forecasting:report_deals"),
        {**RANGE, "kind": "lost", "reason": world.b.lost_reason_id},
    )
    assert [r["deal"] for r in response.context["report"].table.rows] == ["B"]
    response = client.get(reverse("forecasting:report_deals"), {**RANGE, "kind": "funnel"})
    assert sorted(r["deal"] for r in response.context["report"].table.rows) == ["A", "C"]


def test_drilldown_rep_cannot_reach_other_deals(client, world, now):
    client.force_login(world.rep)
    response = client.get(reverse("forecasting:report_deals"), {**RANGE, "kind": "created"})
    assert sorted(r["deal"] for r in response.context["report"].table.rows) == ["A", "B", "F", "G"]
    response = client.get(
        reverse("forecasting:report_deals"), {**RANGE, "kind": "created", "owner": world.rep2.pk}
    )
    assert response.context["report"] is None


def test_every_sum_links_to_matching_drilldown(client, world, now):
    """Follow the won-amount link of March on the pipeline report: the listed deals add up."""
    client.force_login(world.manager)
    report = client.get(reverse("forecasting:report_pipeline"), RANGE).context["report"]
    march = next(r for r in report.table.rows if r["month"] == "Mar 2026")
    response = client.get(march["_links"]["won_amount"])
    assert response.context["totals"]["amount"] == march["won_amount"]
    stages = client.get(reverse("forecasting:report_stages"), RANGE).context["report"]
    for row in stages.table.rows:
        listed = client.get(row["_links"]["entered"]).context["totals"]["n"]
        assert listed == row["entered"]


def test_rotting_idle_setting_in_url(client, world, now):
    client.force_login(world.manager)
    response = client.get(reverse("forecasting:report_rotting"), {"idle": "2"})
    assert response.context["report"].extra["summary"]["idle"] == 3
    assert 'name="idle"' in response.content.decode()
    assert 'value="2"' in response.content.decode()


def test_priorities_page_documents_the_score(client, world, now):
    client.force_login(world.rep)
    content = client.get(reverse("forecasting:report_priorities")).content.decode()
    assert "How this is ranked" in content
    assert "40 × weighted amount" in content


def test_priorities_manager_can_pick_a_rep(client, world, now):
    client.force_login(world.manager)
    response = client.get(reverse("forecasting:report_priorities"), {"owner": world.rep.pk})
    assert [i["title"] for i in response.context["items"]][:2] == ["Qualify budget", "F"]
    client.force_login(world.rep2)
    response = client.get(reverse("forecasting:report_priorities"), {"owner": world.rep.pk})
    assert response.context["report"] is None


CSV_CASES = [
    ("forecasting:report_funnel", {"group": "rep"}, "funnel"),
    ("forecasting:report_stages", {}, "stages"),
    ("forecasting:report_win_rate", {}, "win_rate"),
    ("forecasting:report_pipeline", {}, "months"),
    ("forecasting:report_pipeline", {}, "reasons"),
    ("forecasting:report_rotting", {}, "deals"),
    ("forecasting:report_rotting", {}, "owners"),
    ("forecasting:report_scorecards", {}, "scorecards"),
    ("forecasting:report_priorities", {"owner": "REP"}, "priorities"),
    ("forecasting:report_deals", {"kind": "created"}, "deals"),
]


@pytest.mark.parametrize(("name", "params", "key"), CSV_CASES)
def test_csv_equals_the_table_shown(client, world, now, name, params, key):
    client.force_login(world.manager)
    params = {**RANGE, **params}
    if params.get("owner") == "REP":
        params["owner"] = world.rep.pk
    page = client.get(reverse(name), params)
    shown = html_table(page.content, key)
    export = client.get(reverse(name), {**params, "export": "csv", "table": key})
    assert export.status_code == 200
    assert export["Content-Type"].startswith("text/csv")
    exported = csv_table(export.content)
    assert len(shown) > 1
    assert shown[0] == exported[0]  # same columns, same labels
    assert len(shown) == len(exported)  # same rows (total included)
    for html_row, csv_row in zip(shown[1:], exported[1:], strict=True):
        for h, c in zip(html_row, csv_row, strict=True):
            assert same_value(h, c), (h, c)


def test_csv_link_on_page_points_at_export(client, world, now):
    client.force_login(world.manager)
    content = client.get(reverse("forecasting:report_pipeline"), RANGE).content.decode()
    assert "export=csv&amp;table=months" in content
    assert "export=csv&amp;table=reasons" in content


def test_csv_unknown_table_is_404(client, world, now):
    client.force_login(world.manager)
    response = client.get(
        reverse("forecasting:report_funnel"), {**RANGE, "export": "csv", "table": "nope"}
    )
    assert response.status_code == 404


def test_rotting_pages_past_fifty_rows(client, world, now):
    from decimal import Decimal

    from tests.factories import OpportunityFactory

    with travel(dt.datetime(2026, 1, 2, 12, tzinfo=dt.UTC)):
        for i in range(55):
            OpportunityFactory(
                owner=world.rep,
                pipeline=world.pipeline,
                amount=Decimal(100 + i),
                expected_close_date=dt.date(2026, 2, 1),
            )
    client.force_login(world.manager)
    first = client.get(reverse("forecasting:report_rotting"), {"flag": "overdue"})
    assert len(first.context["report"].get_table("deals").rows) == 50
    assert first.context["pager"].paginator.num_pages == 2
    second = client.get(reverse("forecasting:report_rotting"), {"flag": "overdue", "page": 2})
    assert len(second.context["report"].get_table("deals").rows) == 6
    export = client.get(
        reverse("forecasting:report_rotting"),
        {"flag": "overdue", "export": "csv", "table": "deals"},
    )
    assert len(csv_table(export.content)) == 1 + 56


def test_drilldown_entered_stage_without_pipeline_in_url(client, world, now):
    client.force_login(world.manager)
    discovery = world.pipeline.stages.get(name="Discovery")
    response = client.get(
        reverse("forecasting:report_deals"), {**RANGE, "kind": "entered", "stage": discovery.pk}
    )
    assert sorted(r["deal"] for r in response.context["report"].table.rows) == ["A", "C", "F"]
    assert response.context["title"] == "Deals that entered Discovery"
    missing = client.get(reverse("forecasting:report_deals"), {"kind": "entered", "stage": 0})
    assert missing.status_code == 200
    assert missing.context["report"].table.rows == []


def test_scorecards_page_shows_the_per_rep_average_then_the_total(client, world, now):
    client.force_login(world.manager)
    response = client.get(reverse("forecasting:report_scorecards"), RANGE)
    rows = html_table(response.content, "scorecards")
    header, *body = rows
    average, total = body[-2], body[-1]
    won, lost, quota = header.index("Won"), header.index("Lost"), header.index("Quota")
    # rep won 1 and lost 1, rep2 closed nothing; only rep has a quota (30,000).
    assert (average[0], average[won], average[lost], average[quota]) == (
        "Per-rep average",
        "0.5",
        "0.5",
        "$30,000",
    )
    assert (total[0], total[won], total[lost], total[quota]) == (
        "Total of reps shown",
        "1",
        "1",
        "$30,000",
    )
