"""Account actions: two-factor devices (TOTP authenticator apps) and admin-initiated password
resets. Each validates, writes in one transaction where it writes, and refuses with a
``ValidationError`` (or ``PermissionDenied``) whose message says what to do.

A wrong code is written down (django-otp's throttling: after n wrong codes in a row the next
try must wait 2^(n-1) seconds) before the refusal is raised, never rolled back with it.
"""

import logging
import smtplib
from base64 import b32encode

import django_otp
from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import visibility
from accounts.models import User

log = logging.getLogger(__name__)

DEVICE_NAME = "Authenticator app"
WRONG_CODE = (
    "That code is not right. Enter the 6-digit code your authenticator app shows now "
    "(codes change every 30 seconds)."
)


def two_factor_required(user) -> bool:
    """With ``OPPORTUNE_REQUIRE_2FA`` set, an admin must have a confirmed device."""
    return bool(settings.OPPORTUNE_REQUIRE_2FA) and visibility.can_administer(user)


def confirmed_device(user) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


def has_confirmed_device(user) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def device_secret(device: TOTPDevice) -> str:
    """The key as authenticator apps type it in (base32, in groups of four)."""
    key = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(key[i : i + 4] for i in range(0, len(key), 4))


def _lock_user(user) -> None:
    User.objects.select_for_update().filter(pk=user.pk).first()


def start_totp_enrolment(*, user) -> TOTPDevice:
    """The user's pending (unconfirmed) device, created on first call: reloading the set-up page
    keeps the same key, so a half-scanned QR code stays valid."""
    if not visibility.can_use_two_factor(user):
        raise PermissionDenied("Two-factor sign-in is available to administrators and managers.")
    with transaction.atomic():
        _lock_user(user)
        if has_confirmed_device(user):
            raise ValidationError("Two-factor sign-in is already on for your account.")
        device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
        if device is None:
            device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    return device


def _throttle_message(device: TOTPDevice) -> str | None:
    allowed, data = device.verify_is_allowed()
    if allowed:
        return None
    seconds = 1
    if data and data.get("locked_until"):
        seconds = max(1, int((data["locked_until"] - timezone.now()).total_seconds() + 0.999))
    return (
        f"Too many wrong codes. Wait {seconds} second{'s' if seconds != 1 else ''}, then enter "
        "the code your app shows."
    )


def confirm_totp_device(*, user, token: str) -> TOTPDevice:
    """Turn two-factor sign-in on: the code proves the app holds the pending device's key."""
    if not visibility.can_use_two_factor(user):
        raise PermissionDenied("Two-factor sign-in is available to administrators and managers.")
    error = None
    with transaction.atomic():
        _lock_user(user)
        device = (
            TOTPDevice.objects.select_for_update()
            .filter(user=user, confirmed=False)
            .order_by("pk")
            .first()
        )
        if has_confirmed_device(user):
            error = "Two-factor sign-in is already on for your account."
        elif device is None:
            error = "The set-up expired. Reload this page and scan the new code."
        else:
            error = _throttle_message(device)
            if error is None and not device.verify_token(token):
                error = WRONG_CODE  # verify_token has recorded the failure for throttling
            if error is None:
                device.confirmed = True
                device.save(update_fields=["confirmed"])
                TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    if error:
        raise ValidationError(error)
    return device


def verify_totp(*, user, token: str) -> TOTPDevice:
    """The sign-in step: the code from the user's confirmed device."""
    device = confirmed_device(user)
    if device is None:
        raise ValidationError("Two-factor sign-in is not set up for your account.")
    error = _throttle_message(device)
    if error:
        raise ValidationError(error)
    verified = django_otp.verify_token(user, device.persistent_id, token)
    if verified is None:
        raise ValidationError(WRONG_CODE)
    return verified


def remove_totp_devices(*, user, token: str) -> None:
    """Turn two-factor sign-in off; a current code proves the request comes from its owner."""
    verify_totp(user=user, token=token)
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()


def send_password_reset(*, user, base_url: str) -> None:
    """Email the user a one-time link to choose a new password (Django's reset tokens: valid for
    ``PASSWORD_RESET_TIMEOUT``, dead once the password changes or the user signs in). Admins
    never see or choose the password."""
    if not user.is_active:
        raise ValidationError(
            f"The user {user.get_username()} is deactivated: activate the account first."
        )
    if not user.email:
        raise ValidationError(
            f"The user {user.get_username()} has no email address: add one, then send the link."
        )
    path = reverse(
        "password_reset_confirm",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    context = {
        "user": user,
        "link": base_url.rstrip("/") + path,
        "valid_hours": settings.PASSWORD_RESET_TIMEOUT // 3600,
    }
    try:
        send_mail(
            subject="Choose a new Opportune password",
            message=render_to_string("accounts/password_reset_email.txt", context),
            from_email=None,
            recipient_list=[user.email],
        )
    except (OSError, smtplib.SMTPException) as exc:  # refused, unreachable, timed out
        log.warning("password link for user %s not sent: %r", user.pk, exc)
        raise ValidationError(
            f"The link for {user.get_username()} could not be sent: the mail server did not "
            "accept it. Check EMAIL_URL, then try again."
        ) from exc
