"""Contacts: create and edit the people at customer accounts."""

from __future__ import annotations

from django.db import transaction

from pipeline.models import Company, Contact
from pipeline.services.companies import check_company_visible
from pipeline.services.validation import (
    apply_fields,
    check_version,
    require_edit,
    require_owner_in_scope,
)

CONTACT_FIELDS = ("first_name", "last_name", "email", "phone", "title", "is_decision_maker")


@transaction.atomic
def create_contact(*, by, owner=None, company: Company | None = None, **data) -> Contact:
    owner = owner or by
    require_owner_in_scope(by, owner)
    check_company_visible(by, company)
    contact = Contact(owner=owner, company=company)
    apply_fields(contact, data, CONTACT_FIELDS)
    contact.full_clean()
    contact.save()
    return contact


@transaction.atomic
def update_contact(*, contact: Contact, by, version, owner=None, company=..., **data) -> Contact:
    """Change a contact's fields; ``version`` is the version the caller saw (stale: refused)."""
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    require_edit(by, contact, "contact")
    check_version(contact, version, "contact")
    if owner is not None and owner != contact.owner:
        require_owner_in_scope(by, owner)
        contact.owner = owner
    if company is not ...:
        if company is not None and company.pk != contact.company_id:
            check_company_visible(by, company)
        contact.company = company
    apply_fields(contact, data, CONTACT_FIELDS)
    contact.full_clean()
    contact.version += 1
    contact.save()
    return contact
