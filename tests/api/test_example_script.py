"""The “done when” integration: scripts/api_example.py, with only a token and the published
schema, against a live server, receiving the signed webhook of every step."""

import importlib.util
import socket
from pathlib import Path

import pytest

from api import webhooks
from tests.factories import PipelineFactory, UserFactory

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "api_example.py"
SECRET = "whsec_example-0123456789abcdef"


def _load():
    spec = importlib.util.spec_from_file_location("api_example", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.django_db(transaction=True)
def test_example_script_creates_converts_moves_wins_and_gets_signed_webhooks(
    live_server, settings, monkeypatch
):
    from api import tokens
    from config.celery import app

    monkeypatch.setitem(app.conf, "task_always_eager", True)  # the worker's job, inline
    settings.OPPORTUNE_WEBHOOK_ALLOW_PRIVATE = True  # the receiver is on the loopback
    PipelineFactory(name="New business")
    admin = UserFactory(username="hook_admin", role="admin")
    rep = UserFactory(username="script_rep")
    port = _free_port()
    webhooks.create_endpoint(
        by=admin,
        url=f"http://127.0.0.1:{port}/opportune",
        events=["lead.created", "lead.converted", "deal.created", "deal.stage_changed", "deal.won"],
        secret=SECRET,
    )
    _, raw = tokens.create_token(user=rep, by=rep, name="example", scope="read_write")
    events = _load().run(live_server.url, raw, SECRET, f"127.0.0.1:{port}", wait=20)
    names = [e["event"] for e in events]
    assert sorted(names) == sorted(
        ["lead.created", "deal.created", "lead.converted"]
        + ["deal.stage_changed"] * 3
        + ["deal.won"]
    )
    won = next(e for e in events if e["event"] == "deal.won")
    assert won["data"]["stage_kind"] == "won" and won["data"]["owner"] == rep.pk
