"""The Content-Security-Policy middleware: django-csp's, plus one narrow addition for admin.

The policy itself is ``CONTENT_SECURITY_POLICY`` in ``config/settings.py``. Our own pages
keep it with no exception. Django admin's own templates keep it too; the one third-party
admin template that does not is django-simple-history's change history list, whose
paginator carries a fixed ``style="border-top: 0"``. Rather than allowing inline styles in
admin, the policy allows exactly that attribute value (by its hash, with
``'unsafe-hashes'``, which lets a hash match an attribute) and only under ``/admin/``.
Scripts in admin get no exception at all.
"""

from __future__ import annotations

from csp.middleware import CSPMiddleware, PolicyParts

ADMIN_PREFIX = "/admin/"

# sha256 of the text "border-top: 0" (simple_history/object_history_list.html).
ADMIN_POLICY_UPDATE = {
    "style-src-attr": ["'unsafe-hashes'", "'sha256-XMXSevYjgSjXgRafBFDvtjwX+yyWLrxfso9DcNZ9UXM='"],
}


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    def get_policy_parts(self, request, response, report_only: bool = False) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if parts.update is None and request.path_info.startswith(ADMIN_PREFIX):
            parts.update = ADMIN_POLICY_UPDATE
        return parts
