"""The app icon: named by every page, and /favicon.ico for clients that ask anyway."""

import pytest

pytestmark = pytest.mark.django_db


def test_favicon_ico_leads_to_the_app_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"].endswith("img/favicon.svg")
    # every page names the icon, so browsers need not guess
    page = client.get("/accounts/login/").content.decode()
    assert 'rel="icon"' in page and "img/favicon.svg" in page
