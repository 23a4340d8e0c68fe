"""The board's cache (pipeline/board_cache.py), on the real cache: a write is on the very next
board, for the writer and for their manager; scopes never share an entry; a repeated board
costs only the session and user queries."""

import datetime as dt
import os
import re
from decimal import Decimal

import pytest
from django.conf import settings
from django.urls import reverse

from accounts.models import User
from pipeline import board_cache, services
from tests.factories import CompanyFactory, OpportunityFactory, stage, stored_version
from tests.pipeline.test_admin import _existing, _pipeline_post

BOARD = "/pipeline/board/"

pytestmark = pytest.mark.skipif(
    not os.environ.get("REDIS_URL"), reason="the board cache needs Redis (REDIS_URL)"
)


@pytest.fixture(autouse=True)
def _cache_on():
    assert settings.OPPORTUNE_BOARD_CACHE_SECONDS > 0  # on by default with REDIS_URL


def _board(client, **params):
    """The page's main content, without the per-request CSRF tokens of the layout and of the
    person's view forms (density, collapse), which are drawn around the cached content."""
    response = client.get(BOARD, params)
    assert response.status_code == 200
    main = response.content.decode().split('<main id="main"')[1].split("</main>")[0]
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", main)


def _counts(client, pipeline, **params) -> dict[str, int]:
    """Column name → the count in its header, read from the page's HTML."""
    body = _board(client, pipeline=pipeline.pk, **params)
    out = {}
    for name in ("Qualification", "Discovery", "Proposal", "Negotiation"):
        col = body.split(f'<h2 id="col-title-{stage(pipeline, name).pk}">')[1]
        out[name] = int(col.split('<span class="num">')[1].split("</span>")[0])
    return out


CACHED_QUERIES = 3  # session, user, the bell's unread count


def _cached(client):
    """Whether the next board request is served from the cache: only the session, the user and
    the header's unread-notification count are read."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        _board(client)
    return len(ctx.captured_queries) == CACHED_QUERIES


@pytest.fixture
def boss(client, manager):
    """A second client, logged in as the rep's manager."""
    from django.test import Client

    other = Client()
    other.force_login(manager)
    return other


@pytest.fixture
def deal(rep, pipeline):
    return OpportunityFactory(owner=rep, pipeline=pipeline, name="Acme renewal")


def _warm(*clients):
    for c in clients:
        _board(c)
        assert _cached(c)


# --- the query budget --------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["rep", "manager", "admin_user"])
def test_board_cache_repeat_request_is_session_and_user_queries_only(
    client, request, deal, django_assert_num_queries, who
):
    client.force_login(request.getfixturevalue(who))
    first = _board(client, q="Acme")
    with django_assert_num_queries(CACHED_QUERIES):  # no board query
        assert _board(client, q="Acme") == first


# --- every write is on the very next request --------------------------------------------------


def test_board_cache_move_is_on_the_next_board_and_totals(client, boss, rep, deal, pipeline):
    client.force_login(rep)
    before = _counts(client, pipeline)
    assert before["Qualification"] == 1 and _counts(boss, pipeline) == before
    discovery = stage(pipeline, "Discovery")
    response = client.post(
        reverse("pipeline:opportunity_move", args=[deal.pk]),
        {"stage": discovery.pk, "version": deal.version, "board": f"pipeline={pipeline.pk}"},
        HTTP_ACCEPT="application/json",
    )
    assert response.json()["ok"] is True
    expected = {**before, "Qualification": 0, "Discovery": 1}
    assert _counts(client, pipeline) == expected
    assert _counts(boss, pipeline) == expected


def test_board_cache_edit_is_on_the_next_board(client, boss, rep, deal, pipeline):
    client.force_login(rep)
    _warm(client, boss)
    services.update_opportunity(
        opportunity=deal,
        by=rep,
        version=deal.version,
        name="Acme renewal, 3 years",
        amount=Decimal("77000"),
        next_step="send the contract",
    )
    for c in (client, boss):
        body = _board(c)
        assert "Acme renewal, 3 years" in body and "$77,000" in body
        assert "next: send the contract" in body


def test_board_cache_edit_posted_through_the_form_is_on_the_next_board(client, rep, deal, pipeline):
    client.force_login(rep)
    _warm(client)
    response = client.post(
        reverse("pipeline:opportunity_next_step", args=[deal.pk]),
        {"version": deal.version, "next_step": "call the CFO", "next_step_due": ""},
    )
    assert response.status_code == 302
    assert "next: call the CFO" in _board(client)


@pytest.mark.parametrize("how", ["won", "lost"])
def test_board_cache_close_is_on_the_next_board(
    client, boss, rep, deal, pipeline, lost_reason, how
):
    client.force_login(rep)
    _warm(client, boss)
    if how == "won":
        services.close_won(opportunity=deal, by=rep, version=deal.version)
    else:
        services.close_lost(opportunity=deal, by=rep, version=deal.version, lost_reason=lost_reason)
    for c in (client, boss):
        assert "Acme renewal" not in _board(c)
        assert _counts(c, pipeline)["Qualification"] == 0


def test_board_cache_reopen_is_on_the_next_board(client, boss, manager, rep, deal, pipeline):
    deal = services.close_won(opportunity=deal, by=rep, version=deal.version)
    client.force_login(rep)
    _warm(client, boss)
    services.move_opportunity(
        opportunity=deal, to_stage=stage(pipeline, "Proposal"), by=manager, version=deal.version
    )
    for c in (client, boss):
        assert "Acme renewal" in _board(c)
        assert _counts(c, pipeline)["Proposal"] == 1


def test_board_cache_create_is_on_the_next_board(client, boss, rep, pipeline):
    client.force_login(rep)
    _warm(client, boss)
    OpportunityFactory(owner=rep, pipeline=pipeline, name="Brand new deal")
    for c in (client, boss):
        assert "Brand new deal" in _board(c)
        assert _counts(c, pipeline)["Qualification"] == 1


def test_board_cache_reassign_is_on_both_reps_next_boards(
    client, boss, manager, rep, rep2, deal, pipeline
):
    from django.test import Client

    other = Client()
    other.force_login(rep2)
    client.force_login(rep)
    _warm(client, other, boss)
    services.update_opportunity(opportunity=deal, by=manager, version=deal.version, owner=rep2)
    assert "Acme renewal" not in _board(client)
    assert "Acme renewal" in _board(other)
    assert rep2.get_full_name() in _board(boss)


def test_board_cache_company_rename_is_on_the_next_board(client, rep, pipeline):
    company = CompanyFactory(owner=rep, name="Old name Ltd")
    OpportunityFactory(owner=rep, pipeline=pipeline, company=company)
    client.force_login(rep)
    assert "Old name Ltd" in _board(client)
    services.update_company(
        company=company, version=stored_version(company), by=rep, name="New name Ltd"
    )
    body = _board(client)
    assert "New name Ltd" in body and "Old name Ltd" not in body


def test_board_cache_admin_stage_rename_is_on_the_next_board(
    client, admin_user, rep, deal, pipeline
):
    client.force_login(rep)
    _warm(client)
    admin = client.__class__()
    admin.force_login(admin_user)
    stages = _existing(pipeline)
    stages[1]["name"] = "Needs analysis"
    url = reverse("admin:pipeline_pipeline_change", args=[pipeline.pk])
    assert admin.post(url, _pipeline_post(pipeline, stages)).status_code == 302
    assert "Needs analysis" in _board(client)


def test_board_cache_user_moved_to_another_team_leaves_the_managers_board(
    client, boss, rep, deal, other_team
):
    _warm(boss)
    rep.team = other_team
    rep.save()
    assert "Acme renewal" not in _board(boss)


def test_board_cache_logging_in_keeps_the_cache(client, rep, deal):
    client.force_login(rep)
    _warm(client)
    rep.save(update_fields=["last_login"])  # what logging in saves
    assert _cached(client)


def test_board_cache_write_invalidates_again_when_it_commits(
    rep, deal, pipeline, django_capture_on_commit_callbacks
):
    """A request between the write and its commit may cache the old rows under the new
    generation: the commit replaces it once more."""
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.move_opportunity(
            opportunity=deal, to_stage=stage(pipeline, "Discovery"), by=rep, version=deal.version
        )
        during = board_cache._generation()
    assert callbacks
    assert board_cache._generation() != during


# --- scopes never share an entry --------------------------------------------------------------


def test_board_cache_two_reps_of_one_team_never_see_each_others_cards(client, rep, rep2, pipeline):
    from django.test import Client

    OpportunityFactory(owner=rep, pipeline=pipeline, name="First rep deal")
    OpportunityFactory(owner=rep2, pipeline=pipeline, name="Second rep deal")
    client.force_login(rep)
    other = Client()
    other.force_login(rep2)
    for _ in range(2):  # the second round is served from the cache
        mine, theirs = _board(client), _board(other)
        assert "First rep deal" in mine and "Second rep deal" not in mine
        assert "Second rep deal" in theirs and "First rep deal" not in theirs


def test_board_cache_managers_and_admin_see_their_own_scopes(
    client, manager, rep, outsider, admin_user, pipeline
):
    from django.test import Client

    OpportunityFactory(owner=rep, pipeline=pipeline, name="East deal")
    OpportunityFactory(owner=outsider, pipeline=pipeline, name="West deal")
    west = Client()
    west.force_login(User.objects.get(username="manager_west"))
    admin = Client()
    admin.force_login(admin_user)
    client.force_login(manager)
    for _ in range(2):
        east_body, west_body, admin_body = _board(client), _board(west), _board(admin)
        assert "East deal" in east_body and "West deal" not in east_body
        assert "West deal" in west_body and "East deal" not in west_body
        assert "East deal" in admin_body and "West deal" in admin_body


def test_board_cache_entry_follows_the_filter(client, manager, rep, rep2, pipeline):
    OpportunityFactory(owner=rep, pipeline=pipeline, name="Rep deal")
    OpportunityFactory(owner=rep2, pipeline=pipeline, name="Rep2 deal")
    client.force_login(manager)
    for _ in range(2):
        assert "Rep2 deal" not in _board(client, owner=rep.pk)
        assert "Rep deal" not in _board(client, owner=rep2.pk)
        both = _board(client)
        assert "Rep deal" in both and "Rep2 deal" in both
    # Parameters the board does not know change nothing and share the entry.
    _board(client, owner=rep.pk)
    assert _board(client, owner=rep.pk, utm="x") == _board(client, owner=rep.pk)


def test_board_cache_role_change_changes_the_scope(client, rep, rep2, pipeline):
    OpportunityFactory(owner=rep2, pipeline=pipeline, name="Colleague deal")
    rep.team.manager = None  # so that the rep, once a manager, leads their team
    rep.team.save()
    client.force_login(rep)
    _warm(client)
    assert "Colleague deal" not in _board(client)
    User.objects.filter(pk=rep.pk).update(role=User.Role.MANAGER)  # no signal: the key moves
    assert "Colleague deal" in _board(client)


def test_board_cache_new_day_rebuilds_overdue_badges(client, rep, pipeline, time_machine):
    time_machine.move_to(dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC), tick=False)
    OpportunityFactory(
        owner=rep,
        pipeline=pipeline,
        name="Closes tomorrow",
        expected_close_date=dt.date(2026, 3, 11),
    )
    client.force_login(rep)
    assert "close date passed" not in _board(client)
    time_machine.move_to(dt.datetime(2026, 3, 12, 0, 5, tzinfo=dt.UTC), tick=False)
    assert "close date passed" in _board(client)


def test_board_cache_unreachable_cache_still_serves_the_board(client, rep, deal, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
        }
    }
    client.force_login(rep)
    assert "Acme renewal" in _board(client)
    services.update_opportunity(opportunity=deal, by=rep, version=deal.version, name="Renamed")
    assert "Renamed" in _board(client)


def test_board_cache_off_builds_every_request(client, rep, deal, settings):
    settings.OPPORTUNE_BOARD_CACHE_SECONDS = 0
    client.force_login(rep)
    _board(client)
    assert not _cached(client)


# --- the board as of a past day ------------------------------------------------------------


def test_board_as_of_is_cached_per_day_and_renewed_by_a_write(client, rep, pipeline, time_machine):
    time_machine.move_to(dt.datetime(2026, 3, 2, 12, tzinfo=dt.UTC), tick=False)
    company = CompanyFactory(name="Old name", owner=rep)
    OpportunityFactory(owner=rep, pipeline=pipeline, name="March deal", company=company)
    time_machine.move_to(dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC), tick=False)
    client.force_login(rep)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def as_of(day, **params):
        with CaptureQueriesContext(connection) as ctx:
            body = _board(client, as_of=day, **params)
        return body, len(ctx.captured_queries)

    first, built = as_of("2026-03-05")
    assert "March deal" in first and 'data-as-of="2026-03-05"' in first
    again, queries = as_of("2026-03-05")
    assert again == first and queries == CACHED_QUERIES < built  # served from the cache
    other, queries = as_of("2026-03-01")  # another day: its own entry (the deal was not yet)
    assert queries > CACHED_QUERIES and "March deal" not in other
    compared, queries = as_of("2026-03-05", compare="1")  # the comparison: its own entry
    assert queries > CACHED_QUERIES and "Hide the changes since" in compared
    assert "Old name" in first
    services.update_company(company=company, by=rep, version=company.version, name="New name")
    after, queries = as_of("2026-03-05")
    assert queries > CACHED_QUERIES and "New name" in after  # a write renews the generation
