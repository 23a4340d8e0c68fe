"""Company pages: list (search, filters, sort, pages), detail (deals, leads, contacts,
timeline), create and edit. A company is visible to its owner's scope and to whoever may see
one of its deals; only the owner's scope may edit it."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.urls import path
from django.views.decorators.http import require_http_methods

from accounts import visibility
from pipeline import list_exports as exports
from pipeline import services
from pipeline.forms.companies import CompanyForm
from pipeline.selectors import companies as selectors
from pipeline.selectors.timeline import timeline_for
from pipeline.views import form_page, list_page


@login_required
def company_list(request):
    filterset = selectors.company_list(user=request.user, params=request.GET)
    if fmt := exports.wanted(request):
        return exports.response(fmt, "companies", filterset.qs)
    return list_page(request, filterset, "pipeline/company_list.html")


@login_required
def company_detail(request, pk: int):
    company = selectors.company_for(user=request.user, pk=pk)
    return render(
        request,
        "pipeline/company_detail.html",
        {
            "company": company,
            "can_edit": visibility.can_edit(request.user, company),
            "timeline": timeline_for(user=request.user, company=company),
            **selectors.company_page(user=request.user, company=company),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def company_create(request):
    return form_page(
        request,
        CompanyForm,
        "pipeline/company_form.html",
        record_name="company",
        service=services.create_company,
        success=lambda company: f"Company {company.name} created.",
    )


@login_required
@require_http_methods(["GET", "POST"])
def company_edit(request, pk: int):
    company = selectors.company_for(user=request.user, pk=pk)
    if not visibility.can_edit(request.user, company):
        raise PermissionDenied("Only the company's owner, their manager or an admin may edit it.")
    return form_page(
        request,
        CompanyForm,
        "pipeline/company_form.html",
        record_name="company",
        instance=company,
        service=services.update_company,
        success=lambda company: "Company saved.",
    )


urlpatterns = [
    path("companies/", company_list, name="company_list"),
    path("companies/new/", company_create, name="company_create"),
    path("companies/<int:pk>/", company_detail, name="company_detail"),
    path("companies/<int:pk>/edit/", company_edit, name="company_edit"),
]
