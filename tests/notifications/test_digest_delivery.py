"""The digest against real transports: an SMTP server (aiosmtpd, in this process) that
refuses one recipient or never answers, two runs racing on PostgreSQL, and the beat-driven
task in a real Celery worker over Redis."""

import datetime as dt
import os
import socket
import subprocess
import sys
import threading
import time
from email import message_from_string
from email.header import decode_header, make_header
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from django.core import mail
from django.db import connection, connections, transaction

from notifications import services
from notifications.models import DigestRun
from pipeline import services as pipeline_services
from tests.factories import OpportunityFactory

from .conftest import at, prefer

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("REDIS_URL", "")
DATABASE_URL = os.environ.get("DATABASE_URL", "")
NOW = "2026-03-10T09:00"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mailbox:
    """An SMTP server's handler: keeps what it accepts, refuses the addresses in ``refuse``."""

    def __init__(self):
        self.refuse: set[str] = set()
        self.received: list[tuple[list[str], bytes]] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 Mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.received.append((list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server(settings):
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=_free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5
    yield box
    controller.stop()


def _with_overdue_task(user, pipeline):
    deal = OpportunityFactory(owner=user, pipeline=pipeline)
    pipeline_services.log_activity(
        by=user, kind="task", subject=f"Call back for {user.username}", due_on=dt.date(2026, 3, 9),
        opportunity=deal,
    )  # fmt: skip


@pytest.fixture
def two_reps_with_news(rep, rep2, pipeline):
    for user in (rep, rep2):
        prefer(user, digest_hour=8, time_zone="UTC")
        _with_overdue_task(user, pipeline)
    return rep, rep2


@pytest.mark.django_db
def test_digest_smtp_refusal_of_one_user_does_not_stop_the_others_and_is_retried(
    smtp_server, two_reps_with_news, manager, caplog
):
    rep, rep2 = two_reps_with_news
    prefer(manager, digest_enabled=False)
    smtp_server.refuse = {rep.email}  # rep comes first (lower id): the run must go on
    summary = services.send_digests(now=at(NOW))
    assert (summary.sent, summary.failed) == (1, 1)
    assert [to for to, _ in smtp_server.received] == [[rep2.email]]
    failed = DigestRun.objects.get(user=rep)
    assert (failed.status, failed.attempts) == ("failed", 1)
    assert "SMTPRecipientsRefused" in failed.last_error
    assert f"digest for user {rep.pk}" in caplog.text and "tried again later" in caplog.text
    # The next beat tries rep again (still refused), rep2 is not sent twice.
    services.send_digests(now=at("2026-03-10T09:15"))
    failed.refresh_from_db()
    assert (failed.status, failed.attempts) == ("failed", 2)
    assert len(smtp_server.received) == 1
    # The server accepts again: rep's digest of the day goes out, once.
    smtp_server.refuse = set()
    summary = services.send_digests(now=at("2026-03-10T09:30"))
    assert summary.sent == 1
    assert [to for to, _ in smtp_server.received] == [[rep2.email], [rep.email]]
    failed.refresh_from_db()
    assert (failed.status, failed.attempts) == ("sent", 3)
    services.send_digests(now=at("2026-03-10T09:45"))
    assert len(smtp_server.received) == 2


@pytest.mark.django_db
def test_digest_gives_up_on_a_day_after_the_maximum_attempts(
    smtp_server, two_reps_with_news, settings
):
    rep, rep2 = two_reps_with_news
    settings.OPPORTUNE_DIGEST_MAX_ATTEMPTS = 2
    smtp_server.refuse = {rep.email}
    for minute in ("00", "15", "30"):
        services.send_digests(now=at(f"2026-03-10T09:{minute}"))
    assert DigestRun.objects.get(user=rep).attempts == 2


@pytest.mark.django_db
def test_digest_smtp_server_that_never_answers_times_out_and_is_retried(
    two_reps_with_news, manager, settings
):
    rep, rep2 = two_reps_with_news
    prefer(manager, digest_enabled=False)
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts connections into its backlog, never says hello
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", silent.getsockname()[1]
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 1
    try:
        summary = services.send_digests(now=at(NOW))
    finally:
        silent.close()
    assert (summary.failed, summary.sent) == (2, 0)
    assert set(DigestRun.objects.values_list("status", flat=True)) == {"failed"}


@pytest.mark.postgres
@pytest.mark.skipif(
    not DATABASE_URL.startswith("postgres"), reason="needs PostgreSQL: set DATABASE_URL"
)
@pytest.mark.django_db(transaction=True)
def test_digest_two_concurrent_runs_send_each_digest_once(two_reps_with_news, manager):
    """Both runs find the same users due, then race on the once-a-day record: a third
    transaction holds a conflicting record until both runs wait on it, then rolls back."""
    rep, rep2 = two_reps_with_news
    prefer(manager, digest_enabled=False)
    results, errors = [], []

    def run():
        try:
            results.append(services.send_digests(now=at(NOW)))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    class Rollback(Exception):
        pass

    threads = [threading.Thread(target=run) for _ in range(2)]
    with pytest.raises(Rollback), transaction.atomic():
        DigestRun.objects.create(user=rep, day=dt.date(2026, 3, 10), status="failed")
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with connection.cursor() as cursor:
                # Activity statistics are a snapshot per transaction unless cleared.
                cursor.execute("SELECT pg_stat_clear_snapshot()")
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'"
                )
                if cursor.fetchone()[0] >= 2:
                    break
            time.sleep(0.05)
        else:
            pytest.fail(f"the two runs never waited on the held record: {errors} {results}")
        raise Rollback
    for t in threads:
        t.join(timeout=60)
    assert not errors
    assert sorted(len([m for m in mail.outbox if m.to == [u.email]]) for u in (rep, rep2)) == [1, 1]
    assert sum(r.sent for r in results) == 2
    assert sum(r.skipped for r in results) == 2
    assert DigestRun.objects.filter(status="sent").count() == 2


@pytest.mark.redis
@pytest.mark.skipif(not REDIS_URL, reason="needs a Redis broker: set REDIS_URL")
@pytest.mark.skipif(
    not DATABASE_URL.startswith("postgres"),
    reason="the worker shares the test database: set DATABASE_URL to PostgreSQL",
)
@pytest.mark.django_db(transaction=True)
def test_digest_task_runs_in_a_real_worker_through_redis(two_reps_with_news, manager, tmp_path):
    from notifications.tasks import send_digests

    rep, rep2 = two_reps_with_news
    prefer(manager, digest_enabled=False)
    base = DATABASE_URL.rsplit("/", 1)[0]
    env = {
        **os.environ,
        "DATABASE_URL": f"{base}/{connection.settings_dict['NAME']}",
        "REDIS_URL": REDIS_URL,
        "OPPORTUNE_DEV": "1",
        "CONN_MAX_AGE": "0",
        "EMAIL_URL": f"filemail:///{tmp_path}",
    }
    worker = subprocess.Popen(
        [str(Path(sys.executable).parent / "celery"), "-A", "config", "worker",
         "--pool=solo", "-c", "1", "--loglevel=INFO", "-n", f"digest-test-{os.getpid()}@%h"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        outcome = send_digests.delay("2026-03-10T09:00:00+00:00").get(timeout=90)
        assert (outcome["due"], outcome["sent"]) == (2, 2)
        again = send_digests.delay("2026-03-10T09:15:00+00:00").get(timeout=90)
        assert (again["due"], again["sent"]) == (0, 0)
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
        time.sleep(0.1)
    messages = [
        message_from_string(chunk.lstrip("\n"))
        for p in tmp_path.iterdir()
        for chunk in p.read_text().split("-" * 79)
        if chunk.strip()
    ]
    subjects = [str(make_header(decode_header(m["Subject"]))) for m in messages]
    assert subjects == ["Your Opportune day · Tuesday 10 March"] * 2
    assert sorted(m["To"] for m in messages) == sorted([rep.email, rep2.email])
    assert set(DigestRun.objects.values_list("status", flat=True)) == {"sent"}
