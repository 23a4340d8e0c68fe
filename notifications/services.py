"""Every write of the notifications app: delivering a notification, marking it read, a user's
preferences and calendar token, unsubscribing, and sending the daily digests.

The digest run
--------------
:func:`send_digests` is run every 15 minutes (Celery beat) or by hand (``manage.py
send_digests``). A user is due once the hour they chose has come in their own time zone and
no final record exists for that local date. Each due user is handled in their own
transaction that (1) inserts the user's :class:`~notifications.models.DigestRun` of the day if
there is none (``ON CONFLICT DO NOTHING`` against a unique constraint), (2) locks it, (3)
decides from its status, (4) builds and sends the email and (5) records the outcome. A second
run at the same moment (a retry, a second beat) waits on that row and then finds it final, so
no one receives a day's digest twice. A refusing or silent mail server marks that user's
record ``failed`` (logged) and the run goes on with the next user; a later run tries the
failed ones again, up to ``OPPORTUNE_DIGEST_MAX_ATTEMPTS`` times.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import secrets
import smtplib
import socket
from dataclasses import dataclass, field

from django.conf import settings
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.validators import validate_email
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from notifications import selectors
from notifications.models import DigestRun, Event, Notification, Preference, validate_time_zone

logger = logging.getLogger(__name__)

UNSUBSCRIBE_SALT = "notifications.unsubscribe"
UNSUBSCRIBE_DIGEST = "digest"
UNSUBSCRIBE_EMAIL = "email"
FINAL = {DigestRun.Status.SENT, DigestRun.Status.EMPTY, DigestRun.Status.INVALID_ADDRESS}
MAIL_ERRORS = (smtplib.SMTPException, socket.timeout, TimeoutError, OSError)


def absolute(path: str) -> str:
    if path.startswith(("http://", "https://")):
        return path
    return f"{settings.OPPORTUNE_BASE_URL}{path}"


# --- delivering a notification ---------------------------------------------------------------


def notify(
    *, recipient: User, event: str, title: str, actor: User | None = None, body: str = "", url=""
) -> Notification | None:
    """Tell ``recipient`` that ``event`` happened: in-app and/or by email as they chose.
    Nothing for an inactive recipient or for one's own doing."""
    if event not in Event.values:
        raise ValueError(f"unknown event {event!r}")
    if recipient is None or not recipient.is_active:
        return None
    if actor is not None and actor.pk == recipient.pk:
        return None
    pref = Preference.for_user(recipient)
    in_app, by_email = pref.wants_in_app(event), pref.wants_email(event)
    if not (in_app or by_email):
        return None
    notification = Notification.objects.create(
        recipient=recipient,
        event=event,
        actor=actor,
        title=title[:255],
        body=body,
        url=url[:500],
        in_app=in_app,
    )
    if by_email:
        from notifications.tasks import send_notification_email

        transaction.on_commit(lambda: send_notification_email.delay(notification.pk), robust=True)
    return notification


def unsubscribe_url(user: User, what: str) -> str:
    token = signing.dumps({"u": user.pk, "w": what}, salt=UNSUBSCRIBE_SALT, compress=True)
    return absolute(reverse("notifications:unsubscribe", args=[token]))


def _message(*, user: User, subject: str, template: str, context: dict, what: str):
    unsubscribe = unsubscribe_url(user, what)
    context = {
        **context,
        "user": user,
        "base_url": settings.OPPORTUNE_BASE_URL,
        "unsubscribe_url": unsubscribe,
        "preferences_url": absolute(reverse("notifications:preferences")),
    }
    text = render_to_string(f"notifications/email/{template}.txt", context)
    html = render_to_string(f"notifications/email/{template}.html", context)
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[user.email],
        headers={
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Auto-Submitted": "auto-generated",
        },
    )
    message.attach_alternative(html, "text/html")
    return message


def has_valid_email(user: User) -> bool:
    try:
        validate_email(user.email or "")
    except ValidationError:
        return False
    return True


def send_notification_email(*, notification_id: int) -> bool:
    """Email one notification to its recipient (when they still want it). Raises the mail
    server's error so the task retries."""
    notification = (
        Notification.objects.select_related("recipient", "actor").filter(pk=notification_id).first()
    )
    if notification is None:
        return False
    user = notification.recipient
    if not user.is_active or not Preference.for_user(user).wants_email(notification.event):
        return False
    if not has_valid_email(user):
        logger.warning("notification %s not emailed: no valid address", notification_id)
        return False
    message = _message(
        user=user,
        subject=notification.title,
        template="notification",
        context={"notification": notification, "link": absolute(notification.get_absolute_url())},
        what=UNSUBSCRIBE_EMAIL,
    )
    message.send()
    return True


# --- reading ---------------------------------------------------------------------------------


def mark_read(*, notification_id: int, by) -> Notification:
    notification = Notification.objects.visible_to(by).filter(pk=notification_id).first()
    if notification is None:
        raise PermissionDenied("That notification is not yours or no longer exists.")
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
    return notification


def mark_all_read(*, by) -> int:
    return Notification.objects.visible_to(by).unread().update(read_at=timezone.now())


# --- preferences -----------------------------------------------------------------------------


def _locked_preference(user: User) -> Preference:
    Preference.objects.bulk_create([Preference(user=user)], ignore_conflicts=True)
    return Preference.objects.select_for_update().get(user=user)


@transaction.atomic
def update_preferences(
    *,
    user: User,
    by,
    version,
    digest_enabled: bool,
    digest_hour,
    time_zone: str,
    in_app_events: list[str],
    email_events: list[str],
) -> Preference:
    """Save a user's choices; a stale ``version`` (another tab saved meanwhile) is refused."""
    if by is None or by.pk != user.pk:
        raise PermissionDenied("You can only change your own notification settings.")
    pref = _locked_preference(user)
    try:
        version = int(version)
    except (TypeError, ValueError):
        raise ValidationError("The settings' version is missing; reload the page.") from None
    if version != pref.version:
        raise ValidationError(
            "These settings were changed in another window since you opened them; reload the "
            "page and make your changes again."
        )
    try:
        hour = int(digest_hour)
    except (TypeError, ValueError):
        raise ValidationError({"digest_hour": "Choose an hour between 0 and 23."}) from None
    if not 0 <= hour <= 23:
        raise ValidationError({"digest_hour": "Choose an hour between 0 and 23."})
    time_zone = (time_zone or "").strip()
    validate_time_zone(time_zone)
    unknown = (set(in_app_events) | set(email_events)) - set(Event.values)
    if unknown:
        raise ValidationError(f"Unknown events: {', '.join(sorted(unknown))}.")
    pref.digest_enabled = bool(digest_enabled)
    pref.digest_hour = hour
    pref.time_zone = time_zone
    pref.in_app_events = [e for e in Event.values if e in set(in_app_events)]
    pref.email_events = [e for e in Event.values if e in set(email_events)]
    pref.version += 1
    pref.save()
    return pref


@transaction.atomic
def new_calendar_token(*, user: User, by) -> Preference:
    """Give the user a new private calendar URL; the old one stops working at once."""
    if by is None or by.pk != user.pk:
        raise PermissionDenied("You can only change your own calendar feed.")
    pref = _locked_preference(user)
    pref.calendar_token = secrets.token_urlsafe(32)
    pref.version += 1
    pref.save(update_fields=["calendar_token", "version", "updated_at"])
    return pref


@transaction.atomic
def revoke_calendar_token(*, user: User, by) -> Preference:
    if by is None or by.pk != user.pk:
        raise PermissionDenied("You can only change your own calendar feed.")
    pref = _locked_preference(user)
    if pref.calendar_token is not None:
        pref.calendar_token = None
        pref.version += 1
        pref.save(update_fields=["calendar_token", "version", "updated_at"])
    return pref


def read_unsubscribe_token(token: str) -> tuple[User, str]:
    """The user and the kind of email a signed unsubscribe link names; ``ValidationError``
    when it was tampered with or names no active user."""
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
        user_id, what = int(data["u"]), str(data["w"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise ValidationError(
            "This unsubscribe link is not valid: it may have been cut or changed. Use the link "
            "from the email again, or sign in and change your notification settings."
        ) from None
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or what not in (UNSUBSCRIBE_DIGEST, UNSUBSCRIBE_EMAIL):
        raise ValidationError("This unsubscribe link no longer names an account.")
    return user, what


@transaction.atomic
def unsubscribe(*, token: str) -> tuple[User, str]:
    """Stop the emails a signed link names: the digest, or every event email."""
    user, what = read_unsubscribe_token(token)
    pref = _locked_preference(user)
    if what == UNSUBSCRIBE_DIGEST:
        pref.digest_enabled = False
    else:
        pref.email_events = []
    pref.version += 1
    pref.save()
    return user, what


# --- the digest ------------------------------------------------------------------------------


@dataclass
class RunSummary:
    now: dt.datetime
    due: int = 0
    sent: int = 0
    empty: int = 0
    failed: int = 0
    invalid_address: int = 0
    skipped: int = 0
    queries: int = 0
    users: list[int] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "now": self.now.isoformat(),
            "due": self.due,
            "sent": self.sent,
            "empty": self.empty,
            "failed": self.failed,
            "invalid_address": self.invalid_address,
            "skipped": self.skipped,
        }


def local_day(pref: Preference, now: dt.datetime) -> tuple[dt.date, int]:
    local = now.astimezone(pref.tz)
    return local.date(), local.hour


def due_users(now: dt.datetime) -> list[tuple[User, Preference, dt.date]]:
    """Active users whose digest hour has come today in their time zone and whose digest of
    that local date is not done yet (three queries, whatever the number of users)."""
    users = list(User.objects.filter(is_active=True).order_by("pk"))
    prefs = {p.user_id: p for p in Preference.objects.filter(user__in=[u.pk for u in users])}
    candidates = []
    for user in users:
        pref = prefs.get(user.pk) or Preference(user=user)
        if not pref.digest_enabled:
            continue
        day, hour = local_day(pref, now)
        if hour >= pref.digest_hour:
            candidates.append((user, pref, day))
    if not candidates:
        return []
    days = {day for _, _, day in candidates}
    done = {
        (r.user_id, r.day): r
        for r in DigestRun.objects.filter(day__in=days, user__in=[u.pk for u, _, _ in candidates])
    }
    out = []
    for user, pref, day in candidates:
        run = done.get((user.pk, day))
        if run is not None and (
            run.status in FINAL or run.attempts >= settings.OPPORTUNE_DIGEST_MAX_ATTEMPTS
        ):
            continue
        out.append((user, pref, day))
    return out


def digest_subject(digest: selectors.Digest) -> str:
    return f"Your Opportune day · {digest.day:%A %-d %B}"


def digest_message(digest: selectors.Digest):
    return _message(
        user=digest.user,
        subject=digest_subject(digest),
        template="digest",
        context={
            "digest": digest,
            "sections": [
                {
                    "title": s.title,
                    "more": s.more,
                    "at_least": s.at_least,
                    "lines": [
                        {"text": li.text, "detail": li.detail, "url": absolute(li.url)}
                        for li in s.lines
                    ],
                }
                for s in digest.sections
            ],
            "home_url": absolute(reverse("home")),
        },
        what=UNSUBSCRIBE_DIGEST,
    )


def send_digest(*, user: User, day: dt.date, ctx: selectors.DigestContext, connection=None) -> str:
    """Decide, send and record ``user``'s digest of ``day`` in one transaction; returns the
    outcome: a ``DigestRun.Status`` value, or ``"skipped"`` when another run did it."""
    with transaction.atomic():
        DigestRun.objects.bulk_create(
            [DigestRun(user=user, day=day, status=DigestRun.Status.FAILED)],
            ignore_conflicts=True,
        )
        run = DigestRun.objects.select_for_update().get(user=user, day=day)
        if run.status in FINAL or run.attempts >= settings.OPPORTUNE_DIGEST_MAX_ATTEMPTS:
            return "skipped"
        run.attempts += 1
        if not has_valid_email(user):
            run.status = DigestRun.Status.INVALID_ADDRESS
            run.last_error = f"not a valid address: {user.email!r}"[:500]
            run.save()
            logger.warning("digest for user %s not sent: no valid email address", user.pk)
            return run.status
        digest = selectors.build_digest(user, day=day, ctx=ctx)
        run.items = digest.item_count
        if digest.is_empty:
            run.status = DigestRun.Status.EMPTY
            run.save()
            return run.status
        message = digest_message(digest)
        message.connection = connection
        try:
            message.send()
        except MAIL_ERRORS as exc:
            run.status = DigestRun.Status.FAILED
            run.last_error = f"{type(exc).__name__}: {exc}"[:500]
            run.save()
            logger.warning(
                "digest for user %s of %s failed (attempt %s, tried again later): %s",
                user.pk,
                day,
                run.attempts,
                run.last_error,
            )
            if connection is not None:
                _reset(connection)
            return run.status
        run.status = DigestRun.Status.SENT
        run.last_error = ""
        run.save()
        return run.status


def _reset(connection) -> None:
    """Close a mail connection after an error so the next message opens a fresh one."""
    with contextlib.suppress(*MAIL_ERRORS):
        connection.close()
    if hasattr(connection, "connection"):
        connection.connection = None


def send_digests(*, now: dt.datetime | None = None) -> RunSummary:
    """Send every digest that is due at ``now`` (default: the current time)."""
    now = now or timezone.now()
    if timezone.is_naive(now):
        now = timezone.make_aware(now)
    summary = RunSummary(now=now)
    due = due_users(now)
    summary.due = len(due)
    if not due:
        return summary
    ctx = selectors.DigestContext(now)
    connection = get_connection(fail_silently=False)
    try:
        try:
            connection.open()
        except MAIL_ERRORS as exc:
            logger.warning("mail server unreachable at the start of the digest run: %s", exc)
            _reset(connection)
        for user, _pref, day in due:
            try:
                outcome = send_digest(user=user, day=day, ctx=ctx, connection=connection)
            except Exception:
                # One user's unexpected error never stops the others; their record rolled
                # back with it, so the next run tries them again.
                logger.exception("digest for user %s of %s failed", user.pk, day)
                _reset(connection)
                outcome = DigestRun.Status.FAILED
            setattr(summary, outcome, getattr(summary, outcome) + 1)
            summary.users.append(user.pk)
    finally:
        _reset(connection)
    return summary
