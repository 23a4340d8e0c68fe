"""Companies: create and edit customer accounts."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from pipeline import board_cache
from pipeline.models import Company
from pipeline.services.validation import (
    apply_fields,
    check_version,
    require_edit,
    require_owner_in_scope,
)

COMPANY_FIELDS = ("name", "website", "industry", "employees", "phone", "city", "country")


@transaction.atomic
def create_company(*, by, owner=None, **data) -> Company:
    owner = owner or by
    require_owner_in_scope(by, owner)
    company = Company(owner=owner)
    apply_fields(company, data, COMPANY_FIELDS)
    company.full_clean()
    company.save()
    return company


@transaction.atomic
def update_company(*, company: Company, by, version, owner=None, **data) -> Company:
    """Change a company's fields; ``version`` is the version the caller saw (stale: refused)."""
    company = Company.objects.select_for_update().get(pk=company.pk)
    require_edit(by, company, "company")
    check_version(company, version, "company")
    if owner is not None and owner != company.owner:
        require_owner_in_scope(by, owner)
        company.owner = owner
    apply_fields(company, data, COMPANY_FIELDS)
    company.full_clean()
    company.version += 1
    company.save()
    board_cache.changed()
    return company


def check_company_visible(by, company: Company | None) -> None:
    if company is not None and not Company.objects.visible_to(by).filter(pk=company.pk).exists():
        raise ValidationError({"company": "Choose a company you can see."})
