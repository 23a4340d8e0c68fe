"""Personal API tokens: shown once and stored hashed, scoped, expiring, revocable (by their
owner or an admin), last-used time kept; throttled per token with 429 and Retry-After."""

import datetime as dt
import time

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from api import tokens
from api.models import ApiToken
from tests.api.conftest import token_client

pytestmark = pytest.mark.django_db


def test_token_is_stored_only_as_its_digest(rep):
    token, raw = tokens.create_token(user=rep, by=rep, name="Website form", scope="read")
    assert raw.startswith("opp_") and len(raw) > 40
    stored = ApiToken.objects.get(pk=token.pk)
    assert stored.digest == tokens.digest(raw) and raw not in stored.digest
    assert raw.startswith(stored.prefix) and len(stored.prefix) < len(raw) // 3


def test_token_authenticates_as_its_user_and_records_last_use(rep, opportunity):
    client = token_client(rep, scope="read")
    assert client.get("/api/v1/opportunities/").status_code == 200
    token = ApiToken.objects.get(user=rep)
    assert token.last_used_at is not None


def test_token_last_use_is_written_at_most_once_a_minute(rep, django_assert_num_queries):
    _, raw = tokens.create_token(user=rep, by=rep, name="t", scope="read")
    tokens.authenticate(raw)
    with django_assert_num_queries(0):  # cached, and no update within the minute
        assert tokens.authenticate(raw) is not None
    with django_assert_num_queries(1):  # a write reads the token afresh, without an update
        assert tokens.authenticate(raw, fresh=True) is not None
    later = timezone.now() + dt.timedelta(minutes=2)
    with time_machine.travel(later), CaptureQueriesContext(connection) as queries:
        assert tokens.authenticate(raw) is not None
    # last_used_at's one update (after a read where the cached token expired with the clock:
    # the in-process cache's clock travels, Redis's does not)
    writes = [q["sql"] for q in queries.captured_queries if not q["sql"].startswith("SELECT")]
    assert len(writes) == 1 and writes[0].startswith('UPDATE "api_apitoken" SET "last_used_at"')


@pytest.mark.parametrize("case", ["unknown", "revoked", "expired", "inactive_user", "no_prefix"])
def test_token_refused_is_401(rep, case):
    token, raw = tokens.create_token(
        user=rep,
        by=rep,
        name="t",
        scope="read_write",
        expires_on=timezone.localdate() + dt.timedelta(days=1),
    )
    moment = timezone.now()
    if case == "unknown":
        raw = raw[:-3] + "abc"
    elif case == "revoked":
        tokens.revoke_token(token=token, by=rep)
    elif case == "expired":
        moment += dt.timedelta(days=2)
    elif case == "inactive_user":
        rep.is_active = False
        rep.save()
    elif case == "no_prefix":
        raw = raw.removeprefix("opp_")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    with time_machine.travel(moment):
        response = client.get("/api/v1/opportunities/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] in ("invalid_token", "authentication_failed")
    assert response["WWW-Authenticate"] == "Bearer"


def test_token_anonymous_is_401_in_the_error_shape(db):
    response = APIClient().get("/api/v1/opportunities/")
    assert response.status_code == 401
    assert set(response.json()["error"]) >= {"code", "message", "fields"}


def test_token_bad_input_on_create_is_refused(rep):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as error:
        tokens.create_token(user=rep, by=rep, name="", scope="admin", expires_on="yesterday")
    assert set(error.value.message_dict) == {"name", "scope", "expires_on"}
    with pytest.raises(ValidationError):
        tokens.create_token(
            user=rep, by=rep, name="x", scope="read", expires_on=timezone.localdate()
        )
    assert not ApiToken.objects.exists()


def test_token_only_owner_or_admin_revokes(rep, rep2, admin_user):
    from django.core.exceptions import PermissionDenied

    token, _ = tokens.create_token(user=rep, by=rep, name="t", scope="read")
    with pytest.raises(PermissionDenied):
        tokens.revoke_token(token=token, by=rep2)
    tokens.revoke_token(token=token, by=admin_user)
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None


def test_token_page_shows_a_new_token_once_and_lists_own_tokens(client, rep, rep2):
    client.force_login(rep)
    tokens.create_token(user=rep2, by=rep2, name="Rep2 secret integration", scope="read")
    response = client.post(
        "/settings/api-tokens/", {"name": "Spreadsheet", "scope": "read", "expires_on": ""}
    )
    assert response.status_code == 200
    raw = response.context["raw"]
    assert raw and raw in response.content.decode()
    again = client.get("/settings/api-tokens/").content.decode()
    assert raw not in again and "Spreadsheet" in again
    assert "Rep2 secret integration" not in again


def test_token_page_admin_sees_and_revokes_every_token(client, rep, admin_user):
    token, _ = tokens.create_token(user=rep, by=rep, name="Rep's sync", scope="read")
    client.force_login(admin_user)
    assert "Rep&#x27;s sync" in client.get("/settings/api-tokens/").content.decode()
    response = client.post(f"/settings/api-tokens/{token.pk}/revoke/")
    assert response.status_code == 302
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None


def test_token_page_others_token_is_404(client, rep, rep2):
    token, _ = tokens.create_token(user=rep2, by=rep2, name="t", scope="read")
    client.force_login(rep)
    assert client.post(f"/settings/api-tokens/{token.pk}/revoke/").status_code == 404
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None


def test_token_throttle_is_429_with_retry_after(rep):
    client = token_client(rep, scope="read")
    ApiToken.objects.filter(user=rep).update(throttle_rate="2/min")
    assert client.get("/api/v1/users/").status_code == 200
    assert client.get("/api/v1/users/").status_code == 200
    response = client.get("/api/v1/users/")
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 60
    assert response.json()["error"]["code"] == "throttled"
    # another token of the same user has its own allowance
    assert token_client(rep, scope="read").get("/api/v1/users/").status_code == 200


def test_session_user_throttle(client, rep, settings):
    from rest_framework.settings import api_settings

    from api.throttling import UserRateThrottle

    client.force_login(rep)
    before = UserRateThrottle.THROTTLE_RATES
    UserRateThrottle.THROTTLE_RATES = {**api_settings.DEFAULT_THROTTLE_RATES, "user": "1/hour"}
    from django.core.cache import cache

    hour = int(time.time() // 3600)
    keys = [f"throttle_user_{rep.pk}:{w}" for w in (hour - 1, hour, hour + 1)]  # its windows
    try:
        cache.delete_many(keys)  # an earlier run's user of the same id
        assert client.get("/api/v1/users/").status_code == 200
        response = client.get("/api/v1/users/")
        assert response.status_code == 429
        assert 0 < int(response["Retry-After"]) <= 3600
    finally:
        UserRateThrottle.THROTTLE_RATES = before
        cache.delete_many(keys)


@pytest.mark.parametrize("change", ["revoke", "deactivate", "delete"])
def test_token_cached_after_use_still_stops_at_once(rep, opportunity, change):
    client = token_client(rep, scope="read")
    url = f"/api/v1/opportunities/{opportunity.pk}/"
    assert client.get(url).status_code == 200  # the token is now cached
    token = ApiToken.objects.get(user=rep)
    if change == "revoke":
        tokens.revoke_token(token=token, by=rep)
    elif change == "deactivate":
        rep.is_active = False
        rep.save()
    else:
        token.delete()
    assert client.get(url).status_code == 401


def test_token_cached_user_follows_a_team_change(rep, manager, other_team, opportunity):
    client = token_client(manager, scope="read")
    url = f"/api/v1/opportunities/{opportunity.pk}/"
    assert client.get(url).status_code == 200
    rep.team = other_team  # the rep leaves the manager's team
    rep.save()
    assert client.get(url).status_code == 404


def test_token_read_costs_no_query_of_its_own(rep, opportunity, django_assert_num_queries):
    client = token_client(rep, scope="read")
    url = f"/api/v1/opportunities/{opportunity.pk}/"
    client.get(url)
    with django_assert_num_queries(1):  # the deal with its line items; nothing for the token
        assert client.get(url).status_code == 200


@pytest.mark.parametrize("change", ["deactivate", "revoke", "expire", "demote"])
def test_token_cached_after_use_stops_at_once_after_a_bulk_update(
    rep, manager, opportunity, change
):
    """``update()`` sends no post_save: the querysets announce what they changed, so the
    cached token and user are dropped at once, not up to a minute later."""
    from accounts.models import User

    client = token_client(manager, scope="read")
    url = f"/api/v1/opportunities/{opportunity.pk}/"
    assert client.get(url).status_code == 200  # the token and the manager are now cached
    mine = ApiToken.objects.filter(user=manager)
    if change == "deactivate":
        User.objects.filter(team=manager.team, role="manager").update(is_active=False)
    elif change == "revoke":
        mine.update(revoked_at=timezone.now())
    elif change == "expire":
        mine.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    else:  # a rep from now on: the team's deals are no longer theirs to see
        User.objects.filter(pk=manager.pk).update(role="rep")
    assert client.get(url).status_code == (404 if change == "demote" else 401)


def test_token_cached_user_follows_a_bulk_change_of_the_teams_they_manage(
    rep, rep2, manager, opportunity
):
    from accounts.models import Team

    client = token_client(manager, scope="read")
    url = f"/api/v1/opportunities/{opportunity.pk}/"
    assert client.get(url).status_code == 200
    Team.objects.filter(pk=manager.team_id).update(manager=rep2)  # someone else leads it
    assert client.get(url).status_code == 404


def test_token_last_use_update_keeps_the_cached_entry(rep, django_assert_num_queries):
    _, raw = tokens.create_token(user=rep, by=rep, name="t", scope="read")
    tokens.authenticate(raw)
    ApiToken.objects.filter(user=rep).update(last_used_at=timezone.now())
    with django_assert_num_queries(0):
        assert tokens.authenticate(raw) is not None


def test_token_throttle_counts_per_window_and_a_new_window_starts_afresh(rep):
    client = token_client(rep, scope="read")
    ApiToken.objects.filter(user=rep).update(throttle_rate="2/min")
    start = dt.datetime(2026, 12, 1, 9, 0, 10, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False):
        assert [client.get("/api/v1/users/").status_code for _ in range(3)] == [200, 200, 429]
    with time_machine.travel(start + dt.timedelta(seconds=35), tick=False):
        refused = client.get("/api/v1/users/")
        assert refused.status_code == 429 and refused["Retry-After"] == "15"  # the minute's rest
    with time_machine.travel(start + dt.timedelta(seconds=51), tick=False):
        assert client.get("/api/v1/users/").status_code == 200


@pytest.mark.parametrize("backend", ["redis", "locmem"])
def test_throttle_counter_is_one_step_on_either_cache(backend, settings):
    import uuid

    from django.core.cache import caches

    from api.throttling import count

    if backend == "locmem":
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    elif "Redis" not in settings.CACHES["default"]["BACKEND"]:
        pytest.skip("needs REDIS_URL")
    key = f"throttle-test-{uuid.uuid4().hex}"
    assert [count(key, 60) for _ in range(3)] == [1, 2, 3]
    assert caches["default"].get(key) == 3
    caches["default"].delete(key)
