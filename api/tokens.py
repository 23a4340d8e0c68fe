"""Creating, finding and revoking personal API tokens (the one place that writes them).

Reading with a token costs no query of its own: what a request needs of the token and its
user (scope, expiry, throttle rate; the user's role, team, active flag and the teams they
manage) is kept in the shared cache for ``CACHE_SECONDS`` under the token's digest. Revoking
or deleting a token, saving or deleting its user or any team, and a bulk ``update()`` of
tokens, users or teams (their querysets announce the rows they change) drop the entry at once,
so a revoked token or a deactivated user is refused on the next request. Only a change made
outside Django (SQL typed into the database) waits for the entry to expire, at most
``CACHE_SECONDS``. Writes always read the token and the user from the database.
"""

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
CACHE_SECONDS = 60
CACHE_PREFIX = "api-token:"
USER_FIELDS = (
    "id",
    "username",
    "first_name",
    "last_name",
    "email",
    "role",
    "team_id",
    "is_active",
    "is_superuser",
    "is_staff",
)
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
    if token.user_id != by.pk and not visibility.can_manage_integrations(by):
        raise PermissionDenied("Only the token's owner or an admin can revoke it.")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    forget(token.digest)
    return token


def forget(*digests: str) -> None:
    """Drop the cached entries of these tokens (now and again after the commit)."""
    from django.core.cache import cache

    keys = [CACHE_PREFIX + d for d in digests]
    if keys:
        cache.delete_many(keys)
        transaction.on_commit(lambda: cache.delete_many(keys), robust=True)


def forget_users(user_ids) -> None:
    forget(*ApiToken.objects.filter(user_id__in=list(user_ids)).values_list("digest", flat=True))


def _from_database(key: str, now) -> ApiToken | None:
    token = ApiToken.objects.usable(now).select_related("user").filter(digest=key).first()
    if token is not None:
        token.user._managed_team_ids = visibility.managed_team_ids(token.user)
    return token


def _cached(key: str) -> ApiToken | None:
    from api import redis_client

    entry = redis_client.get(CACHE_PREFIX + key)
    if entry is None:
        return None
    from accounts.models import User

    user = User(**entry["user"])
    user._state.adding = False
    user._state.db = "default"
    user._managed_team_ids = entry["teams"]
    token = ApiToken(user=user, digest=key, **entry["token"])
    token._state.adding = False
    token._state.db = "default"
    return token


def _remember(token: ApiToken) -> None:
    from django.core.cache import cache

    user = token.user
    entry = {
        "user": {name: getattr(user, name) for name in USER_FIELDS},
        "teams": list(visibility.managed_team_ids(user)),
        "token": {
            "id": token.pk,
            "name": token.name,
            "scope": token.scope,
            "prefix": token.prefix,
            "expires_at": token.expires_at,
            "last_used_at": token.last_used_at,
            "throttle_rate": token.throttle_rate,
        },
    }
    cache.set(CACHE_PREFIX + token.digest, entry, CACHE_SECONDS)


def authenticate(raw: str, *, fresh: bool = False) -> ApiToken | None:
    """The usable token with this secret and its user; ``None`` for an unknown, revoked or
    expired token or a deactivated user. ``fresh`` reads both from the database (writes)."""
    if not raw or not raw.startswith(TOKEN_PREFIX) or len(raw) > 100:
        return None
    now = timezone.now()
    key = digest(raw)
    token = None if fresh else _cached(key)
    if token is None:
        token = _from_database(key, now)
        if token is None:
            return None
        _remember(token)
    if token.expires_at is not None and token.expires_at <= now:
        return None
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_EVERY:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
        _remember(token)
    return token


def tokens_visible_to(user):
    """A user's own tokens; an admin sees every token."""
    qs = ApiToken.objects.select_related("user")
    return qs if visibility.can_manage_integrations(user) else qs.filter(user=user)
