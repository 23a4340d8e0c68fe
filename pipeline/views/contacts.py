"""Contact pages: list (search, filters, sort, pages), detail (deals, leads, timeline),
create and edit. Visible like companies: the owner's scope, plus whoever may see a deal the
contact is primary contact of; only the owner's scope may edit."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_http_methods

from accounts import visibility
from imports import exports
from pipeline import services
from pipeline.forms import add_service_errors, choice_query
from pipeline.forms.accounts import ContactForm
from pipeline.models import Company
from pipeline.selectors import accounts as selectors
from pipeline.selectors.leads import paginate
from pipeline.selectors.timeline import timeline_for
from pipeline.views.companies import can_assign


@login_required
def contact_list(request):
    filterset = selectors.contact_list(user=request.user, params=request.GET)
    if fmt := exports.wanted(request):
        return exports.response(fmt, "contacts", filterset.qs)
    page = paginate(filterset.qs, request.GET.get("page"))
    company = filterset.form.cleaned_data.get("company") if filterset.form.is_valid() else None
    return render(
        request,
        "pipeline/contact_list.html",
        {
            "filter": filterset,
            "page_obj": page,
            "sort": filterset.sort,
            "company_filter": company,
            "show_owner_filter": can_assign(request.user),
        },
    )


@login_required
def contact_detail(request, pk: int):
    contact = selectors.contact_for(user=request.user, pk=pk)
    return render(
        request,
        "pipeline/contact_detail.html",
        {
            "contact": contact,
            "can_edit": visibility.can_edit(request.user, contact),
            "timeline": timeline_for(user=request.user, contact=contact),
            **selectors.contact_page(user=request.user, contact=contact),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def contact_create(request):
    initial = {}
    query = choice_query(request)
    if query["company"]:
        company = Company.objects.visible_to(request.user).filter(pk=query["company"]).first()
        if company is not None:
            initial["company"] = company.pk
    form = ContactForm(
        request.POST if request.method == "POST" else None,
        initial=initial,
        user=request.user,
        assign=can_assign(request.user),
        company_q=query["company_q"],
    )
    if request.method == "POST" and form.is_valid():
        try:
            contact = services.create_contact(
                by=request.user,
                owner=form.cleaned_data.get("owner"),
                company=form.cleaned_data["company"],
                **form.service_data(),
            )
        except ValidationError as e:
            add_service_errors(form, e)
        else:
            messages.success(request, f"Contact {contact.full_name} created.")
            return redirect(contact)
    return render(request, "pipeline/contact_form.html", {"form": form, "contact": None})


@login_required
@require_http_methods(["GET", "POST"])
def contact_edit(request, pk: int):
    contact = selectors.contact_for(user=request.user, pk=pk)
    if not visibility.can_edit(request.user, contact):
        raise PermissionDenied("Only the contact's owner, their manager or an admin may edit it.")
    query = choice_query(request)
    form = ContactForm(
        request.POST if request.method == "POST" else None,
        instance=contact,
        # A company search keeps the company chosen so far (sent along as ?company=).
        initial={"company": query["company"]} if query["company"] else None,
        user=request.user,
        assign=can_assign(request.user),
        company_q=query["company_q"],
    )
    if request.method == "POST" and form.is_valid():
        try:
            contact = services.update_contact(
                contact=contact,
                by=request.user,
                owner=form.cleaned_data.get("owner"),
                company=form.cleaned_data["company"],
                **form.service_data(),
            )
        except ValidationError as e:
            add_service_errors(form, e)
        else:
            messages.success(request, "Contact saved.")
            return redirect(contact)
    return render(request, "pipeline/contact_form.html", {"form": form, "contact": contact})


urlpatterns = [
    path("contacts/", contact_list, name="contact_list"),
    path("contacts/new/", contact_create, name="contact_create"),
    path("contacts/<int:pk>/", contact_detail, name="contact_detail"),
    path("contacts/<int:pk>/edit/", contact_edit, name="contact_edit"),
]
