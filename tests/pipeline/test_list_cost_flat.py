"""A list page costs the same whatever the table's size: a page of companies or contacts
tests each row's visibility by one index probe (``accounts.visibility.RowExists``), never by
reading every deal of the viewer's team first, and its count stops at a bound."""

import re

import pytest
from django.db import connection
from django.http import QueryDict

from pipeline.models import Company, Opportunity
from pipeline.selectors import companies as company_selectors
from pipeline.selectors import contacts as contact_selectors
from pipeline.selectors.paging import COUNT_LIMIT, BoundedPaginator
from tests.factories import CompanyFactory, ContactFactory, OpportunityFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def book(rep, rep2, outsider, pipeline):
    """Companies and contacts seen through a deal of the team, owned by the team, or not
    seen at all (an outsider's without the team's deals)."""
    made = {}
    for name, owner in (("through-deal", outsider), ("own", rep), ("hidden", outsider)):
        company = CompanyFactory(name=name, owner=owner)
        contact = ContactFactory(last_name=name, owner=owner, company=company)
        made[name] = (company, contact)
    # A deal of the team on the outsider's company and contact (as a reassignment leaves
    # it), and an outsider's deal on the hidden company.
    through, through_contact = made["through-deal"]
    deal = OpportunityFactory(owner=rep2, pipeline=pipeline)
    Opportunity.objects.filter(pk=deal.pk).update(company=through, contact=through_contact)
    hidden = OpportunityFactory(owner=outsider, pipeline=pipeline)
    Opportunity.objects.filter(pk=hidden.pk).update(company=made["hidden"][0])
    return made


def _page(filterset):
    return filterset.qs[:50]


def test_the_rule_is_unchanged_a_deal_of_the_team_shows_its_company_and_contact(book, manager):
    companies = company_selectors.company_list(user=manager, params=QueryDict())
    contacts = contact_selectors.contact_list(user=manager, params=QueryDict())
    names = set(book)
    assert {c.name for c in _page(companies)} & names == {"through-deal", "own"}
    assert {c.last_name for c in _page(contacts)} & names == {"through-deal", "own"}
    shown = {c.last_name: c.company_visible for c in _page(contacts) if c.last_name in names}
    assert shown == {"through-deal": True, "own": True}
    assert set(Company.objects.visible_to(manager).values_list("name", flat=True)) & names == {
        "through-deal",
        "own",
    }


@pytest.mark.parametrize("which", ["companies", "contacts"])
def test_a_page_probes_each_row_instead_of_hashing_every_deal(book, manager, which):
    if connection.vendor != "postgresql":
        pytest.skip("plans are PostgreSQL's (set DATABASE_URL)")
    select = {
        "companies": company_selectors.company_list,
        "contacts": contact_selectors.contact_list,
    }
    page = _page(select[which](user=manager, params=QueryDict()))
    assert "OFFSET 0" in str(page.query)
    with connection.cursor() as cursor:
        # What the planner would pick on a large table: a hashed subplan is cheaper per row
        # but reads the whole inner table first.
        cursor.execute("SET LOCAL enable_seqscan = off")
        plan = page.explain()
    assert _hashed_tables(plan) <= {"accounts_user"}, plan


def _hashed_tables(plan: str) -> set[str]:
    """The tables read by the plan's hashed subplans (each built once, from every row of the
    table it reads that passes its own conditions)."""
    lines = plan.splitlines()
    hashed = set(re.findall(r"hashed SubPlan (\d+)", plan))
    tables = set()
    for i, line in enumerate(lines):
        m = re.match(r"\s*SubPlan (\d+)$", line)
        if m and m.group(1) in hashed:
            body = " ".join(lines[i + 1 : i + 4])
            tables |= set(re.findall(r" on (\w+)", body)[:1])
    return tables


def test_the_count_stops_at_its_bound():
    rows = list(range(COUNT_LIMIT + 5))
    paginator = BoundedPaginator(rows, 50)
    assert paginator.count == COUNT_LIMIT + 1 and paginator.capped
    assert paginator.count_label() == f"{COUNT_LIMIT:,}+"
    assert paginator.num_pages == COUNT_LIMIT // 50


# --- the deal list's default order --------------------------------------------------------


@pytest.fixture
def many_deals(rep, rep2, outsider, pipeline):
    """Deals in two pipelines and every stage, close dates with ties, some won and lost, a
    few of another team's."""
    import datetime as dt

    from pipeline.models import Stage
    from tests.factories import PipelineFactory

    other = PipelineFactory(name="Renewals")
    today = dt.date(2026, 12, 2)
    made = []
    for i in range(70):
        line = pipeline if i % 3 else other
        open_stages = list(line.stages.filter(kind=Stage.Kind.OPEN).order_by("position"))
        deal = OpportunityFactory(
            owner=(rep, rep2, outsider)[i % 3 if i % 5 else 2],
            pipeline=line,
            expected_close_date=today + dt.timedelta(days=(i * 7) % 23),
        )
        # Spread over the stages as moves would leave them (exit criteria aside).
        Opportunity.objects.filter(pk=deal.pk).update(stage=open_stages[i % len(open_stages)])
        made.append(deal)
    for n, deal in enumerate(made[:12]):
        kind = (Stage.Kind.WON, Stage.Kind.LOST)[n % 2]
        closed = Stage.objects.get(pipeline_id=deal.pipeline_id, kind=kind)
        Opportunity.objects.filter(pk=deal.pk).update(stage=closed)
    return made


def _list(user, **params):
    from pipeline.selectors.opportunities import list_rows, opportunity_list

    query = QueryDict(mutable=True)
    query.update(params)
    filterset, qs = opportunity_list(user=user, params=query)
    return filterset, qs, list_rows(filterset, qs)


@pytest.mark.parametrize("status", ["", "open", "won", "lost"])
@pytest.mark.parametrize("who", ["manager", "rep", "admin_user"])
def test_the_default_order_read_by_stage_gives_the_rows_of_one_sort(
    request, many_deals, status, who
):
    from pipeline.selectors.opportunities import ByCloseDate

    user = request.getfixturevalue(who)
    params = {"status": status} if status else {}
    _, qs, rows = _list(user, **params)
    assert isinstance(rows, ByCloseDate)
    one_sort = list(qs.order_by("expected_close_date", "id").values_list("id", flat=True))
    assert len(rows) == len(one_sort) > 0
    for start, stop in ((0, 5), (3, 11), (10, 40), (0, len(one_sort) + 5)):
        assert [d.pk for d in rows[start:stop]] == one_sort[start:stop], (start, stop)
    if len(one_sort) > 1:
        assert rows[1].pk == one_sort[1]


def test_a_chosen_sort_or_every_status_pages_the_queryset(manager, many_deals):
    for params in ({"o": "-amount"}, {"status": "all"}, {"status": "closed"}, {"q": "Deal"}):
        _, qs, rows = _list(manager, **params)
        assert rows is qs, params


def test_the_list_page_shows_the_same_deals_in_the_same_order(client, manager, many_deals):
    from django.urls import reverse

    client.force_login(manager)
    _, qs, _ = _list(manager)
    expected = list(qs.order_by("expected_close_date", "id").values_list("id", flat=True))
    page = client.get(reverse("pipeline:opportunity_list")).context["page"]
    assert len(expected) > 0 and [d.pk for d in page.object_list] == expected[:50]
    assert page.paginator.count == len(expected)


def test_the_default_list_costs_the_same_queries_for_any_number_of_deals(
    client, manager, rep, pipeline, many_deals
):
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    client.force_login(manager)
    url = reverse("pipeline:opportunity_list")
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for _ in range(60):
        OpportunityFactory(owner=rep, pipeline=pipeline)
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)
    # One UNION ALL of the stages' first rows on PostgreSQL; one query per stage elsewhere.
    from pipeline.models import Stage

    per_stage = (
        0 if connection.vendor == "postgresql" else Stage.objects.filter(kind="open").count() - 1
    )
    assert len(many) == len(few) <= 18 + per_stage
    assert len(response.context["page"].object_list) == 50


def test_an_empty_default_list_has_one_empty_page(client, manager):
    from django.urls import reverse

    client.force_login(manager)
    response = client.get(reverse("pipeline:opportunity_list"))
    assert response.status_code == 200
    assert list(response.context["page"].object_list) == []
    _, _, rows = _list(manager)
    assert len(rows) == 0 and rows[0:0] == [] and rows[0:50] == []


def test_a_pipeline_or_stage_filter_reads_only_its_stages(manager, pipeline, many_deals):
    from pipeline.models import Stage

    proposal = Stage.objects.get(pipeline=pipeline, name="Proposal")
    for params, stages in (
        ({"pipeline": str(pipeline.pk)}, set(pipeline.stages.filter(kind="open"))),
        ({"stage": str(proposal.pk)}, {proposal}),
    ):
        _, qs, rows = _list(manager, **params)
        assert set(rows.stages) == stages
        one_sort = list(qs.order_by("expected_close_date", "id").values_list("id", flat=True))
        assert [d.pk for d in rows[0:50]] == one_sort[:50] and one_sort
