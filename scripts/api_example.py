#!/usr/bin/env python3
"""An integration that knows only its API token and the published schema.

It reads /api/schema/, finds each operation by its ``operationId``, and then: creates a lead,
qualifies and converts it, moves the new deal through the next two open stages and closes it
won, each write naming the version it saw with ``If-Match`` (the ETag of the previous
answer). Meanwhile it listens for the signed webhooks of every step and checks each
signature (HMAC-SHA256 over "<timestamp>.<body>" with the endpoint's secret).

An admin registers the endpoint first (Settings > Webhooks) with the URL this script listens
on and the events lead.created, lead.converted, deal.created, deal.stage_changed, deal.won.

Usage:  OPPORTUNE_TOKEN=opp_… OPPORTUNE_WEBHOOK_SECRET=whsec_… \\
        python scripts/api_example.py --base-url https://crm.example.com --listen 0.0.0.0:8765

Standard library only. Exits 0 when every step answered as documented and every webhook
arrived with a valid signature; prints what happened.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import hmac
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

EXPECTED_EVENTS = [
    "lead.created",
    "deal.created",
    "lead.converted",
    "deal.stage_changed",
    "deal.stage_changed",
    "deal.stage_changed",
    "deal.won",
]


def verify(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
    """The receiver's check of ``Opportune-Signature: t=<unix time>,v1=<hex digest>``."""
    try:
        parts = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    fresh = abs(time.time() - timestamp) <= tolerance
    return fresh and hmac.compare_digest(mac.hexdigest(), parts.get("v1", ""))


class Inbox:
    """Receives webhooks on ``host:port``; keeps the verified ones, each event id once."""

    def __init__(self, host: str, port: int, secret: str):
        self.events: list[dict] = []
        self.rejected = 0
        self.seen: set[str] = set()
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if not verify(secret, self.headers.get("Opportune-Signature", ""), body):
                    inbox.rejected += 1
                    self.send_response(400)
                    self.end_headers()
                    return
                event_id = self.headers.get("Opportune-Event-Id", "")
                if event_id not in inbox.seen:  # delivery is at least once: skip repeats
                    inbox.seen.add(event_id)
                    inbox.events.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Api:
    def __init__(self, base_url: str, token: str):
        self.base = base_url.rstrip("/")
        self.token = token
        self.operations = {}

    def request(self, method: str, path: str, body=None, *, etag: str | None = None):
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if etag:
            headers["If-Match"] = etag
        request = urllib.request.Request(
            self.base + path, data=data, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # nosec B310
                raw = response.read()
                return response.status, dict(response.headers), json.loads(raw) if raw else None
        except urllib.error.HTTPError as error:
            raw = error.read()
            return error.code, dict(error.headers), json.loads(raw) if raw else None

    def load_schema(self) -> None:
        status, _, schema = self.request("GET", "/api/schema/?format=json")
        if status != 200:
            raise SystemExit(f"the schema answered {status}")
        for path, item in schema["paths"].items():
            for method, operation in item.items():
                self.operations[operation["operationId"]] = (method.upper(), path)

    def call(self, operation_id: str, body=None, *, etag=None, query: str = "", **params):
        method, path = self.operations[operation_id]
        for name, value in params.items():
            path = path.replace("{" + name + "}", str(value))
        return self.request(method, path + query, body, etag=etag)


def expect(step: str, answer, status: int):
    code, headers, body = answer
    if code != status:
        raise SystemExit(f"{step}: expected {status}, got {code}: {body}")
    print(f"{step}: {code}{' ETag ' + headers.get('ETag', '') if headers.get('ETag') else ''}")
    return headers, body


def run(base_url: str, token: str, secret: str, listen: str, wait: float = 30.0) -> list[dict]:
    host, port = listen.rsplit(":", 1)
    inbox = Inbox(host, int(port), secret)
    try:
        api = Api(base_url, token)
        api.load_schema()
        headers, lead = expect(
            "create lead",
            api.call(
                "leads_create",
                {
                    "first_name": "Sam",
                    "last_name": "Okafor",
                    "company_name": "Northwind Example",
                    "email": "sam@northwind.example",
                    "need": "One pipeline for 40 sellers",
                    "budget": "48000.00",
                    "timeline": "Decide this quarter",
                },
            ),
            201,
        )
        headers, lead = expect(
            "qualify lead",
            api.call("leads_qualify_create", {}, etag=headers["ETag"], id=lead["id"]),
            200,
        )
        close = (dt.date.today() + dt.timedelta(days=45)).isoformat()
        headers, deal = expect(
            "convert lead",
            api.call(
                "leads_convert_create",
                {"amount": "48000.00", "expected_close_date": close},
                etag=headers["ETag"],
                id=lead["id"],
            ),
            201,
        )
        _, stages = expect(
            "read stages",
            api.call("stages_list", query=f"?pipeline={deal['pipeline']}&kind=open"),
            200,
        )
        later = [s for s in stages["results"] if s["position"] > deal_stage_position(stages, deal)]
        for target in sorted(later, key=lambda s: s["position"])[:2]:
            headers, deal = expect(
                f"move to {target['name']}",
                api.call(
                    "opportunities_move_create",
                    {"stage": target["id"]},
                    etag=headers["ETag"],
                    id=deal["id"],
                ),
                200,
            )
        stale = api.call("opportunities_close_won_create", {}, etag='"1"', id=deal["id"])
        expect("close won with a stale If-Match is refused", stale, 412)
        headers, deal = expect(
            "close won",
            api.call("opportunities_close_won_create", {}, etag=headers["ETag"], id=deal["id"]),
            200,
        )
        deadline = time.monotonic() + wait
        while len(inbox.events) < len(EXPECTED_EVENTS) and time.monotonic() < deadline:
            time.sleep(0.1)
        received = [e["event"] for e in inbox.events]
        for event in inbox.events:
            print(f"webhook {event['event']} ({event['id']}) signature valid")
        if sorted(received) != sorted(EXPECTED_EVENTS):
            raise SystemExit(f"webhooks: expected {EXPECTED_EVENTS}, received {received}")
        if inbox.rejected:
            raise SystemExit(f"{inbox.rejected} webhooks had an invalid signature")
        return inbox.events
    finally:
        inbox.close()


def deal_stage_position(stages: dict, deal: dict) -> int:
    return next(s["position"] for s in stages["results"] if s["id"] == deal["stage"])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--base-url", default=os.environ.get("OPPORTUNE_URL", "http://127.0.0.1:8000")
    )
    parser.add_argument("--listen", default="127.0.0.1:8765", help="host:port for the webhooks")
    parser.add_argument("--wait", type=float, default=30.0, help="seconds to wait for webhooks")
    args = parser.parse_args(argv)
    token = os.environ.get("OPPORTUNE_TOKEN", "")
    secret = os.environ.get("OPPORTUNE_WEBHOOK_SECRET", "")
    if not token or not secret:
        print("Set OPPORTUNE_TOKEN and OPPORTUNE_WEBHOOK_SECRET.", file=sys.stderr)
        return 2
    run(args.base_url, token, secret, args.listen, args.wait)
    print("done: every step answered as documented and every webhook arrived signed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
