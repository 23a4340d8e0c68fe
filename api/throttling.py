"""Rates per token and per user, counted in the default cache (Redis in production).

A request with a token is counted against the token (its own ``throttle_rate`` when an admin
set one, else ``OPPORTUNE_API_TOKEN_RATE``); a browser session against the user
(``OPPORTUNE_API_USER_RATE``). A throttled request is a 429 with ``Retry-After``.
"""

from rest_framework.throttling import SimpleRateThrottle

from api.models import ApiToken


class TokenRateThrottle(SimpleRateThrottle):
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


class UserRateThrottle(SimpleRateThrottle):
    scope = "user"

    def get_cache_key(self, request, view):
        if isinstance(request.auth, ApiToken) or not request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}
