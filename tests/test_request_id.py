"""Request ids: taken from ``X-Request-ID`` or made, echoed, on every log line of the request,
and carried into the Celery tasks it enqueues. JSON logs in production, text in development.

The path through a real broker and worker is in tests/test_faults.py (the worker's log lines
carry the id of the request that enqueued the task).
"""

import datetime as dt
import io
import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.test import override_settings
from pythonjsonlogger.json import JsonFormatter

from config import request_id as rid

BASE_DIR = Path(__file__).resolve().parent.parent


@pytest.fixture
def console_output():
    """What the configured console handler writes (its real filters and formatter)."""
    handler = next(h for h in logging.getLogger().handlers if h.get_name() == "console")
    buffer = io.StringIO()
    old_stream = handler.setStream(buffer)
    old_formatter = handler.formatter
    try:
        yield handler, buffer
    finally:
        handler.setStream(old_stream)
        handler.setFormatter(old_formatter)


def _json_formatter() -> JsonFormatter:
    spec = settings.LOGGING["formatters"]["json"]
    return JsonFormatter(
        fmt=spec["fmt"], rename_fields=spec["rename_fields"], timestamp=spec["timestamp"]
    )


# A page that logs: /healthz warns when the broker does not answer (nothing listens on port 1).
BROKER_DOWN = override_settings(CELERY_BROKER_URL="redis://127.0.0.1:1/0")


@pytest.mark.django_db
@BROKER_DOWN
def test_request_id_from_header_is_echoed_and_on_the_requests_log_lines(client, console_output):
    handler, buffer = console_output
    handler.setFormatter(_json_formatter())
    response = client.get("/healthz", HTTP_X_REQUEST_ID="lb-7f3a9c.01")
    assert response["X-Request-ID"] == "lb-7f3a9c.01"
    lines = [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]
    warning = next(line for line in lines if "broker check failed" in line["message"])
    assert warning["request_id"] == "lb-7f3a9c.01"
    assert warning["level"] == "WARNING" and warning["logger"] == "config.views"
    assert dt.datetime.fromisoformat(warning["time"]).utcoffset() == dt.timedelta(0)
    assert all(line["request_id"] == "lb-7f3a9c.01" for line in lines)


@pytest.mark.django_db
@BROKER_DOWN
def test_request_id_text_format_shows_the_id(client, console_output):
    handler, buffer = console_output
    response = client.get("/healthz")
    generated = response["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    line = next(x for x in buffer.getvalue().splitlines() if "broker check failed" in x)
    assert f"[{generated}]" in line and "WARNING config.views" in line


@pytest.mark.django_db
@pytest.mark.parametrize(
    "sent",
    ["", "has space", 'quote"d', "x" * 129, "-leading-dash", "line\nbreak", "é-accent"],
)
def test_request_id_malformed_header_is_replaced(client, sent):
    response = client.get("/healthz", HTTP_X_REQUEST_ID=sent)
    echoed = response["X-Request-ID"]
    assert echoed != sent and re.fullmatch(r"[0-9a-f]{32}", echoed)


@pytest.mark.django_db
def test_request_id_each_request_gets_its_own_and_none_leaks_after(client):
    first = client.get("/accounts/login/")["X-Request-ID"]
    second = client.get("/accounts/login/")["X-Request-ID"]
    assert first != second
    assert rid.get_request_id() is None


def test_request_id_filter_outside_a_request_marks_dash():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", (), None)
    assert rid.RequestIdFilter().filter(record) is True
    assert record.request_id == "-"


# --- Celery: the signal functions, then an eager task ----------------------------------------


class _Request(dict):
    """Celery's task ``Context`` answers ``.get(name)`` for message headers."""


class _Task:
    def __init__(self, headers):
        self.request = _Request(headers)


def test_request_id_publish_signal_puts_current_id_in_task_headers():
    token = rid._current.set("req-42")
    try:
        headers = {"id": "t1", "task": "x"}
        rid.add_request_id_header(headers=headers)
        assert headers["request_id"] == "req-42"
        kept = {"request_id": "from-parent-task"}
        rid.add_request_id_header(headers=kept)
        assert kept["request_id"] == "from-parent-task"
    finally:
        rid._current.reset(token)
    outside = {}
    rid.add_request_id_header(headers=outside)
    assert "request_id" not in outside


def test_request_id_prerun_binds_header_and_postrun_restores():
    assert rid.get_request_id() is None
    rid.bind_task_request_id(task_id="t1", task=_Task({"request_id": "req-42"}))
    assert rid.get_request_id() == "req-42"
    record = logging.LogRecord("celery.task", logging.INFO, __file__, 1, "work", (), None)
    rid.RequestIdFilter().filter(record)
    assert record.request_id == "req-42"
    rid.unbind_task_request_id(task_id="t1")
    assert rid.get_request_id() is None


def test_request_id_prerun_without_header_makes_one_and_refuses_forged():
    rid.bind_task_request_id(task_id="t2", task=_Task({}))
    made = rid.get_request_id()
    rid.unbind_task_request_id(task_id="t2")
    rid.bind_task_request_id(task_id="t3", task=_Task({"request_id": "bad\nid"}))
    replaced = rid.get_request_id()
    rid.unbind_task_request_id(task_id="t3")
    assert re.fullmatch(r"[0-9a-f]{32}", made) and re.fullmatch(r"[0-9a-f]{32}", replaced)
    assert rid.get_request_id() is None


@pytest.mark.django_db
def test_request_id_eager_task_logs_with_the_enqueuing_id(console_output, monkeypatch):
    from config.celery import app
    from forecasting.tasks import snapshot_forecasts

    handler, buffer = console_output
    handler.setFormatter(_json_formatter())
    monkeypatch.setitem(app.conf, "task_always_eager", True)  # undone after the test
    token = rid._current.set("req-eager-1")
    try:
        snapshot_forecasts.apply_async()
    finally:
        rid._current.reset(token)
    lines = [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]
    done = next(line for line in lines if "snapshot_forecasts" in line["message"])
    assert "succeeded" in done["message"] and done["request_id"] == "req-eager-1"
    assert rid.get_request_id() is None


# --- formats by environment ------------------------------------------------------------------

PROBE = (
    "import logging, django; django.setup(); "
    "logging.getLogger('opportune.probe').warning('probe line')"
)


def _log_line(**env) -> str:
    clean = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECRET_KEY": "probe-secret",
        "DEBUG": "0",
        "OPPORTUNE_DEV": "0",
        "REDIS_URL": "",
        "DATABASE_URL": "sqlite:////tmp/opportune-logging-probe.sqlite3",
        **env,
    }
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=BASE_DIR,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stderr.strip().splitlines()[-1]


def test_request_id_production_logs_are_json_by_default():
    line = json.loads(_log_line())
    assert line["message"] == "probe line" and line["level"] == "WARNING"
    assert line["logger"] == "opportune.probe" and line["request_id"] == "-"


def test_request_id_text_logs_under_debug_and_on_request():
    for env in ({"DEBUG": "1"}, {"LOG_FORMAT": "text"}):
        line = _log_line(**env)
        assert line.endswith("WARNING opportune.probe [-] probe line"), line
    with pytest.raises(AssertionError, match="LOG_FORMAT must be json or text"):
        _log_line(LOG_FORMAT="xml")
