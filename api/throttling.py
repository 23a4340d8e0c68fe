"""Rates per token and per user, counted in the default cache (Redis in production).

A request with a token is counted against the token (its own ``throttle_rate`` when an admin
set one, else ``OPPORTUNE_API_TOKEN_RATE``); a browser session against the user
(``OPPORTUNE_API_USER_RATE``). A throttled request is a 429 with ``Retry-After``.

Each count is one atomic step: a counter per window of the rate's duration (a minute for
``1200/min``), created with that lifetime and incremented in a single round trip to Redis
(``SET … NX EX`` and ``INCR`` in one pipeline), instead of reading and rewriting the list of
recent request times. ``Retry-After`` is the rest of the window.
"""

from __future__ import annotations

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from rest_framework.throttling import SimpleRateThrottle

from api import redis_client
from api.models import ApiToken


def count(key: str, ttl: int) -> int:
    """Add one to the counter ``key`` (made with lifetime ``ttl`` seconds) and return it."""
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        name = backend.make_and_validate_key(key)
        pipe = redis_client.client(backend).pipeline(transaction=False)
        pipe.set(name, 0, ex=ttl, nx=True)
        pipe.incr(name)
        return pipe.execute()[1]
    backend.add(key, 0, ttl)
    try:
        return backend.incr(key)
    except ValueError:  # expired between the two calls
        backend.add(key, 1, ttl)
        return 1


class WindowThrottle(SimpleRateThrottle):
    """At most ``num_requests`` per window of ``duration`` seconds, counted atomically."""

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        now = self.timer()
        window = int(now // self.duration)
        if count(f"{key}:{window}", self.duration) <= self.num_requests:
            return True
        self.wait_seconds = (window + 1) * self.duration - now
        return False

    def wait(self):
        return max(getattr(self, "wait_seconds", 1), 1)


class TokenRateThrottle(WindowThrottle):
    scope = "token"

    def allow_request(self, request, view):
        token = request.auth
        if not isinstance(token, ApiToken):
            return True
        if token.throttle_rate:
            self.rate = token.throttle_rate
            self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": request.auth.digest[:24]}


class UserRateThrottle(WindowThrottle):
    scope = "user"

    def get_cache_key(self, request, view):
        if isinstance(request.auth, ApiToken) or not request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}
