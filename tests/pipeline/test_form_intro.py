"""Every workspace form announces, for screen readers, that it came back with errors."""

import pytest
from django.urls import reverse

from tests.factories import LeadFactory


@pytest.mark.parametrize(
    "url_name, noun, data",
    [
        ("company_create", "company", {"name": ""}),
        ("contact_create", "contact", {"first_name": ""}),
        ("lead_create", "lead", {"first_name": ""}),
    ],
)
def test_form_with_errors_is_announced(client, rep, url_name, noun, data):
    client.force_login(rep)
    response = client.post(reverse(f"pipeline:{url_name}"), data)
    assert response.status_code == 200
    html = response.content.decode()
    assert f"The {noun} was not saved: correct the fields marked below." in html
    assert "are required." in html
    fresh = client.get(reverse(f"pipeline:{url_name}")).content.decode()
    assert "was not saved" not in fresh


def test_convert_form_with_errors_is_announced(client, rep):
    lead = LeadFactory(owner=rep, status="prospect")
    client.force_login(rep)
    response = client.post(reverse("pipeline:lead_convert", args=[lead.pk]), {})
    assert response.status_code == 200
    assert (
        "The lead was not converted: correct the fields marked below." in response.content.decode()
    )


@pytest.mark.parametrize("url_name", ["company_create", "contact_create", "lead_create"])
def test_form_posted_empty_shows_errors_and_saves_nothing(client, rep, url_name):
    from pipeline.models import Company, Contact, Lead

    client.force_login(rep)
    response = client.post(reverse(f"pipeline:{url_name}"), {})
    assert response.status_code == 200
    assert "was not saved" in response.content.decode()
    assert not (Company.objects.exists() or Contact.objects.exists() or Lead.objects.exists())
