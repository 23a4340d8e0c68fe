from rest_framework import permissions

from api.models import ApiToken


class TokenScope(permissions.BasePermission):
    """Signed in (session or token); a read-only token may only read."""

    message = "This token is read-only; create a read-and-write token to change records."

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated and user.is_active):
            return False
        if request.method in permissions.SAFE_METHODS:
            return True
        token = request.auth
        return not isinstance(token, ApiToken) or token.can_write


class IsAdminRole(permissions.BasePermission):
    message = "Only admins can manage webhooks."

    def has_permission(self, request, view):
        from accounts.visibility import can_manage_integrations

        return can_manage_integrations(request.user)
