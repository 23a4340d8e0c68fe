"""The product catalogue, read-only for everyone signed in: what can be sold and at which list
price in each currency. Admins maintain it in Django admin."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch
from django.shortcuts import render
from django.urls import path
from django.views.decorators.http import require_http_methods

from pipeline.filters.products import ProductFilter
from pipeline.models import Product, ProductPrice
from pipeline.selectors.leads import paginate


@login_required
@require_http_methods(["GET"])
def product_list(request):
    products = Product.objects.prefetch_related(
        Prefetch("prices", queryset=ProductPrice.objects.order_by("currency"))
    )
    filterset = ProductFilter(request.GET, queryset=products)
    page = paginate(filterset.qs, request.GET.get("page"))
    return render(request, "pipeline/product_list.html", {"filter": filterset, "page_obj": page})


urlpatterns = [path("products/", product_list, name="product_list")]
