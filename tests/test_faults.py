"""Faults on real services: what users and jobs see when Redis stops, when PostgreSQL drops
the app's connection, and when a worker dies in the middle of the nightly snapshot.

Each test starts what it breaks on its own: a ``redis-server`` on a free port (stopped by the
test, never the shared one), a gunicorn process, a Celery worker (killed with SIGKILL).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
import redis
import time_machine
from celery import Celery
from django.conf import settings
from django.db import connection
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from config import request_id as rid
from forecasting.models import ForecastRange, ForecastSnapshot
from tests.factories import OpportunityFactory, stage

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DATABASE_URL = os.environ.get("DATABASE_URL", "")

needs_postgres = pytest.mark.skipif(
    not DATABASE_URL.startswith("postgres"),
    reason="the fault tests share the test database with other processes: set DATABASE_URL "
    "to PostgreSQL",
)
needs_redis_cache = pytest.mark.skipif(
    not os.environ.get("REDIS_URL"),
    reason="the cache is Redis only with REDIS_URL set (set REDIS_URL)",
)
needs_redis_server = pytest.mark.skipif(
    shutil.which("redis-server") is None,
    reason="needs redis-server installed (the test starts its own Redis)",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(predicate, *, timeout: float, what: str):
    """Poll until ``predicate()`` is truthy (returns it); a bounded wait, not a timing test."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what} after {timeout:.0f} s")
        time.sleep(0.1)


def _stop(process: subprocess.Popen, *, timeout: float = 20) -> str:
    """Stop a child gracefully (SIGKILL if it hangs); returns what it printed."""
    if process.poll() is None:
        process.terminate()
    try:
        out, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, _ = process.communicate()
    return out or ""


class PrivateRedis:
    """A throwaway ``redis-server``: no persistence, its own port, stoppable by the test."""

    def __init__(self):
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)
        _wait_for(lambda: self._answers(client), timeout=20, what="redis-server to start")

    @staticmethod
    def _answers(client) -> bool:
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.running:
            self.process.terminate()
            self.process.wait(timeout=20)


@pytest.fixture
def private_redis():
    server = PrivateRedis()
    try:
        yield server
    finally:
        server.stop()


def _reset_producers(app) -> None:
    """Drop the app's pooled broker connections so the next publish connects afresh.

    The app's pool is kombu's shared pool for its broker URL: closing it alone would leave
    the closed pool in kombu's registry, and every later publish to that broker (in later
    tests of this process) would fail with "Acquire on closed pool". ``pools.reset()``
    closes and forgets them all, so the next publish builds a new one."""
    from kombu import pools

    pools.reset()
    app._pool = None
    if "amqp" in app.__dict__:
        app.amqp._producer_pool = None


def _redis_cache(url: str) -> dict:
    """The configured Redis cache (its timeouts included) on ``url``."""
    options = settings.CACHES["default"].get("OPTIONS", {})
    backend = "django.core.cache.backends.redis.RedisCache"
    return {"BACKEND": backend, "LOCATION": url, "OPTIONS": options}


@contextlib.contextmanager
def app_pointed_at(url: str):
    """The web app's cache and Celery broker on ``url`` for the duration (settings override
    resets Django's cache connections; the Celery app's producers are rebuilt)."""
    from config.celery import app

    caches = {"default": _redis_cache(url)}
    saved = app.conf.broker_url
    with override_settings(CACHES=caches, CELERY_BROKER_URL=url):
        app.conf.broker_url = url
        _reset_producers(app)
        try:
            yield
        finally:
            app.conf.broker_url = saved
            _reset_producers(app)


# --- (a) Redis stopped ------------------------------------------------------------------------


@needs_redis_server
@pytest.mark.redis
@pytest.mark.django_db
def test_fault_redis_stopped_pages_moves_and_login_still_work(rep, pipeline, private_redis):
    from django.core.cache import cache

    deal = OpportunityFactory(owner=rep, pipeline=pipeline, name="Harbour cranes")
    client = Client()
    with app_pointed_at(private_redis.url):
        cache.set("fault-probe", "up")
        assert redis.Redis.from_url(private_redis.url).exists(":1:fault-probe") == 1
        assert client.get("/healthz").json()["status"] == "ok"

        private_redis.stop()

        health = client.get("/healthz")
        assert health.status_code == 200
        body = health.json()
        assert body["status"] == "degraded" and body["broker"]["ok"] is False
        assert body["database"]["ok"] is True

        login = client.post(
            reverse("login"), {"username": "rep", "password": "pass-word-123"}, follow=False
        )
        assert login.status_code == 302 and login["Location"] == reverse("home")

        for url in (reverse("pipeline:board"), deal.get_absolute_url()):
            response = client.get(url)
            assert response.status_code == 200 and b"Harbour cranes" in response.content, url
        for url in (reverse("forecasting:dashboard"), reverse("home")):
            assert client.get(url).status_code == 200, url

        discovery = stage(pipeline, "Discovery")
        move = client.post(
            reverse("pipeline:opportunity_move", args=[deal.pk]),
            {"stage": discovery.pk, "version": deal.version},
        )
        assert move.status_code == 302
        deal.refresh_from_db()
        assert deal.stage_id == discovery.pk and deal.version == 2

        board = client.get(reverse("pipeline:board"))
        assert board.status_code == 200 and b"Harbour cranes" in board.content


@needs_redis_cache
@pytest.mark.redis
@pytest.mark.django_db
def test_fault_redis_that_never_answers_costs_a_timeout_not_a_worker(rep, pipeline):
    """A Redis that accepts connections and never replies (overloaded, half-dead): the cache's
    socket timeout ends each wait, and the board still opens (a cache error is a miss)."""
    from django.core.cache import cache

    assert settings.CACHES["default"]["OPTIONS"]["socket_timeout"] <= 5
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)  # the kernel completes the handshake; nothing ever reads or answers
    url = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
    OpportunityFactory(owner=rep, pipeline=pipeline, name="Quiet harbour")
    client = Client()
    client.force_login(rep)
    try:
        with override_settings(CACHES={"default": _redis_cache(url)}):
            with pytest.raises(redis.exceptions.TimeoutError):
                cache.get("fault-probe")
            board = client.get(reverse("pipeline:board"))
            assert board.status_code == 200 and b"Quiet harbour" in board.content
    finally:
        silent.close()


# --- (b) PostgreSQL drops the app's connection ----------------------------------------------


def _backends(cursor) -> set[int]:
    """The other sessions on the test database."""
    cursor.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
    )
    return {row[0] for row in cursor.fetchall()}


def _get(url: str, cookie: str) -> int:
    request = urllib.request.Request(url, headers={"Cookie": cookie})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except urllib.error.URLError:
        return 0  # not listening (yet)


@needs_postgres
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("health_checks", ["1", "0"], ids=["health-checks-on", "off"])
def test_fault_database_connection_killed_next_request_succeeds(rep, pipeline, health_checks):
    """A real gunicorn keeps its connection between requests (CONN_MAX_AGE); PostgreSQL
    terminates it. With CONN_HEALTH_CHECKS (the default) the next request reconnects; without
    it, that request fails (the control that shows the setting is what saves it)."""
    OpportunityFactory(owner=rep, pipeline=pipeline, name="Quay lights")
    browser = Client()
    browser.force_login(rep)
    cookie = f"{settings.SESSION_COOKIE_NAME}={browser.cookies[settings.SESSION_COOKIE_NAME].value}"
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"{DATABASE_URL.rsplit('/', 1)[0]}/{connection.settings_dict['NAME']}",
        "OPPORTUNE_DEV": "1",
        "DEBUG": "1",  # plain HTTP on loopback, whatever production's transport settings
        "REDIS_URL": "",
        "CONN_MAX_AGE": "600",
        "CONN_HEALTH_CHECKS": health_checks,
    }
    server = subprocess.Popen(
        [str(BIN / "gunicorn"), "config.wsgi:application", "--workers", "1",
         "--bind", f"127.0.0.1:{port}", "--timeout", "60"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    board = f"{base}{reverse('pipeline:board')}"
    with connection.cursor() as cursor:
        others = _backends(cursor)  # sessions left by earlier tests are not the server's
    try:
        _wait_for(lambda: _get(f"{base}/healthz", "") == 200, timeout=60, what="gunicorn")
        assert _get(board, cookie) == 200
        with connection.cursor() as cursor:
            victims = _backends(cursor) - others
            assert len(victims) == 1, victims  # one sync worker, one kept connection
            for pid in victims:
                cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
            _wait_for(lambda: not (_backends(cursor) & victims), timeout=30, what="termination")

        if health_checks == "1":
            assert _get(board, cookie) == 200
        else:
            assert _get(board, cookie) == 500  # used the dead connection
            assert _get(board, cookie) == 200  # Django dropped it after the error

        with connection.cursor() as cursor:
            fresh = _backends(cursor) - others
        assert fresh and not (fresh & victims)
    finally:
        log = _stop(server)
    if health_checks == "1":
        assert "Traceback" not in log, log[-3000:]


# --- (c) the worker dies in the middle of the nightly snapshot --------------------------------


def _worker(redis_url: str, name: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": f"{DATABASE_URL.rsplit('/', 1)[0]}/{connection.settings_dict['NAME']}",
        "REDIS_URL": redis_url,
        "OPPORTUNE_DEV": "1",
        "CONN_MAX_AGE": "0",
        "LOG_FORMAT": "json",
    }
    return subprocess.Popen(
        [str(BIN / "celery"), "-A", "config", "worker", "--pool=solo", "-c", "1",
         "--loglevel=INFO", "-n", f"{name}-{os.getpid()}@%h"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def _producer(redis_url: str) -> Celery:
    """A client of the private broker (the suite's own Celery app stays on REDIS_URL)."""
    return Celery("fault-test", broker=redis_url, backend=redis_url, set_as_current=False)


def _rows(day: dt.date) -> list[tuple]:
    return list(
        ForecastSnapshot.objects.filter(taken_on=day)
        .order_by("period", "owner_id", "pipeline_id")
        .values_list(
            "period", "owner_id", "pipeline_id", "open_count", "open_amount", "weighted_amount",
            "commit_amount", "best_case_amount", "won_amount", "won_count", "lost_count",
        )
    )  # fmt: skip


def _blocked_snapshot_backend(cursor) -> int | None:
    """The worker's session, waiting for the ranges table after writing today's snapshot
    rows in its (uncommitted) transaction."""
    cursor.execute(
        """
        SELECT a.pid FROM pg_stat_activity a
        WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()
          AND a.wait_event_type = 'Lock' AND a.query ILIKE %s
          AND EXISTS (
            SELECT 1 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
            WHERE l.pid = a.pid AND l.granted AND l.mode = 'RowExclusiveLock' AND c.relname = %s)
        """,
        [f"%{ForecastRange._meta.db_table}%", ForecastSnapshot._meta.db_table],
    )
    row = cursor.fetchone()
    return row[0] if row else None


@needs_postgres
@needs_redis_server
@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_fault_snapshot_worker_killed_half_way_keeps_rows_and_next_run_completes(
    rep, pipeline, private_redis
):
    from forecasting import services

    today = timezone.localdate()
    yesterday = today - dt.timedelta(days=1)
    with time_machine.travel(timezone.now() - dt.timedelta(days=5)):
        for i in range(6):
            OpportunityFactory(owner=rep, pipeline=pipeline, amount=Decimal(10000 + 1000 * i))
    services.take_snapshot(taken_on=yesterday)
    kept = _rows(yesterday)
    kept_ranges = ForecastRange.objects.filter(taken_on=yesterday).count()
    assert kept and sum(r[3] for r in kept) == 6

    producer = _producer(private_redis.url)
    first = _worker(private_redis.url, "fault-killed")
    # A second session holds the ranges table: the run stops there, half-way, after it has
    # deleted and rewritten today's snapshot rows but before its transaction commits.
    holder = psycopg.connect(f"{DATABASE_URL.rsplit('/', 1)[0]}/{connection.settings_dict['NAME']}")
    try:
        holder.execute(f"LOCK TABLE {ForecastRange._meta.db_table} IN SHARE MODE")
        producer.send_task("forecasting.tasks.snapshot_forecasts", args=[today.isoformat()])
        with connection.cursor() as cursor:
            victim = _wait_for(
                lambda: _blocked_snapshot_backend(cursor), timeout=90, what="the snapshot to block"
            )
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=20)
        assert first.returncode == -signal.SIGKILL
    finally:
        holder.rollback()
        holder.close()
        _stop(first)
    with connection.cursor() as cursor:
        # The server notices the dead client and rolls its transaction back.
        _wait_for(lambda: not _backend_alive(cursor, victim), timeout=60, what="the rollback")

    assert _rows(yesterday) == kept
    assert ForecastRange.objects.filter(taken_on=yesterday).count() == kept_ranges
    assert not ForecastSnapshot.objects.filter(taken_on=today).exists()
    assert not ForecastRange.objects.filter(taken_on=today).exists()

    second = _worker(private_redis.url, "fault-restarted")
    try:
        result = producer.send_task(
            "forecasting.tasks.snapshot_forecasts", args=[today.isoformat()]
        )
        outcome = result.get(timeout=120)
    finally:
        _stop(second)
        producer.close()
    rows = _rows(today)
    assert outcome == {"taken_on": today.isoformat(), "rows": len(rows)}
    assert len({r[:3] for r in rows}) == len(rows)  # one row per period, owner and pipeline
    assert sum(r[3] for r in rows) == 6
    assert sum(r[4] for r in rows) == sum(r[4] for r in kept)
    assert _rows(yesterday) == kept


def _backend_alive(cursor, pid: int) -> bool:
    cursor.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid])
    return cursor.fetchone() is not None


# --- the request id through a real broker and worker ----------------------------------------


@needs_postgres
@needs_redis_server
@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_request_id_reaches_the_log_lines_of_a_task_run_by_a_real_worker(private_redis):
    producer = _producer(private_redis.url)
    worker = _worker(private_redis.url, "request-id")
    token = rid._current.set("req-from-the-web-7")
    try:
        result = producer.send_task("forecasting.tasks.snapshot_forecasts")
    finally:
        rid._current.reset(token)
    try:
        result.get(timeout=120)
    finally:
        log = _stop(worker)
        producer.close()
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    task_lines = [line for line in lines if result.id in line.get("message", "")]
    done = [line for line in task_lines if "succeeded" in line["message"]]
    assert done, log[-3000:]
    assert all(line["request_id"] == "req-from-the-web-7" for line in done)
    # The worker's own lines outside any task carry no request's id.
    assert any(line["request_id"] == "-" for line in lines)
