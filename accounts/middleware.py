"""The two-factor gate.

After a password sign-in, a user with a confirmed authenticator device reaches nothing but the
code step (and log out) until they enter a code. With ``OPPORTUNE_REQUIRE_2FA`` an admin without
a device reaches nothing but the set-up page until they have one. Both hold for the Django
admin too.

Whether the user has a device is looked up once, at sign-in, and kept in the session, so pages
of users without two-factor cost no extra query.
"""

from urllib.parse import urlencode

from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from accounts import services
from accounts.signals import TWO_FACTOR_SESSION_KEY


def _open_paths() -> set[str]:
    return {
        reverse("two_factor"),
        reverse("two_factor_qr"),
        reverse("two_factor_verify"),
        reverse("logout"),
        reverse("healthz"),
    }


class TwoFactorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        target = self._gate(request)
        if target is None:
            return self.get_response(request)
        url = reverse(target)
        if request.method in ("GET", "HEAD") and not request.headers.get("HX-Request"):
            url += "?" + urlencode({"next": request.get_full_path()})
        if request.headers.get("HX-Request"):
            response = HttpResponse(status=204)
            response["HX-Redirect"] = url
            return response
        return redirect(url)

    @staticmethod
    def _gate(request) -> str | None:
        user = request.user
        if not user.is_authenticated:
            return None
        if request.session.get(TWO_FACTOR_SESSION_KEY):
            target = "two_factor_verify"
        elif services.two_factor_required(user):
            target = "two_factor"
        else:
            return None
        if request.path in _open_paths() or user.is_verified():
            return None
        return target
