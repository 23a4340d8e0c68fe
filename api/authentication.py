"""``Authorization: Bearer <token>`` with a personal API token."""

from __future__ import annotations

from rest_framework import authentication, exceptions

from api import tokens


class TokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "Send the token as “Authorization: Bearer <token>”.", code="bad_token_header"
            )
        try:
            raw = header[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed(
                "The token is not valid.", code="invalid_token"
            ) from None
        # Reads may use the cached token and user; writes read both from the database.
        token = tokens.authenticate(raw, fresh=request.method not in ("GET", "HEAD", "OPTIONS"))
        if token is None:
            raise exceptions.AuthenticationFailed(
                "The token is unknown, revoked or expired; create a new one under Settings > "
                "API tokens.",
                code="invalid_token",
            )
        return token.user, token

    def authenticate_header(self, request):
        return self.keyword
