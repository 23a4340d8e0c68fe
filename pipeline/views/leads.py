"""Lead pages: list (filters, search, sort, pages), create, edit, detail with timeline, and
the lead's life: start working, qualify to prospect, disqualify with a reason, convert to an
opportunity. Views parse input, call a selector or a service, and render."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_http_methods, require_POST

from accounts import visibility
from pipeline import list_exports as exports
from pipeline import services
from pipeline.forms import add_service_errors, choice_query
from pipeline.forms.leads import ConvertLeadForm, DisqualifyForm, LeadForm
from pipeline.models import Lead
from pipeline.selectors import leads as selectors
from pipeline.selectors.timeline import timeline_for
from pipeline.views import form_page, list_page


@login_required
def lead_list(request):
    filterset = selectors.lead_list(user=request.user, params=request.GET)
    if fmt := exports.wanted(request):
        return exports.response(fmt, "leads", filterset.qs)
    return list_page(request, filterset, "pipeline/lead_list.html")


@login_required
@require_http_methods(["GET", "POST"])
def lead_create(request):
    return form_page(
        request,
        LeadForm,
        "pipeline/lead_form.html",
        record_name="lead",
        service=services.create_lead,
        success=lambda lead: f"Lead {lead.full_name} created.",
    )


@login_required
def lead_detail(request, pk: int):
    lead = selectors.lead_detail(user=request.user, pk=pk)
    return render(
        request,
        "pipeline/lead_detail.html",
        {
            "lead": lead,
            "can_edit": visibility.can_edit(request.user, lead),
            "timeline": timeline_for(user=request.user, lead=lead),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def lead_edit(request, pk: int):
    lead = selectors.lead_for_edit(user=request.user, pk=pk)
    if not lead.is_open:
        messages.error(
            request,
            f"This lead is {lead.get_status_display().lower()} and can no longer be edited.",
        )
        return redirect(lead)
    return form_page(
        request,
        LeadForm,
        "pipeline/lead_form.html",
        record_name="lead",
        instance=lead,
        service=services.update_lead,
        success=lambda lead: "Lead saved.",
    )


def _lead_action(request, pk: int, action, success: str):
    lead = selectors.lead_for_edit(user=request.user, pk=pk)
    try:
        action(lead=lead, by=request.user)
    except ValidationError as e:
        messages.error(request, " ".join(e.messages))
    else:
        messages.success(request, success.format(name=lead.full_name))
    return HttpResponseRedirect(lead.get_absolute_url())


@login_required
@require_POST
def lead_start(request, pk: int):
    return _lead_action(request, pk, services.start_working_lead, "You are working {name}.")


@login_required
@require_POST
def lead_qualify(request, pk: int):
    return _lead_action(
        request,
        pk,
        services.qualify_lead,
        "{name} is qualified as a prospect. Convert it to a deal when need, budget and "
        "timeline are known.",
    )


@login_required
@require_http_methods(["GET", "POST"])
def lead_disqualify(request, pk: int):
    lead = selectors.lead_for_edit(user=request.user, pk=pk)
    if not lead.is_open:
        messages.error(
            request, f"A {lead.get_status_display().lower()} lead cannot be disqualified."
        )
        return redirect(lead)
    form = DisqualifyForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            services.disqualify_lead(lead=lead, by=request.user, reason=form.cleaned_data["reason"])
        except ValidationError as e:
            add_service_errors(form, e)
        else:
            messages.success(request, f"{lead.full_name} is disqualified.")
            return redirect(lead)
    return render(request, "pipeline/lead_disqualify.html", {"form": form, "lead": lead})


@login_required
@require_http_methods(["GET", "POST"])
def lead_convert(request, pk: int):
    lead = selectors.lead_detail(user=request.user, pk=pk)
    if lead.status == Lead.Status.CONVERTED and lead.opportunity_id:
        messages.info(request, "This lead is already converted.")
        return redirect(lead)
    if lead.status in (Lead.Status.NEW, Lead.Status.WORKING):
        messages.error(request, "Qualify the lead as a prospect before converting it.")
        return redirect(lead)
    if lead.status != Lead.Status.PROSPECT:
        messages.error(request, f"A {lead.get_status_display().lower()} lead cannot be converted.")
        return redirect(lead)
    query = choice_query(request)
    options = {
        "user": request.user,
        "lead": lead,
        "assign": visibility.can_assign_owner(request.user),
        # Searches that narrow the company and contact dropdowns (?company_q=, ?contact_q=).
        "company_q": query["company_q"],
        "contact_q": query["contact_q"],
    }
    if request.method == "POST":
        form = ConvertLeadForm(request.POST, **options)
    else:
        pipeline = selectors.default_pipeline()
        company = selectors.matching_company(user=request.user, lead=lead)
        initial = {
            "need": lead.need,
            "budget": lead.budget,
            "authority": lead.authority,
            "timeline": lead.timeline,
            "amount": lead.budget,
            "pipeline": pipeline.pk if pipeline else None,
            "company": company.pk if company else None,
            "company_name": "" if company else lead.company_name,
            "contact": lead.contact_id,
        }
        # A search keeps the choice made so far (sent along by the search form).
        initial.update({k: query[k] for k in ("company", "contact") if query[k]})
        form = ConvertLeadForm(initial=initial, **options)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                lead = services.update_lead(
                    lead=lead,
                    by=request.user,
                    version=data["version"],
                    need=data["need"],
                    budget=data["budget"],
                    authority=data["authority"],
                    timeline=data["timeline"],
                )
                opportunity = services.convert_lead(
                    lead=lead,
                    by=request.user,
                    version=lead.version,
                    amount=data["amount"],
                    expected_close_date=data["expected_close_date"],
                    pipeline=data["pipeline"],
                    name=data["name"],
                    company=data["company"],
                    company_name=data["company_name"],
                    contact=data["contact"],
                    contact_is_decision_maker=data["contact_is_decision_maker"],
                    owner=data.get("owner"),
                )
        except ValidationError as e:
            add_service_errors(form, e, field_map={"stage": "pipeline"})
        else:
            messages.success(request, f"{lead.full_name} is now the deal “{opportunity.name}”.")
            return redirect(opportunity)
    return render(request, "pipeline/lead_convert.html", {"form": form, "lead": lead})


urlpatterns = [
    path("leads/", lead_list, name="lead_list"),
    path("leads/new/", lead_create, name="lead_create"),
    path("leads/<int:pk>/", lead_detail, name="lead_detail"),
    path("leads/<int:pk>/edit/", lead_edit, name="lead_edit"),
    path("leads/<int:pk>/start/", lead_start, name="lead_start"),
    path("leads/<int:pk>/qualify/", lead_qualify, name="lead_qualify"),
    path("leads/<int:pk>/disqualify/", lead_disqualify, name="lead_disqualify"),
    path("leads/<int:pk>/convert/", lead_convert, name="lead_convert"),
]
