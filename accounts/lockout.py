"""Sign-in throttling (django-axes): the client address it counts failures by, and the page a
locked-out sign-in gets.

The lockout page is the login page the request came from (the app's or the admin's), with the
form's error replaced by "Too many failed sign-in attempts. Try again in N minutes." and status
429, never Django's bare lockout text.
"""

import math

from axes.helpers import get_cool_off
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.forms.forms import NON_FIELD_ERRORS
from django.template.response import TemplateResponse


def client_ip(request) -> str | None:
    """The client's address: the connection's, or behind ``OPPORTUNE_PROXY_COUNT`` proxies that
    each append to X-Forwarded-For, that many entries from its right (entries further left were
    written by the client and prove nothing)."""
    count = settings.OPPORTUNE_PROXY_COUNT
    if count:
        hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        hops = [hop for hop in hops if hop]
        if len(hops) >= count:
            return hops[-count]
    return request.META.get("REMOTE_ADDR")


def minutes_left(request) -> int:
    """Whole minutes (rounded up) until this sign-in may be tried again. Every failure while
    locked restarts the cool-off (axes' default, kept), and a lockout page always answers one,
    so the wait is the full cool-off."""
    return max(1, math.ceil(get_cool_off(request).total_seconds() / 60))


def lockout_message(minutes: int) -> str:
    unit = "minute" if minutes == 1 else "minutes"
    return f"Too many failed sign-in attempts. Try again in {minutes} {unit}."


def lockout_response(request, original_response=None, credentials=None):
    """``AXES_LOCKOUT_CALLABLE``: re-render the login form that was posted with the lockout
    message as its only error."""
    message = lockout_message(minutes_left(request))
    response = original_response
    if not (isinstance(response, TemplateResponse) and (response.context_data or {}).get("form")):
        # Not a login form's page (another caller of authenticate()): the app's login page.
        response = TemplateResponse(
            request, "registration/login.html", {"form": AuthenticationForm(request)}
        )
    form = response.context_data["form"]
    form.errors.clear()
    form.errors[NON_FIELD_ERRORS] = form.error_class(
        [message], error_class="nonfield", renderer=form.renderer
    )
    response.content = response.rendered_content
    response.status_code = settings.AXES_HTTP_RESPONSE_CODE
    return response
