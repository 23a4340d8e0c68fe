"""The import service: history with the file's instants, the business rules per row,
duplicates and upserts, permissions, undo, snapshots."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from forecasting import services as forecasting_services
from forecasting.models import ForecastSnapshot, SnapshotRun
from forecasting.reports.funnel import funnel
from forecasting.reports.scope import ReportScope
from forecasting.reports.win_rate import win_rate
from imports import services
from imports.models import ImportBatch, ImportedRecord
from pipeline import services as pipeline_services
from pipeline.models import Company, Contact, Lead, Opportunity, StageTransition
from tests.factories import CompanyFactory, ContactFactory, UserFactory, current_version, stage

NOW = dt.datetime(2024, 6, 14, 15, 0, tzinfo=dt.UTC)

HEADER = "Deal,Value,Stage,Account,Sales agent,Created,Engage date,Close date\r\n"
DEALS = HEADER + (
    'Won big,"$12,000.00",Won,Acme,{o},1/10/2024,2/1/2024,3/15/2024\r\n'
    "Lost one,5000,Lost,Acme,{o},1/12/2024,2/3/2024,4/20/2024\r\n"
    "Still open,800,Engaging,Globex,{o},5/2/2024,5/20/2024,\r\n"
    "Fresh,100,Prospecting,,{o},,,\r\n"
)


def noon(y, m, d):
    return timezone.make_aware(dt.datetime(y, m, d, 12))


def deals_options(pipeline, lost_reason, **extra):
    return {
        "pipeline": pipeline.pk,
        "stage_map": {
            "Engaging": stage(pipeline, "Discovery").pk,
            "Prospecting": stage(pipeline, "Qualification").pk,
        },
        "default_lost_reason": lost_reason.pk,
        "no_company": "Walk-in customers",
        **extra,
    }


@pytest.fixture(autouse=True)
def _frozen_now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.mark.django_db
def test_import_writes_deals_with_their_history_instants(
    run_import, admin_user, rep, pipeline, lost_reason
):
    batch = run_import(
        admin_user, "deals", DEALS.format(o="rep"), **deals_options(pipeline, lost_reason)
    )
    assert batch.status == ImportBatch.Status.DONE, batch.message
    assert batch.counts["create"] == 4 and batch.counts["refuse"] == 0
    won = Opportunity.objects.get(name="Won big")
    assert (won.owner, won.amount, won.stage.name) == (rep, Decimal("12000.00"), "Won")
    assert won.closed_on == dt.date(2024, 3, 15)
    assert won.created_at == noon(2024, 1, 10)
    assert won.stage_entered_at == noon(2024, 3, 15)
    path = list(
        StageTransition.objects.filter(opportunity=won).values_list(
            "from_stage__name", "to_stage__name", "changed_at", "left_at", "next_stage__name"
        )
    )
    assert path == [
        (None, "Qualification", noon(2024, 1, 10), noon(2024, 2, 1), "Discovery"),
        ("Qualification", "Discovery", noon(2024, 2, 1), noon(2024, 3, 15), "Won"),
        ("Discovery", "Won", noon(2024, 3, 15), None, None),
    ]
    history = list(won.history.values_list("history_date", "amount", "owner_id"))
    assert history == [(noon(2024, 1, 10), Decimal("12000.00"), rep.pk)]
    lost = Opportunity.objects.get(name="Lost one")
    assert lost.lost_reason == lost_reason and lost.closed_on == dt.date(2024, 4, 20)
    fresh = Opportunity.objects.get(name="Fresh")
    assert fresh.created_at == NOW and fresh.company.name == "Walk-in customers"
    assert fresh.transitions.get().changed_at == NOW  # no dates: enters today
    assert Company.objects.filter(name="Acme").count() == 1  # one company for two rows
    assert batch.first_date == dt.date(2024, 1, 10)


def _service_twin(rep, pipeline, lost_reason):
    """The same deals as DEALS, entered through the per-deal services on their dates."""
    acme = CompanyFactory(owner=rep, name="Acme S")
    globex = CompanyFactory(owner=rep, name="Globex S")

    def create(name, amount, company, day, close):
        with time_machine.travel(noon(*day), tick=False):
            return pipeline_services.create_opportunity(
                by=rep,
                name=name,
                company=company,
                pipeline=pipeline,
                amount=amount,
                expected_close_date=close,
            )

    def move(deal, to, day, **kw):
        with time_machine.travel(noon(*day), tick=False):
            return pipeline_services.move_opportunity(
                opportunity=deal,
                to_stage=stage(pipeline, to),
                by=rep,
                version=current_version(deal),
                **kw,
            )

    won = create("Won big", Decimal("12000"), acme, (2024, 1, 10), dt.date(2024, 3, 15))
    move(won, "Discovery", (2024, 2, 1))
    move(won, "Won", (2024, 3, 15), closed_on=dt.date(2024, 3, 15))
    lost = create("Lost one", Decimal("5000"), acme, (2024, 1, 12), dt.date(2024, 4, 20))
    move(lost, "Discovery", (2024, 2, 3))
    move(lost, "Lost", (2024, 4, 20), lost_reason=lost_reason, closed_on=dt.date(2024, 4, 20))
    # An open deal without a close date in the file is expected in 30 days (the default).
    open_ = create("Still open", Decimal("800"), globex, (2024, 5, 2), dt.date(2024, 7, 14))
    move(open_, "Discovery", (2024, 5, 20))


@pytest.mark.django_db
def test_import_gives_the_same_reports_and_snapshots_as_the_services(
    run_import, admin_user, rep, rep2, pipeline, lost_reason
):
    _service_twin(rep, pipeline, lost_reason)
    csv = DEALS.format(o="rep2").replace("Fresh,100,Prospecting,,rep2,,,\r\n", "")
    csv = csv.replace(",\r\n", ",\r\n")
    batch = run_import(
        admin_user,
        "deals",
        csv,
        **deals_options(pipeline, lost_reason, default_close_days=30),
    )
    assert batch.status == ImportBatch.Status.DONE, batch.message

    def figures(owner):
        scope = ReportScope(
            user=admin_user, start=dt.date(2024, 1, 1), end=dt.date(2024, 6, 30), owner=owner
        )
        return [
            [{k: v for k, v in row.items() if k != "_links"} for row in report.table.rows]
            for report in (win_rate(scope), funnel(scope))
        ]

    assert figures(rep) == figures(rep2)
    forecasting_services.take_snapshot(taken_on=dt.date(2024, 3, 1), ranges=False)
    forecasting_services.take_snapshot(taken_on=dt.date(2024, 5, 25), ranges=False)
    for day in (dt.date(2024, 3, 1), dt.date(2024, 5, 25)):

        def sums(owner, day=day):
            return sorted(
                ForecastSnapshot.objects.filter(taken_on=day, owner=owner).values_list(
                    "period",
                    "open_count",
                    "open_amount",
                    "weighted_amount",
                    "won_amount",
                    "lost_count",
                )
            )

        assert sums(rep) == sums(rep2) != []


@pytest.mark.django_db
def test_import_refuses_bad_rows_with_row_column_value_and_message(
    admin_user, rep, pipeline, lost_reason
):
    csv = HEADER + (
        "Good,10,Won,Acme,rep,1/10/2024,,3/15/2024\r\n"
        "=HYPERLINK(1),=SUM(A1:A3),Won,Acme,rep,1/10/2024,,\r\n"
        "Bad date,10,Engaging,Acme,rep,2017-02-30,,\r\n"
        "Old,10,Engaging,Acme,rep,1/1/1899,,\r\n"
        "Huge,1e30,Engaging,Acme,rep,,,\r\n"
        "Negative,-5,Engaging,Acme,rep,,,\r\n"
        "Who,10,Engaging,Acme,nobody,,,\r\n"
        "Where,10,Mystery,Acme,rep,,,\r\n"
        "Future,10,Won,Acme,rep,1/10/2024,,12/31/2030\r\n"
        "Backwards,10,Won,Acme,rep,3/10/2024,,1/15/2024\r\n"
    )
    batch = services.create_batch(by=admin_user, kind="deals", file_name="d.csv", data=csv.encode())
    services.save_options(batch=batch, by=admin_user, options=deals_options(pipeline, lost_reason))
    result = services.preview(batch=batch, by=admin_user)
    got = {(e.row, e.column): e.message for e in result.errors}
    assert result.counts["create"] == 1 and result.counts["refuse"] == 9
    assert "formula is not an amount" in got[(3, "Value")]
    assert "won deal needs the date" in got[(3, "Close date")]
    assert "not a date of the calendar" in got[(4, "Created")]
    assert "between 1900-01-01" in got[(5, "Created")]
    assert "not an amount" in got[(6, "Value")]
    assert "negative" in got[(7, "Value")]
    assert "No user you may assign matches “nobody”" in got[(8, "Sales agent")]
    assert "Unknown stage “Mystery”" in got[(9, "Stage")]
    assert "cannot close in the future" in got[(10, "Close date")]
    assert "before the created on date" in got[(11, "Close date")]
    value = next(e.value for e in result.errors if e.row == 3 and e.column == "Value")
    assert value == "=SUM(A1:A3)"
    batch.refresh_from_db()
    # All-or-nothing: the confirm is refused while rows are refused, and nothing is written.
    with pytest.raises(ValidationError, match="rows are refused"):
        services.confirm(batch=batch, by=admin_user, token=batch.preview_token)
    assert not Opportunity.objects.exists() and not Company.objects.exists()


@pytest.mark.django_db
def test_import_valid_rows_only_skips_the_refused_ones(run_import, rep, pipeline, lost_reason):
    csv = HEADER + "Good,10,Engaging,Acme,,,,\r\nBad,-1,Engaging,Acme,,,,\r\n"
    batch = run_import(rep, "deals", csv, **deals_options(pipeline, lost_reason, valid_only=True))
    assert batch.status == "done"
    assert list(Opportunity.objects.values_list("name", flat=True)) == ["Good"]
    assert batch.counts["refuse"] == 1 and batch.errors[0]["row"] == 3


@pytest.mark.django_db
def test_import_text_formula_is_stored_as_text_and_export_guard_is_removed(
    run_import, rep, pipeline, lost_reason
):
    csv = "Deal,Stage,Account,Contact,Contact phone\r\n=1+1,Engaging,Acme,Ann Lee,'+1 555 0100\r\n"
    run_import(rep, "deals", csv, **deals_options(pipeline, lost_reason))
    deal = Opportunity.objects.get()
    assert deal.name == "=1+1"
    assert deal.contact.phone == "+1 555 0100"


@pytest.mark.django_db
def test_import_refuses_duplicate_external_ids_in_one_file(rep, pipeline, lost_reason):
    csv = "Id,Deal,Stage\r\n7,A,Engaging\r\n7,B,Engaging\r\n"
    batch = services.create_batch(by=rep, kind="deals", file_name="d.csv", data=csv.encode())
    services.save_options(batch=batch, by=rep, options=deals_options(pipeline, lost_reason))
    result = services.preview(batch=batch, by=rep)
    assert [e.message for e in result.errors] == [
        "External id 7 appears twice in this file (first on row 2)."
    ]


@pytest.mark.django_db
def test_import_refuses_a_stage_of_another_pipeline(rep, pipeline, lost_reason):
    from tests.factories import PipelineFactory

    other = PipelineFactory(name="Renewals")
    csv = "Deal,Stage\r\nA,Engaging\r\n"
    batch = services.create_batch(by=rep, kind="deals", file_name="d.csv", data=csv.encode())
    options = deals_options(pipeline, lost_reason)
    options["stage_map"] = {"Engaging": stage(other, "Discovery").pk}
    services.save_options(batch=batch, by=rep, options=options)
    result = services.preview(batch=batch, by=rep)
    assert "stage of another pipeline" in result.errors[0].message


@pytest.mark.django_db
def test_reimport_changes_nothing_and_a_changed_row_updates_through_the_services(
    run_import, rep, pipeline, lost_reason
):
    csv = (
        "Id,Deal,Value,Stage,Account\r\nX1,Alpha,100,Engaging,Acme\r\nX2,Beta,200,Engaging,Acme\r\n"
    )
    run_import(rep, "deals", csv, **deals_options(pipeline, lost_reason))
    again = run_import(rep, "deals", csv, **deals_options(pipeline, lost_reason))
    assert again.counts["create"] == 0 and again.counts["skip"] == 2
    assert Opportunity.objects.count() == 2 and Company.objects.count() == 1
    changed = csv.replace("Beta,200,Engaging", "Beta,250,Proposal")
    third = run_import(rep, "deals", changed, **deals_options(pipeline, lost_reason))
    assert third.counts["update"] == 1 and third.counts["skip"] == 1
    beta = Opportunity.objects.get(name="Beta")
    assert (beta.amount, beta.stage.name, beta.version) == (Decimal("250.00"), "Proposal", 3)
    assert beta.history.count() == 2  # the update is in the field history
    assert beta.transitions.count() == 3


@pytest.mark.django_db
def test_companies_dedupe_by_domain_then_name_and_contacts_by_email(run_import, rep):
    CompanyFactory(owner=rep, name="Acme Corporation", website="https://www.acme.com")
    CompanyFactory(owner=rep, name="Globex")
    csv = "Name,Website,City\r\nACME Inc,acme.com,Paris\r\nglobex,,Rome\r\nInitech,,Oslo\r\n"
    batch = run_import(rep, "companies", csv)
    assert (batch.counts["create"], batch.counts["update"]) == (1, 2)
    acme = Company.objects.get(city="Paris")
    assert (acme.name, acme.website) == ("ACME Inc", "acme.com")  # the file's values
    assert Company.objects.count() == 3
    ContactFactory(owner=rep, email="ann@acme.com", first_name="Ann", company=None)
    csv = (
        "First name,Last name,Email,Company\r\n"
        "Ann,Lee,ANN@acme.com,Globex\r\nBo,Ek,bo@x.com,Globex\r\n"
    )
    batch = run_import(rep, "contacts", csv)
    assert (batch.counts["create"], batch.counts["update"]) == (1, 1)
    assert Contact.objects.get(email="ann@acme.com").last_name == "Lee"
    assert Contact.objects.get(email="bo@x.com").company.name == "Globex"


@pytest.mark.django_db
def test_leads_import_with_created_dates_and_dedupe_by_email(run_import, rep):
    csv = (
        "First name,Email,Company,Budget,Created\r\n"
        'Dana,dana@u.test,Umbrella,"1,000",2024-02-01\r\n'
    )
    batch = run_import(rep, "leads", csv)
    lead = Lead.objects.get()
    assert lead.created_at == noon(2024, 2, 1) and lead.budget == Decimal("1000.00")
    assert run_import(rep, "leads", csv).counts["skip"] == 1
    assert batch.first_date == dt.date(2024, 2, 1)


@pytest.mark.django_db
def test_rep_imports_as_themself_and_never_matches_records_they_cannot_see(
    run_import, rep, outsider, pipeline, lost_reason
):
    theirs = CompanyFactory(owner=outsider, name="Acme")
    csv = "Deal,Stage,Account,Owner\r\nA,Engaging,Acme,outsider\r\n"
    run_import(rep, "deals", csv, **deals_options(pipeline, lost_reason))
    deal = Opportunity.objects.get()
    assert deal.owner == rep  # the owner column is ignored for a rep
    assert deal.company != theirs and deal.company.owner == rep
    theirs.refresh_from_db()
    assert theirs.opportunities.count() == 0


@pytest.mark.django_db
def test_manager_assigns_to_their_team_only(manager, rep, outsider, pipeline, lost_reason):
    csv = "Deal,Stage,Account,Owner\r\nA,Engaging,Acme,rep\r\nB,Engaging,Acme,outsider\r\n"
    batch = services.create_batch(by=manager, kind="deals", file_name="d.csv", data=csv.encode())
    services.save_options(batch=batch, by=manager, options=deals_options(pipeline, lost_reason))
    result = services.preview(batch=batch, by=manager)
    assert result.create[0]["owner"] == rep
    assert [e.row for e in result.errors] == [3]


@pytest.mark.django_db
def test_a_second_confirm_and_an_expired_preview_are_refused(rep, pipeline, lost_reason):
    csv = "Deal,Stage\r\nA,Engaging\r\n"
    batch = services.create_batch(by=rep, kind="deals", file_name="d.csv", data=csv.encode())
    services.save_options(batch=batch, by=rep, options=deals_options(pipeline, lost_reason))
    services.preview(batch=batch, by=rep)
    batch.refresh_from_db()
    token = batch.preview_token
    services.confirm(batch=batch, by=rep, token=token)
    with pytest.raises(ValidationError, match="already confirmed"):
        services.confirm(batch=batch, by=rep, token=token)

    other = services.create_batch(by=rep, kind="deals", file_name="d.csv", data=csv.encode())
    services.save_options(batch=other, by=rep, options=deals_options(pipeline, lost_reason))
    services.preview(batch=other, by=rep)
    other.refresh_from_db()
    with (
        time_machine.travel(NOW + dt.timedelta(hours=1), tick=False),
        pytest.raises(ValidationError, match="expired"),
    ):
        services.confirm(batch=other, by=rep, token=other.preview_token)
    assert not Opportunity.objects.exists()


@pytest.mark.django_db
def test_bad_files_are_refused_on_upload(rep):
    for data, message in (
        (b"", "empty"),
        (b"Deal,Value\r\n", "no data rows"),
        (b"PK\x03\x04junk", "ZIP archive"),
    ):
        with pytest.raises(ValidationError, match=message):
            services.create_batch(by=rep, kind="deals", file_name="x.csv", data=data)
    with pytest.raises(ValidationError, match=r"\.csv or \.xlsx"):
        services.create_batch(by=rep, kind="deals", file_name="x.exe", data=b"a\n1\n")
    assert not ImportBatch.objects.exists()


@pytest.mark.django_db
def test_undo_removes_created_and_restores_updated_records(run_import, rep, pipeline, lost_reason):
    first = "Id,Deal,Value,Stage,Account\r\nX1,Alpha,100,Engaging,Acme\r\n"
    run_import(rep, "deals", first, **deals_options(pipeline, lost_reason))
    alpha = Opportunity.objects.get()
    second = first.replace("Alpha,100", "Alpha,300") + "X2,Beta,5,Engaging,Initech\r\n"
    batch = run_import(rep, "deals", second, **deals_options(pipeline, lost_reason))
    assert batch.counts["update"] == 1 and batch.counts["create"] == 1
    services.undo(batch=batch, by=rep)
    alpha.refresh_from_db()
    assert alpha.amount == Decimal("100.00")
    assert list(Opportunity.objects.values_list("name", flat=True)) == ["Alpha"]
    assert not Company.objects.filter(name="Initech").exists()
    assert not StageTransition.objects.filter(opportunity__name="Beta").exists()
    batch.refresh_from_db()
    assert batch.status == "undone" and not batch.records.exists()
    with pytest.raises(ValidationError, match="already undone"):
        services.undo(batch=batch, by=rep)


@pytest.mark.django_db
def test_undo_is_refused_for_records_changed_since(run_import, rep, pipeline, lost_reason):
    batch = run_import(
        rep,
        "deals",
        "Deal,Stage,Account\r\nA,Engaging,Acme\r\n",
        **deals_options(pipeline, lost_reason),
    )
    deal = Opportunity.objects.get()
    pipeline_services.update_opportunity(opportunity=deal, by=rep, version=deal.version, amount="5")
    with pytest.raises(ValidationError, match="changed since it ran.*deal “A”"):
        services.undo(batch=batch, by=rep)
    assert Opportunity.objects.count() == 1
    assert ImportedRecord.objects.filter(batch=batch).count() == 2


@pytest.mark.django_db
def test_undo_permissions(run_import, rep, rep2, manager, pipeline, lost_reason):
    from django.core.exceptions import PermissionDenied

    batch = run_import(
        rep,
        "deals",
        "Deal,Stage\r\nA,Engaging\r\n",
        **deals_options(pipeline, lost_reason, no_company="X"),
    )
    with pytest.raises(PermissionDenied):
        services.undo(batch=batch, by=rep2)
    services.undo(batch=batch, by=manager)
    assert not Opportunity.objects.exists()


@pytest.mark.django_db
def test_snapshot_backfill_fills_only_missing_dates_and_undo_removes_them(
    run_import, rep, pipeline, lost_reason
):
    forecasting_services.take_snapshot(taken_on=dt.date(2024, 5, 1), ranges=False)
    real = SnapshotRun.objects.get(taken_on=dt.date(2024, 5, 1))
    batch = run_import(
        rep,
        "deals",
        "Deal,Stage,Account,Created\r\nA,Engaging,Acme,2024-04-15\r\n",
        **deals_options(pipeline, lost_reason),
    )
    taken = services.backfill_after_import(batch_id=batch.pk)
    expected = forecasting_services.backfill_dates(
        start=dt.date(2024, 4, 15), end=dt.date(2024, 6, 13)
    )
    assert taken == [d.isoformat() for d in expected if d != dt.date(2024, 5, 1)]
    real.refresh_from_db()
    assert real.finished_at == real.finished_at  # kept
    assert SnapshotRun.objects.get(taken_on=dt.date(2024, 5, 1)).pk == real.pk
    assert ForecastSnapshot.objects.filter(taken_on=dt.date(2024, 4, 22), owner=rep).exists()
    services.undo(batch=ImportBatch.objects.get(pk=batch.pk), by=rep)
    assert set(SnapshotRun.objects.values_list("taken_on", flat=True)) == {dt.date(2024, 5, 1)}


@pytest.mark.django_db
def test_import_query_count_does_not_grow_with_rows(
    run_import, rep, pipeline, lost_reason, django_assert_max_num_queries
):
    rows = "".join(
        f"Deal {i},{i},Engaging,Co {i % 7},,2024-01-0{1 + i % 9},2024-02-01\r\n" for i in range(300)
    )
    csv = "Deal,Value,Stage,Account,Contact,Created,Engage date\r\n" + rows
    with django_assert_max_num_queries(60):
        batch = run_import(rep, "deals", csv, **deals_options(pipeline, lost_reason))
    assert batch.counts["create"] == 300
    assert UserFactory  # factories stay importable for the e2e fixtures


@pytest.mark.django_db
def test_deals_without_an_account_are_imported_without_company(
    run_import, rep, pipeline, lost_reason
):
    options = deals_options(pipeline, lost_reason)
    options["no_company"] = ""
    run_import(rep, "deals", "Deal,Stage,Account\r\nA,Engaging,\r\n", **options)
    assert Opportunity.objects.get().company is None
    assert not Company.objects.exists()
