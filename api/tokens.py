"""Creating, finding and revoking personal API tokens (the one place that writes them)."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts import visibility
from api.models import ApiToken

TOKEN_PREFIX = "opp_"
# last_used_at is written at most once per this interval per token, so a busy integration does
# not turn every read into a write.
LAST_USED_EVERY = dt.timedelta(minutes=1)
NAME_MAX = ApiToken._meta.get_field("name").max_length


def digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@transaction.atomic
def create_token(*, user, by, name: str, scope: str, expires_on=None) -> tuple[ApiToken, str]:
    """A new token for ``user`` (created by themselves); returns it and the raw secret, which
    is shown once and never stored."""
    if by.pk != user.pk:
        raise PermissionDenied("Tokens are personal: each user creates their own.")
    errors = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = "Name the token after what will use it, e.g. “Website form”."
    elif len(name) > NAME_MAX:
        errors["name"] = f"Keep the name to {NAME_MAX} characters or fewer."
    if scope not in ApiToken.Scope.values:
        errors["scope"] = "Choose read only, or read and write."
    expires_at = None
    if expires_on:
        if isinstance(expires_on, str):
            try:
                expires_on = dt.date.fromisoformat(expires_on)
            except ValueError:
                errors["expires_on"] = "Enter the expiry date as YYYY-MM-DD."
        if "expires_on" not in errors:
            if expires_on <= timezone.localdate():
                errors["expires_on"] = "Choose an expiry date after today, or none."
            else:
                expires_at = timezone.make_aware(dt.datetime.combine(expires_on, dt.time.min))
    if errors:
        raise ValidationError(errors)
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        scope=scope,
        prefix=raw[:12],
        digest=digest(raw),
        expires_at=expires_at,
    )
    return token, raw


def revoke_token(*, token: ApiToken, by) -> ApiToken:
    """The owner or an admin revokes a token; it stops working at once."""
    if token.user_id != by.pk and not visibility.is_admin(by):
        raise PermissionDenied("Only the token's owner or an admin can revoke it.")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


def authenticate(raw: str) -> ApiToken | None:
    """The usable token with this secret, its user loaded in the same query; ``None`` for an
    unknown, revoked or expired token or a deactivated user."""
    if not raw or not raw.startswith(TOKEN_PREFIX) or len(raw) > 100:
        return None
    now = timezone.now()
    token = ApiToken.objects.usable(now).select_related("user").filter(digest=digest(raw)).first()
    if token is None:
        return None
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_EVERY:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def tokens_visible_to(user):
    """A user's own tokens; an admin sees every token."""
    qs = ApiToken.objects.select_related("user")
    return qs if visibility.is_admin(user) else qs.filter(user=user)
