"""The product list's filters: search by name or code, a category, and whether inactive
products are listed too (by default only what is offered)."""

from __future__ import annotations

import django_filters
from django.db.models import Q

from pipeline.models import Product


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
