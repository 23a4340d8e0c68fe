"""Root pytest configuration: shared fixtures for every app's tests.

Tests that need PostgreSQL or Redis skip with a reason where those are not configured (a
laptop on SQLite). With ``REQUIRE_SERVICES=1`` (CI) such a skip is turned into a failure, so
nothing silently goes untested there.
"""

import os
from urllib.parse import urlsplit, urlunsplit

import pytest


@pytest.fixture(autouse=True)
def _fresh_board_cache():
    """Each test starts with no cached board: the database is rolled back between tests, the
    cache (Redis when REDIS_URL is set) is not, and every admin shares one board scope."""
    from pipeline import board_cache

    board_cache.invalidate()


@pytest.fixture
def team(db):
    from tests.factories import TeamFactory

    return TeamFactory(name="East")


@pytest.fixture
def other_team(db):
    from tests.factories import TeamFactory

    return TeamFactory(name="West")


@pytest.fixture
def manager(team):
    from tests.factories import make_manager

    return make_manager(team, username="manager")


@pytest.fixture
def rep(team, manager):
    from tests.factories import UserFactory

    return UserFactory(username="rep", team=team)


@pytest.fixture
def rep2(team, manager):
    from tests.factories import UserFactory

    return UserFactory(username="rep2", team=team)


@pytest.fixture
def outsider(other_team):
    from tests.factories import UserFactory, make_manager

    make_manager(other_team, username="manager_west")
    return UserFactory(username="outsider", team=other_team)


@pytest.fixture
def admin_user(db):
    from tests.factories import UserFactory

    return UserFactory(username="admin", role="admin")


@pytest.fixture
def pipeline(db):
    from tests.factories import PipelineFactory

    return PipelineFactory(name="New business")


@pytest.fixture
def lost_reason(db):
    from tests.factories import LostReasonFactory

    return LostReasonFactory(name="Price")


@pytest.fixture
def opportunity(rep, pipeline):
    from tests.factories import OpportunityFactory

    return OpportunityFactory(owner=rep, pipeline=pipeline, name="Acme — 40 seats")


def pytest_configure(config):
    """Hash test passwords with a fast hasher: PBKDF2's production cost (about a second per
    user on these machines) would dominate the suite and proves nothing about the app."""
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    _own_redis_database_per_worker(settings)


def _own_redis_database_per_worker(settings):
    """Parallel workers (pytest-xdist, ``make test``) each get a Redis database of their own,
    as pytest-django gives each a PostgreSQL database of its own: cache keys, throttles and
    queues name row ids, which would otherwise cross between workers. Worker ``gwN`` takes the
    configured database + 1 + N; subprocesses a test starts (a Celery worker) inherit it."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not settings.REDIS_URL or not worker.startswith("gw"):
        return
    parts = urlsplit(settings.REDIS_URL)
    base = int(parts.path.strip("/") or 0)
    url = urlunsplit(parts._replace(path=f"/{base + 1 + int(worker[2:])}"))
    os.environ["REDIS_URL"] = settings.REDIS_URL = url
    settings.CELERY_BROKER_URL = settings.CELERY_RESULT_BACKEND = url
    settings.CACHES = {
        **settings.CACHES,
        "default": {**settings.CACHES["default"], "LOCATION": url},
    }
    from config.celery import app

    app.conf.broker_url = app.conf.result_backend = url


SERVICE_WORDS = ("postgresql", "redis", "database_url", "redis_url")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("REQUIRE_SERVICES") == "1":
        reason = str(report.longrepr).lower()
        if any(word in reason for word in SERVICE_WORDS):
            report.outcome = "failed"
            report.longrepr = f"skipped for a missing service, not allowed in CI: {reason}"
