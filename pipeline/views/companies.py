"""Company pages: list (search, filters, sort, pages), detail (deals, leads, contacts,
timeline), create and edit. A company is visible to its owner's scope and to whoever may see
one of its deals; only the owner's scope may edit it."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_http_methods

from accounts import visibility
from imports import exports
from pipeline import services
from pipeline.forms import add_service_errors
from pipeline.forms.accounts import CompanyForm
from pipeline.selectors import accounts as selectors
from pipeline.selectors.leads import paginate
from pipeline.selectors.timeline import timeline_for


def can_assign(user) -> bool:
    return visibility.is_admin(user) or visibility.is_manager(user)


@login_required
def company_list(request):
    filterset = selectors.company_list(user=request.user, params=request.GET)
    if fmt := exports.wanted(request):
        return exports.response(fmt, "companies", filterset.qs)
    page = paginate(filterset.qs, request.GET.get("page"))
    return render(
        request,
        "pipeline/company_list.html",
        {
            "filter": filterset,
            "page_obj": page,
            "sort": filterset.sort,
            "show_owner_filter": can_assign(request.user),
        },
    )


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
    form = CompanyForm(
        request.POST if request.method == "POST" else None,
        user=request.user,
        assign=can_assign(request.user),
    )
    if request.method == "POST" and form.is_valid():
        try:
            company = services.create_company(
                by=request.user, owner=form.cleaned_data.get("owner"), **form.service_data()
            )
        except ValidationError as e:
            add_service_errors(form, e)
        else:
            messages.success(request, f"Company {company.name} created.")
            return redirect(company)
    return render(request, "pipeline/company_form.html", {"form": form, "company": None})


@login_required
@require_http_methods(["GET", "POST"])
def company_edit(request, pk: int):
    company = selectors.company_for(user=request.user, pk=pk)
    if not visibility.can_edit(request.user, company):
        raise PermissionDenied("Only the company's owner, their manager or an admin may edit it.")
    form = CompanyForm(
        request.POST if request.method == "POST" else None,
        instance=company,
        user=request.user,
        assign=can_assign(request.user),
    )
    if request.method == "POST" and form.is_valid():
        try:
            company = services.update_company(
                company=company,
                by=request.user,
                owner=form.cleaned_data.get("owner"),
                **form.service_data(),
            )
        except ValidationError as e:
            add_service_errors(form, e)
        else:
            messages.success(request, "Company saved.")
            return redirect(company)
    return render(request, "pipeline/company_form.html", {"form": form, "company": company})


urlpatterns = [
    path("companies/", company_list, name="company_list"),
    path("companies/new/", company_create, name="company_create"),
    path("companies/<int:pk>/", company_detail, name="company_detail"),
    path("companies/<int:pk>/edit/", company_edit, name="company_edit"),
]
