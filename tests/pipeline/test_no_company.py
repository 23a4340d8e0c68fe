"""A deal without a company (as Salesforce allows an opportunity without an account): created
through the services and the form, shown as "No company" on every page, empty in exports."""

import datetime as dt

import pytest
from django.urls import reverse

from forecasting.reports.drilldown import drilldown_table
from forecasting.reports.scope import ReportScope
from pipeline import services
from pipeline.models import Opportunity
from tests.factories import stage


@pytest.fixture
def deal(rep, pipeline):
    return services.create_opportunity(
        by=rep,
        name="Orphan deal",
        company=None,
        pipeline=pipeline,
        amount="1500",
        expected_close_date=dt.date.today() + dt.timedelta(days=20),
    )


@pytest.mark.django_db
def test_service_creates_and_edits_a_deal_without_company(deal, rep):
    assert deal.company_id is None
    deal = services.update_opportunity(
        opportunity=deal, by=rep, version=deal.version, amount="2000"
    )
    assert Opportunity.objects.get(pk=deal.pk).company is None


@pytest.mark.django_db
def test_form_creates_a_deal_without_company(client, rep, pipeline):
    client.force_login(rep)
    response = client.post(
        reverse("pipeline:opportunity_create"),
        {
            "name": "From the form",
            "company": "",
            "owner": rep.pk,
            "pipeline": pipeline.pk,
            "amount": "100",
            "expected_close_date": (dt.date.today() + dt.timedelta(days=5)).isoformat(),
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Opportunity.objects.get(name="From the form").company is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "pipeline:opportunity_list",
        "pipeline:board",
        "detail",
        "move",
        "search",
        "forecasting:deals",
    ],
)
def test_every_page_shows_no_company(client, rep, deal, url):
    client.force_login(rep)
    target = {
        "detail": reverse("pipeline:opportunity_detail", args=[deal.pk]),
        "move": reverse("pipeline:opportunity_move", args=[deal.pk]),
        "search": reverse("pipeline:search") + "?q=Orphan",
        "forecasting:deals": reverse("forecasting:deals") + "?figure=open",
    }.get(url) or reverse(url)
    response = client.get(target)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Orphan deal" in html
    assert "No company" in html
    assert "None" not in html.split("Orphan deal", 1)[1][:400]


@pytest.mark.django_db
def test_report_drilldown_shows_no_company_and_its_csv_leaves_it_empty(
    admin_user, rep, deal, pipeline
):
    services.close_won(opportunity=deal, by=rep, version=deal.version)
    scope = ReportScope(
        user=admin_user, start=dt.date.today() - dt.timedelta(days=1), end=dt.date.today()
    )
    table, _ = drilldown_table(scope, Opportunity.objects.all())
    company = [c.column.key for c in table.body[0]].index("company")
    assert table.body[0][company].text == "No company"
    assert table.csv_rows()[1][company] == ""
    assert stage(pipeline, "Won").pk == Opportunity.objects.get().stage_id


@pytest.mark.django_db
def test_deal_export_leaves_company_empty(client, rep, deal):
    client.force_login(rep)
    text = client.get(reverse("pipeline:opportunity_list"), {"export": "csv"}).content.decode()
    header, row = (line.split(",") for line in text.splitlines()[:2])
    cells = dict(zip(header, row, strict=True))
    assert cells["Deal name"] == "Orphan deal"
    assert cells["Company"] == "" and cells["Company website"] == ""
