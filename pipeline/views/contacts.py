"""Contact pages: list (search, filters, sort, pages), detail (deals, leads, timeline),
create and edit. Visible like companies: the owner's scope, plus whoever may see a deal the
contact is primary contact of; only the owner's scope may edit."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.urls import path
from django.views.decorators.http import require_http_methods

from accounts import visibility
from pipeline import list_exports as exports
from pipeline import services
from pipeline.forms import choice_query
from pipeline.forms.contacts import ContactForm
from pipeline.models import Company
from pipeline.selectors import contacts as selectors
from pipeline.selectors.timeline import timeline_for
from pipeline.views import form_page, list_page


@login_required
def contact_list(request):
    filterset = selectors.contact_list(user=request.user, params=request.GET)
    if fmt := exports.wanted(request):
        return exports.response(fmt, "contacts", filterset.qs)
    company = filterset.form.cleaned_data.get("company") if filterset.form.is_valid() else None
    return list_page(request, filterset, "pipeline/contact_list.html", company_filter=company)


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
    return form_page(
        request,
        ContactForm,
        "pipeline/contact_form.html",
        record_name="contact",
        service=services.create_contact,
        service_fields=("company",),
        success=lambda contact: f"Contact {contact.full_name} created.",
        initial=initial,
        company_q=query["company_q"],
    )


@login_required
@require_http_methods(["GET", "POST"])
def contact_edit(request, pk: int):
    contact = selectors.contact_for(user=request.user, pk=pk)
    if not visibility.can_edit(request.user, contact):
        raise PermissionDenied("Only the contact's owner, their manager or an admin may edit it.")
    query = choice_query(request)
    return form_page(
        request,
        ContactForm,
        "pipeline/contact_form.html",
        record_name="contact",
        instance=contact,
        service=services.update_contact,
        service_fields=("company",),
        success=lambda contact: "Contact saved.",
        # A company search keeps the company chosen so far (sent along as ?company=).
        initial={"company": query["company"]} if query["company"] else None,
        company_q=query["company_q"],
    )


urlpatterns = [
    path("contacts/", contact_list, name="contact_list"),
    path("contacts/new/", contact_create, name="contact_create"),
    path("contacts/<int:pk>/", contact_detail, name="contact_detail"),
    path("contacts/<int:pk>/edit/", contact_edit, name="contact_edit"),
]
