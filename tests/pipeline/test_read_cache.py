"""The cache of computed figures (pipeline/read_cache.py), on the real cache (Redis): a repeat
request reuses the figures; every write, including the bulk ones that send no model signal,
is on the very next request; scopes and inputs never share an entry."""

import datetime as dt
import os
import re
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from forecasting import services as forecasting_services
from pipeline import read_cache, services
from pipeline.views.opportunities import CSRF_PLACEHOLDER
from tests.factories import OpportunityFactory, stage

pytestmark = pytest.mark.skipif(
    not os.environ.get("REDIS_URL"), reason="the cache of figures needs Redis (REDIS_URL)"
)


@pytest.fixture(autouse=True)
def _cache_on():
    assert settings.OPPORTUNE_READ_CACHE_SECONDS > 0  # on by default with REDIS_URL


class Counter:
    def __init__(self):
        self.calls = 0

    def __call__(self):
        self.calls += 1
        return {"n": self.calls, "amount": Decimal("12.50")}


# --- the cache itself -------------------------------------------------------------------------


def test_read_cache_repeat_reuses_the_value(rep):
    build = Counter()
    first = read_cache.cached("t", rep, "a", build)
    assert read_cache.cached("t", rep, "a", build) == first == {"n": 1, "amount": Decimal("12.50")}
    assert build.calls == 1


def test_read_cache_inputs_names_and_scopes_never_share(rep, rep2, manager, admin_user):
    build = Counter()
    read_cache.cached("t", rep, "a", build)
    read_cache.cached("t", rep, "b", build)  # other inputs
    read_cache.cached("u", rep, "a", build)  # another computation
    read_cache.cached("t", rep2, "a", build)  # another rep of the same team
    read_cache.cached("t", manager, "a", build)
    read_cache.cached("t", admin_user, "a", build)
    assert build.calls == 6


def test_read_cache_off_computes_every_time(rep, settings):
    settings.OPPORTUNE_READ_CACHE_SECONDS = 0
    build = Counter()
    read_cache.cached("t", rep, "a", build)
    read_cache.cached("t", rep, "a", build)
    assert build.calls == 2


def test_read_cache_unreachable_cache_computes(rep, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
        }
    }
    build = Counter()
    assert read_cache.cached("t", rep, "a", build)["n"] == 1
    assert read_cache.cached("t", rep, "a", build)["n"] == 2


def test_read_cache_new_day_computes_again(rep, time_machine):
    time_machine.move_to(timezone.now().replace(hour=12))
    build = Counter()
    read_cache.cached("t", rep, "a", build)
    time_machine.shift(dt.timedelta(days=1))
    read_cache.cached("t", rep, "a", build)
    assert build.calls == 2


def test_read_cache_key_of_names_the_filters_not_the_viewer_or_the_moment(rep, rep2, pipeline):
    from forecasting.reports.scope import ReportScope

    day = dt.date(2026, 3, 1)
    a = ReportScope(user=rep, start=day, end=day, pipeline=pipeline)
    b = ReportScope(user=rep2, start=day, end=day, pipeline=pipeline)
    assert read_cache.key_of(a) == read_cache.key_of(b)
    assert f"pipeline.pipeline={pipeline.pk}" in read_cache.key_of(a)
    assert "2026-03-01" in read_cache.key_of(a)
    assert read_cache.key_of(a, group="source") != read_cache.key_of(a, group="owner")
    assert read_cache.key_of(a) != read_cache.key_of(ReportScope(user=rep, start=day, end=day))


# --- every write is on the very next computation ----------------------------------------------


def _warm(user) -> Counter:
    build = Counter()
    read_cache.cached("t", user, "a", build)
    read_cache.cached("t", user, "a", build)
    assert build.calls == 1
    return build


def _recomputed(user, build) -> bool:
    before = build.calls
    read_cache.cached("t", user, "a", build)
    return build.calls == before + 1


def test_read_cache_activity_logged_is_a_change(rep, opportunity):
    build = _warm(rep)
    services.log_activity(by=rep, kind="call", subject="Called", opportunity=opportunity)
    assert _recomputed(rep, build)


def test_read_cache_quota_set_is_a_change(manager, rep):
    build = _warm(manager)
    forecasting_services.set_quota(
        by=manager, month=timezone.localdate().replace(day=1), amount=Decimal("5000"), user=rep
    )
    assert _recomputed(manager, build)


def test_read_cache_snapshot_written_in_bulk_is_a_change(manager, opportunity):
    build = _warm(manager)
    forecasting_services.take_snapshot(taken_on=timezone.localdate(), ranges=True)
    assert _recomputed(manager, build)


def test_read_cache_bulk_user_change_is_a_change(manager, rep):
    from accounts.models import User

    build = _warm(manager)
    User.objects.filter(pk=rep.pk).update(first_name="Renamed")
    assert _recomputed(manager, build)


def test_read_cache_logging_in_is_not_a_change(rep):
    build = _warm(rep)
    rep.save(update_fields=["last_login"])  # what logging in saves
    assert not _recomputed(rep, build)


def test_read_cache_write_is_announced_when_it_commits(
    rep, opportunity, django_capture_on_commit_callbacks
):
    """Other requests see the rows once the transaction commits: the generation is replaced
    then (the writer's own later reads recompute before)."""
    read_cache._generations()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.log_activity(by=rep, kind="note", subject="Noted", opportunity=opportunity)
        assert getattr(connection, read_cache._PENDING)
    assert callbacks
    assert not getattr(connection, read_cache._PENDING)


# --- pages --------------------------------------------------------------------------------------


def _main(client, url, **params) -> str:
    response = client.get(url, params)
    assert response.status_code == 200
    main = response.content.decode().split('<main id="main"')[1].split("</main>")[0]
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", main)


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        _main(client, url)
    return len(ctx.captured_queries)


@pytest.mark.parametrize(
    "url",
    [
        "/",
        "/forecasting/",
        "/forecasting/reports/pipeline/",
        "/forecasting/reports/scorecards/",
        "/forecasting/changes/",
    ],
)
def test_read_cache_pages_repeat_from_the_cache_and_show_a_new_deal_at_once(
    client, manager, rep, pipeline, url
):
    OpportunityFactory(owner=rep, pipeline=pipeline, name="First", amount=Decimal("1000"))
    client.force_login(manager)
    first = _main(client, url)
    read_cache.invalidate()
    cold = _queries(client, url)
    warm = _queries(client, url)
    assert warm < cold
    assert _main(client, url) == first
    OpportunityFactory(
        owner=rep,
        pipeline=pipeline,
        name="Second",
        amount=Decimal("987654"),
        expected_close_date=timezone.localdate(),
    )
    after = _main(client, url)
    assert after != first
    if url in ("/forecasting/", "/forecasting/reports/pipeline/"):
        assert "988" in after or "987,654" in after  # the new deal counts at once


def test_read_cache_accuracy_is_computed_again_after_a_snapshot(client, manager, opportunity):
    """Accuracy reads snapshots, which are written in bulk: the page is computed again."""
    url = "/forecasting/accuracy/"
    client.force_login(manager)
    read_cache.invalidate()
    cold = _queries(client, url)
    assert _queries(client, url) < cold
    forecasting_services.take_snapshot(taken_on=timezone.localdate(), ranges=False)
    assert _queries(client, url) == cold


def test_read_cache_deal_page_timeline_shows_a_new_activity_at_once(client, rep, opportunity):
    client.force_login(rep)
    url = opportunity.get_absolute_url()
    assert "Called the buyer" not in _main(client, url)
    services.log_activity(by=rep, kind="call", subject="Called the buyer", opportunity=opportunity)
    assert "Called the buyer" in _main(client, url)


def test_read_cache_deal_page_timeline_shows_a_move_at_once(client, rep, opportunity, pipeline):
    client.force_login(rep)
    url = opportunity.get_absolute_url()
    _main(client, url)
    services.move_opportunity(
        opportunity=opportunity,
        to_stage=stage(pipeline, "Discovery"),
        by=rep,
        version=opportunity.version,
    )
    assert "Discovery" in _main(client, url).split('id="timeline"')[-1]


# --- the deal page ------------------------------------------------------------------------------


def test_read_cache_deal_page_repeat_reads_no_deal_query(
    client, rep, opportunity, django_assert_num_queries
):
    client.force_login(rep)
    url = opportunity.get_absolute_url()
    first = _main(client, url)
    with django_assert_num_queries(3):  # session, user, the bell's unread count
        assert _main(client, url) == first


def test_read_cache_deal_page_reassigned_away_is_a_404_on_the_next_request(
    client, rep, rep2, manager, opportunity
):
    client.force_login(rep)
    url = opportunity.get_absolute_url()
    _main(client, url)
    services.update_opportunity(
        opportunity=opportunity, by=manager, version=opportunity.version, owner=rep2
    )
    assert client.get(url).status_code == 404


def test_read_cache_deal_page_forms_carry_each_visitors_own_csrf_token(rep, manager, opportunity):
    from django.test import Client

    url = opportunity.get_absolute_url()
    tokens = []
    for user in (rep, manager):
        c = Client(enforce_csrf_checks=True)
        c.force_login(user)
        body = c.get(url).content.decode()
        assert CSRF_PLACEHOLDER not in body
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1)
        tokens.append(token)
        if user == rep:  # the cached page's form posts with the visitor's token
            response = c.post(
                f"/pipeline/opportunities/{opportunity.pk}/next-step/",
                {"next_step": "Send the proposal", "version": opportunity.version},
                HTTP_X_CSRFTOKEN=token,
            )
            assert response.status_code in (200, 302)
    assert tokens[0] != tokens[1]


def test_read_cache_deal_page_is_never_served_to_a_viewer_who_may_not_see_it(
    client, rep, outsider, opportunity
):
    client.force_login(rep)
    url = opportunity.get_absolute_url()
    _main(client, url)
    client.force_login(outsider)
    assert client.get(url).status_code == 404


def test_read_cache_deal_page_shows_an_edit_at_once(client, rep, opportunity):
    client.force_login(rep)
    url = opportunity.get_absolute_url()
    _main(client, url)
    services.update_opportunity(
        opportunity=opportunity, by=rep, version=opportunity.version, name="Renamed deal"
    )
    page = client.get(url).content.decode()
    assert "<title>Renamed deal" in page
    assert "<h1>Renamed deal</h1>" in page


def test_read_cache_replica_read_right_after_a_change_is_not_cached(rep, monkeypatch, settings):
    """A replica may lag the primary: right after a change, a page computed from it is served
    but not kept; once the change is older than the replica pin, it is kept again."""
    from config import routers

    monkeypatch.setattr(routers, "replica_configured", lambda: True)
    settings.OPPORTUNE_REPLICA_PIN_SECONDS = 15
    read_cache.invalidate()
    build = Counter()
    with routers.replica_reads():
        read_cache.cached("t", rep, "a", build)
        read_cache.cached("t", rep, "a", build)
    assert build.calls == 2
    read_cache.cached("t", rep, "a", build)  # the primary: kept
    read_cache.cached("t", rep, "a", build)
    assert build.calls == 3
    settings.OPPORTUNE_REPLICA_PIN_SECONDS = 0
    with routers.replica_reads():
        read_cache.cached("t", rep, "b", build)
        read_cache.cached("t", rep, "b", build)
    assert build.calls == 4
