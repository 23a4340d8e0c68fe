"""The import's bulk writes: COPY on PostgreSQL, ``bulk_create`` elsewhere, with the model's
defaults; and the set-wise delete that honours every relation's ``on_delete``."""

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from imports.models import ImportBatch, ImportedRecord
from imports.services.bulk import delete_all, insert_records, insert_rows
from pipeline.models import Activity, Company, Contact, Lead, Opportunity
from tests.factories import CompanyFactory, ContactFactory, LeadFactory, OpportunityFactory


@pytest.mark.django_db
def test_insert_records_returns_the_ids_and_fills_defaults(rep):
    before = timezone.now()
    ids = insert_records(
        Company, [{"name": "Acme", "owner_id": rep.pk}, {"name": "Globex", "owner_id": rep.pk}]
    )
    rows = {c.pk: c for c in Company.objects.filter(pk__in=ids)}
    assert [rows[i].name for i in ids] == ["Acme", "Globex"]
    acme = rows[ids[0]]
    assert acme.version == 1  # the field's default
    assert acme.website == ""
    assert acme.created_at >= before and acme.updated_at >= before  # default and auto_now


@pytest.mark.django_db
def test_insert_rows_writes_json_and_counts(rep):
    batch = ImportBatch.objects.create(kind="deals", owner=rep, file_name="f.csv")
    count = insert_rows(
        ImportedRecord,
        (
            {
                "batch_id": batch.pk,
                "model": "deal",
                "object_id": i,
                "action": "updated",
                "before": {"amount": "10.00", "stage": i},
                "stamp": "2",
            }
            for i in range(3)
        ),
    )
    assert count == 3
    stored = list(batch.records.order_by("object_id").values_list("object_id", "before"))
    assert stored == [(i, {"amount": "10.00", "stage": i}) for i in range(3)]
    assert insert_rows(ImportedRecord, iter([])) == 0


@pytest.mark.django_db
def test_delete_all_honours_each_relation(rep, pipeline):
    company = CompanyFactory(owner=rep)
    contact = ContactFactory(owner=rep, company=company)
    kept = ContactFactory(owner=rep)
    lead = LeadFactory(owner=rep, contact=contact)
    Activity.objects.create(
        kind="note", subject="Met", owner=rep, contact=contact, occurred_at=timezone.now()
    )
    ids = Contact.objects.filter(pk=contact.pk).values("pk")

    delete_all(Contact, ids)

    assert not Contact.objects.filter(pk=contact.pk).exists()
    assert Contact.objects.filter(pk=kept.pk).exists()
    lead.refresh_from_db()
    assert lead.contact_id is None  # SET_NULL
    assert not Activity.objects.filter(contact_id=contact.pk).exists()  # CASCADE

    deal = OpportunityFactory(owner=rep, company=company, pipeline=pipeline)
    with pytest.raises(ValidationError, match="still used by"):
        delete_all(Company, Company.objects.filter(pk=company.pk).values("pk"))  # PROTECT
    assert Company.objects.filter(pk=company.pk).exists()
    delete_all(Opportunity, Opportunity.objects.filter(pk=deal.pk).values("pk"))
    assert not Opportunity.history.filter(id=deal.pk).exists()  # its field history too
    delete_all(Company, Company.objects.filter(pk=company.pk).values("pk"))
    assert not Company.objects.filter(pk=company.pk).exists()
    assert Lead.objects.filter(pk=lead.pk).exists()
