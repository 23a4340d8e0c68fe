import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client, RequestFactory, override_settings
from django.urls import path
from django.views import defaults

from config import urls as project_urls


def _denied(request):
    raise PermissionDenied("You may not change this deal.")


def _boom(request):
    raise RuntimeError("boom")


urlpatterns = [path("denied/", _denied), path("boom/", _boom), *project_urls.urlpatterns]


@pytest.mark.django_db
def test_unknown_url_shows_friendly_404(client, rep):
    client.force_login(rep)
    response = client.get("/pipeline/opportunities/999999999/")
    assert response.status_code == 404
    assert b"couldn't find that page" in response.content


@pytest.mark.django_db
@override_settings(ROOT_URLCONF=__name__)
def test_permission_denied_explains_and_keeps_layout(client, rep):
    client.force_login(rep)
    response = client.get("/denied/")
    assert response.status_code == 403
    assert b"You may not change this deal." in response.content


@override_settings(ROOT_URLCONF=__name__)
def test_server_error_page_has_no_traceback(db):
    client = Client(raise_request_exception=False)
    response = client.get("/boom/")
    assert response.status_code == 500
    assert b"Something went wrong on our side" in response.content
    assert b"Traceback" not in response.content and b"boom" not in response.content


def test_bad_request_page_renders(rf: RequestFactory, db):
    from django.contrib.auth.models import AnonymousUser

    request = rf.get("/")
    request.user = AnonymousUser()
    response = defaults.bad_request(request, Exception("x"))
    assert response.status_code == 400
    assert b"didn't make sense" in response.content
