"""Where to send a user back to after a form or an action: the ``next`` a page passed along,
when it points to this site (never an open redirect), else the page's own default."""

from django.utils.http import url_has_allowed_host_and_scheme


def safe_next(request, default: str) -> str:
    """``next`` of the POST body or the query string when it is a URL of this host (and
    HTTPS when the request is), else ``default``."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default
