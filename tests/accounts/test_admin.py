"""Django admin for teams and users: admins (role admin, even without is_staff) manage them;
reps and managers are sent to the admin login."""

import pytest
from django.urls import reverse

from accounts.models import User


def _urls(team, user):
    return [
        reverse("admin:accounts_team_changelist"),
        reverse("admin:accounts_team_change", args=[team.pk]),
        reverse("admin:accounts_team_add"),
        reverse("admin:accounts_user_changelist"),
        reverse("admin:accounts_user_change", args=[user.pk]),
        reverse("admin:accounts_user_add"),
    ]


def test_admin_team_and_user_pages_load_for_admin_role(client, admin_user, rep):
    client.force_login(admin_user)
    for url in _urls(rep.team, rep):
        assert client.get(url).status_code == 200, url


def test_admin_team_page_lists_members(client, admin_user, rep, rep2):
    client.force_login(admin_user)
    page = client.get(reverse("admin:accounts_team_change", args=[rep.team.pk]))
    assert b"rep2" in page.content and b"manager" in page.content


@pytest.mark.parametrize("who", ["rep", "manager"])
def test_admin_team_and_user_pages_refused_to_rep_and_manager(client, request, rep, who):
    client.force_login(request.getfixturevalue(who))
    for url in _urls(rep.team, rep):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("admin:login"))


def test_admin_refused_to_anonymous(client, rep):
    response = client.get(reverse("admin:accounts_user_changelist"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_admin_refused_to_deactivated_admin(client, admin_user):
    client.force_login(admin_user)
    User.objects.filter(pk=admin_user.pk).update(is_active=False)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302


def test_admin_login_accepts_admin_role_without_staff_flag(client, admin_user):
    response = client.post(
        reverse("admin:login"),
        {"username": "admin", "password": "pass-word-123", "next": reverse("admin:index")},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:index")
    assert client.get(reverse("admin:index")).status_code == 200


@pytest.mark.parametrize("who", ["rep", "manager"])
def test_admin_login_refuses_rep_and_manager(client, request, who):
    user = request.getfixturevalue(who)
    response = client.post(
        reverse("admin:login"), {"username": user.username, "password": "pass-word-123"}
    )
    assert response.status_code == 200
    assert b"the username and password of an administrator account" in response.content
    assert "_auth_user_id" not in client.session


def test_admin_user_add_creates_rep_in_team(client, admin_user, team):
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:accounts_user_add"),
        {
            "username": "newrep",
            "password1": "a-long-pass-2026",
            "password2": "a-long-pass-2026",
            "usable_password": "true",
            "first_name": "New",
            "last_name": "Rep",
            "email": "new@example.com",
            "role": "rep",
            "team": team.pk,
        },
    )
    assert response.status_code == 302, response.content[:2000]
    created = User.objects.get(username="newrep")
    assert (created.role, created.team, created.first_name) == ("rep", team, "New")
    assert created.check_password("a-long-pass-2026")


def test_admin_team_manager_autocomplete_for_admin(client, admin_user, manager):
    client.force_login(admin_user)
    response = client.get(
        reverse("admin:autocomplete"),
        {"app_label": "accounts", "model_name": "team", "field_name": "manager", "term": "man"},
    )
    assert response.status_code == 200
    assert any(r["id"] == str(manager.pk) for r in response.json()["results"])
