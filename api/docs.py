from django.shortcuts import render
from django.views.decorators.http import require_GET


@require_GET
def docs(request):
    """Swagger UI over /api/schema/, from installed static files only, under the site's
    Content-Security-Policy (its start-up script is static/js/api-docs.js)."""
    return render(request, "api/docs.html")
