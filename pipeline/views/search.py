"""/pipeline/search/: the workspace's search box (in every page's header)."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import path
from django.views.decorators.http import require_GET

from pipeline.selectors.search import search


@login_required
@require_GET
def search_view(request):
    results = search(user=request.user, query=request.GET.get("q", ""), request=request)
    return render(request, "pipeline/search.html", {"results": results})


urlpatterns = [path("search/", search_view, name="search")]
