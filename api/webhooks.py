"""Webhook delivery: signing, the address check against server-side request forgery, one
attempt, backoff and automatic disabling.

Each request is a ``POST`` of JSON ``{"id", "event", "created_at", "data"}`` with headers

- ``Opportune-Event``: the event name, ``Opportune-Event-Id``: its id (the same on every retry
  of the event: receivers use it to ignore duplicates; delivery is at least once),
- ``Opportune-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the secret>``.

Verifying on the receiver (Python)::

    import hashlib, hmac, time

    def verify(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
        parts = dict(p.split("=", 1) for p in header.split(","))
        t = int(parts["t"])
        expected = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256)
        return abs(time.time() - t) <= tolerance and hmac.compare_digest(
            expected.hexdigest(), parts["v1"]
        )

A delivery is tried right after the change commits, then again with exponential backoff (1, 2,
4 … minutes, at most 6 hours apart, ``OPPORTUNE_WEBHOOK_MAX_ATTEMPTS`` tries: about a day).
After ``OPPORTUNE_WEBHOOK_DISABLE_AFTER`` failed requests in a row an endpoint is switched off
and the admins are emailed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import socket
import ssl
import time
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from api.models import WebhookDelivery, WebhookEndpoint, WebhookEvent

log = logging.getLogger(__name__)

MAX_BACKOFF = dt.timedelta(hours=6)
USER_AGENT = "Opportune-Webhooks/1"


# --- signing ---------------------------------------------------------------------------------


def sign(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, header: str, body: bytes, *, tolerance: int = 300, now=None) -> bool:
    """The receiver's check (also used by the tests and the example script)."""
    try:
        parts = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(parts["t"])
        given = parts["v1"]
    except (KeyError, ValueError):
        return False
    now = time.time() if now is None else now
    expected = sign(secret, body, timestamp).split("v1=", 1)[1]
    return abs(now - timestamp) <= tolerance and hmac.compare_digest(expected, given)


# --- server-side request forgery -------------------------------------------------------------


def _forbidden(ip: ipaddress._BaseAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def resolve(url: str) -> tuple[str, int, str, str]:
    """(scheme, port, host, address to connect to) of an allowed webhook URL.

    Raises ``ValidationError`` for a URL that is not http(s), does not resolve, or resolves to
    a private, loopback, link-local or otherwise non-public address (unless
    ``OPPORTUNE_WEBHOOK_ALLOW_PRIVATE``). The connection goes to the address checked here, so
    a name that re-resolves elsewhere later (DNS rebinding) cannot redirect it."""
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError({"url": "Enter an http:// or https:// address."})
    if parts.username or parts.password:
        raise ValidationError({"url": "Leave credentials out of the address; use the secret."})
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise ValidationError({"url": "The port of the address is not valid."}) from None
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise ValidationError({"url": f"{parts.hostname} does not resolve."}) from None
    addresses = [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]
    if not settings.OPPORTUNE_WEBHOOK_ALLOW_PRIVATE:
        bad = [str(a) for a in addresses if _forbidden(a)]
        if bad:
            raise ValidationError(
                {
                    "url": f"{parts.hostname} resolves to a private, loopback or link-local "
                    f"address ({bad[0]}); webhooks go to public addresses only."
                }
            )
    return parts.scheme, port, parts.hostname, str(addresses[0])


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to a fixed address, with the certificate checked against the host name."""

    def __init__(self, host, port, address, timeout):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def post(url: str, body: bytes, headers: dict, *, timeout: float | None = None) -> int:
    """POST ``body`` to ``url`` (checked by :func:`resolve`); the response status. Redirects
    are not followed (a redirect could point anywhere)."""
    timeout = timeout or settings.OPPORTUNE_WEBHOOK_TIMEOUT
    scheme, port, host, address = resolve(url)
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if scheme == "https":
        conn = _PinnedHTTPS(host, port, address, timeout)
    else:
        conn = http.client.HTTPConnection(address, port, timeout=timeout)
    try:
        host_header = host if parts.port is None else f"{host}:{port}"
        conn.request("POST", path, body=body, headers={**headers, "Host": host_header})
        response = conn.getresponse()
        response.read(64 * 1024)
        return response.status
    finally:
        conn.close()


# --- queueing --------------------------------------------------------------------------------


def payload(event: str, data: dict) -> list[int]:
    """Delivery rows for ``event`` at every active endpoint subscribed to it."""
    endpoints = [
        e for e in WebhookEndpoint.objects.filter(is_active=True) if event in (e.events or [])
    ]
    ids = []
    now = timezone.now()
    for endpoint in endpoints:
        delivery = WebhookDelivery(endpoint=endpoint, event=event, next_attempt_at=now)
        delivery.payload = {
            "id": str(delivery.event_id),
            "event": event,
            "created_at": now.isoformat(),
            "data": json.loads(json.dumps(data, cls=DjangoJSONEncoder)),
        }
        delivery.save()
        ids.append(delivery.pk)
    return ids


def emit(event: str, data: dict) -> None:
    """Record ``event`` for its endpoints once the current transaction commits, and hand the
    first attempts to the worker. When the queue is down the deliveries stay due and the
    periodic ``deliver_due`` task sends them."""
    if event not in WebhookEvent.values:
        raise ValueError(f"unknown webhook event {event!r}")

    def after_commit():
        ids = payload(event, data)
        if ids:
            from api import tasks
            from config.celery import QueueUnavailable, enqueue

            for pk in ids:
                try:
                    enqueue(tasks.deliver_webhook, pk)
                except QueueUnavailable:
                    log.warning("webhook %s queued for the periodic sender", pk)
                    return

    transaction.on_commit(after_commit, robust=True)


# --- one attempt -----------------------------------------------------------------------------


def backoff(attempts: int) -> dt.timedelta:
    """The wait after the ``attempts``-th failed try: 1, 2, 4 … minutes, at most 6 hours."""
    return min(dt.timedelta(minutes=2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def attempt(delivery_id: int) -> WebhookDelivery | None:
    """Try a pending delivery once and record the outcome. Safe to call twice at once: the
    row is locked, and a delivered one is left alone."""
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True)
            .select_related("endpoint")
            .filter(pk=delivery_id, status=WebhookDelivery.Status.PENDING)
            .first()
        )
        if delivery is None:
            return None
        endpoint = delivery.endpoint
        if not endpoint.is_active:
            return delivery
        body = json.dumps(delivery.payload, separators=(",", ":")).encode()
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Opportune-Event": delivery.event,
            "Opportune-Event-Id": str(delivery.event_id),
            "Opportune-Signature": sign(endpoint.secret, body, timestamp),
        }
        started = time.monotonic()
        code, error = None, ""
        try:
            code = post(endpoint.url, body, headers)
            if not 200 <= code < 300:
                error = f"answered {code}"
        except ValidationError as exc:
            error = " ".join(exc.messages)
        except (OSError, http.client.HTTPException) as exc:
            error = f"{type(exc).__name__}: {exc}"[:255]
        now = timezone.now()
        delivery.attempts += 1
        delivery.response_code = code
        delivery.error = error[:255]
        delivery.duration_ms = int((time.monotonic() - started) * 1000)
        delivery.last_attempt_at = now
        if not error:
            delivery.status = WebhookDelivery.Status.DELIVERED
            delivery.delivered_at = now
            delivery.next_attempt_at = None
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(consecutive_failures=0)
        else:
            if delivery.attempts >= settings.OPPORTUNE_WEBHOOK_MAX_ATTEMPTS:
                delivery.status = WebhookDelivery.Status.FAILED
                delivery.next_attempt_at = None
            else:
                delivery.next_attempt_at = now + backoff(delivery.attempts)
            _failed(endpoint)
        delivery.save()
        return delivery


def _failed(endpoint: WebhookEndpoint) -> None:
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        consecutive_failures=F("consecutive_failures") + 1
    )
    endpoint.refresh_from_db(fields=["consecutive_failures", "is_active"])
    limit = settings.OPPORTUNE_WEBHOOK_DISABLE_AFTER
    if endpoint.is_active and endpoint.consecutive_failures >= limit:
        reason = f"Switched off after {limit} failed deliveries in a row."
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
            is_active=False, disabled_reason=reason
        )
        transaction.on_commit(lambda: _tell_admins(endpoint.pk, reason), robust=True)


def _tell_admins(endpoint_id: int, reason: str) -> None:
    from accounts import visibility

    endpoint = WebhookEndpoint.objects.filter(pk=endpoint_id).first()
    if endpoint is None:
        return
    recipients = list(visibility.administrators().exclude(email="").values_list("email", flat=True))
    log.warning("webhook endpoint %s disabled: %s", endpoint.url, reason)
    if recipients:
        send_mail(
            subject=f"Webhook to {endpoint.url} switched off",
            message=(
                f"{reason}\n\nThe receiver at {endpoint.url} did not answer with a 2xx. Fix "
                "it, then switch the endpoint on again and redeliver the failed events under "
                f"{settings.OPPORTUNE_BASE_URL}/settings/webhooks/."
            ),
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=recipients,
            fail_silently=True,
        )


def redeliver(*, delivery: WebhookDelivery, by) -> WebhookDelivery:
    """Send a delivery again (after a fix on the receiver's side): it is due at once."""
    from accounts.visibility import can_manage_integrations

    if not can_manage_integrations(by):
        from django.core.exceptions import PermissionDenied

        raise PermissionDenied("Only admins can redeliver webhooks.")
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=WebhookDelivery.Status.PENDING, next_attempt_at=timezone.now()
    )
    from api import tasks
    from config.celery import QueueUnavailable, enqueue

    def send():
        try:
            enqueue(tasks.deliver_webhook, delivery.pk)
        except QueueUnavailable:
            log.warning("webhook %s queued for the periodic sender", delivery.pk)

    transaction.on_commit(send, robust=True)
    delivery.refresh_from_db()
    return delivery


def due(now=None) -> list[int]:
    now = now or timezone.now()
    return list(
        WebhookDelivery.objects.filter(
            status=WebhookDelivery.Status.PENDING,
            next_attempt_at__lte=now,
            endpoint__is_active=True,
        )
        .order_by("next_attempt_at", "id")
        .values_list("pk", flat=True)[:500]
    )


def validate_endpoint(*, url: str, events, secret: str) -> None:
    errors = {}
    try:
        resolve(url)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    unknown = [e for e in (events or []) if e not in WebhookEvent.values]
    if not events:
        errors["events"] = "Choose at least one event."
    elif unknown:
        errors["events"] = f"Unknown events: {', '.join(map(str, unknown))}."
    if len(secret or "") < 16:
        errors["secret"] = "Use a secret of at least 16 characters."
    if errors:
        raise ValidationError(errors)


# --- managing endpoints (settings page and admin) --------------------------------------------


def _require_admin(by) -> None:
    from django.core.exceptions import PermissionDenied

    from accounts.visibility import can_manage_integrations

    if not can_manage_integrations(by):
        raise PermissionDenied("Only admins can manage webhooks.")


@transaction.atomic
def create_endpoint(*, by, url: str, events, secret: str, description: str = "") -> WebhookEndpoint:
    _require_admin(by)
    url = (url or "").strip()
    validate_endpoint(url=url, events=events, secret=secret)
    return WebhookEndpoint.objects.create(
        url=url,
        events=list(dict.fromkeys(events)),
        secret=secret,
        description=(description or "").strip()[:200],
        created_by=by,
    )


@transaction.atomic
def set_active(*, endpoint: WebhookEndpoint, by, active: bool) -> WebhookEndpoint:
    """Switch an endpoint on (its failure count starts again) or off."""
    _require_admin(by)
    endpoint.is_active = bool(active)
    if active:
        endpoint.consecutive_failures = 0
        endpoint.disabled_reason = ""
    endpoint.save(update_fields=["is_active", "consecutive_failures", "disabled_reason"])
    return endpoint


def new_secret() -> str:
    import secrets

    return "whsec_" + secrets.token_urlsafe(24)
