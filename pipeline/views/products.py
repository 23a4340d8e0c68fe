"""The product catalogue, read-only for everyone signed in: what can be sold and at which list
price in each currency. Admins maintain it in Django admin."""

from __future__ import annotations

import django_filters
from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch, Q
from django.shortcuts import render
from django.urls import path
from django.views.decorators.http import require_http_methods

from pipeline.models import Product, ProductPrice
from pipeline.selectors.leads import paginate


def _categories():
    return [
        (c, c)
        for c in Product.objects.exclude(category="")
        .order_by("category")
        .values_list("category", flat=True)
        .distinct()
    ]


class ProductFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", max_length=100, label="Search")
    category = django_filters.ChoiceFilter(choices=_categories, empty_label="All categories")
    inactive = django_filters.BooleanFilter(
        method="with_inactive",
        label="Include inactive",
        widget=django_filters.widgets.forms.CheckboxInput,
    )

    class Meta:
        model = Product
        fields = ["q", "category", "inactive"]

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(name__icontains=value) | Q(code__icontains=value))

    def with_inactive(self, queryset, name, value):
        return queryset

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        if not self.form.cleaned_data.get("inactive"):
            queryset = queryset.filter(is_active=True)
        return queryset

    @property
    def bar_fields(self):
        return [self.form["category"], self.form["inactive"]]

    @property
    def active(self) -> bool:
        return any(self.form.cleaned_data.get(k) for k in ("q", "category", "inactive"))


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
