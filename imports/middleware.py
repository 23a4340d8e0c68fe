"""Refuse an upload larger than an import may be before a byte of it is read.

The CSRF check reads the request body (it looks for the token in the form), so the size must
be checked before it: a 2 GB upload is answered from its ``Content-Length`` alone.
"""

from django.shortcuts import render

from imports.parsing import MAX_BYTES

LIMIT = MAX_BYTES + 1024 * 1024  # the file plus the form around it


class UploadLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method == "POST" and request.path.startswith("/imports/"):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > LIMIT:
                return render(
                    request,
                    "imports/too_large.html",
                    status=413,
                )
        return self.get_response(request)
