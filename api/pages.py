"""Settings pages: personal API tokens (everyone) and webhooks (admins)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.visibility import can_manage_integrations
from api import tokens, webhooks
from api.models import ApiToken, WebhookDelivery, WebhookEndpoint, WebhookEvent


def _errors(exc: ValidationError) -> list[str]:
    return exc.messages


@login_required
@require_http_methods(["GET", "POST"])
def api_tokens(request):
    created, raw, errors, form = None, "", [], {}
    if request.method == "POST":
        form = {
            "name": request.POST.get("name", ""),
            "scope": request.POST.get("scope", ""),
            "expires_on": request.POST.get("expires_on", ""),
        }
        try:
            created, raw = tokens.create_token(
                user=request.user,
                by=request.user,
                name=form["name"],
                scope=form["scope"],
                expires_on=form["expires_on"] or None,
            )
            form = {}
        except ValidationError as exc:
            errors = _errors(exc)
    listed = tokens.tokens_visible_to(request.user).order_by("-created_at", "-id")[:200]
    return render(
        request,
        "api/tokens.html",
        {
            "tokens": listed,
            "created": created,
            "raw": raw,
            "errors": errors,
            "form": form,
            "scopes": ApiToken.Scope.choices,
            "show_users": can_manage_integrations(request.user),
        },
        status=400 if errors else 200,
    )


@login_required
@require_POST
def api_token_revoke(request, pk: int):
    token = get_object_or_404(tokens.tokens_visible_to(request.user), pk=pk)
    tokens.revoke_token(token=token, by=request.user)
    messages.success(request, f"“{token.name}” is revoked; requests with it are refused now.")
    return redirect("api_tokens")


def _admin_only(request):
    if not can_manage_integrations(request.user):
        raise PermissionDenied("Only admins can manage webhooks.")


@login_required
@require_http_methods(["GET", "POST"])
def webhook_list(request):
    _admin_only(request)
    errors, form = [], {"secret": webhooks.new_secret(), "events": []}
    if request.method == "POST":
        form = {
            "url": request.POST.get("url", ""),
            "description": request.POST.get("description", ""),
            "events": request.POST.getlist("events"),
            "secret": request.POST.get("secret", ""),
        }
        try:
            endpoint = webhooks.create_endpoint(by=request.user, **form)
        except ValidationError as exc:
            errors = _errors(exc)
        else:
            messages.success(request, f"Events now go to {endpoint.url}.")
            return redirect("webhooks")
    return render(
        request,
        "api/webhooks.html",
        {
            "endpoints": WebhookEndpoint.objects.order_by("url", "id"),
            "deliveries": WebhookDelivery.objects.select_related("endpoint").order_by(
                "-created_at", "-id"
            )[:50],
            "events": WebhookEvent.choices,
            "errors": errors,
            "form": form,
        },
        status=400 if errors else 200,
    )


@login_required
@require_POST
def webhook_toggle(request, pk: int):
    _admin_only(request)
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
    webhooks.set_active(endpoint=endpoint, by=request.user, active=not endpoint.is_active)
    messages.success(
        request,
        f"{endpoint.url} is {'on' if endpoint.is_active else 'off'}.",
    )
    return redirect("webhooks")


@login_required
@require_POST
def webhook_redeliver(request, pk: int):
    _admin_only(request)
    delivery = get_object_or_404(WebhookDelivery, pk=pk)
    webhooks.redeliver(delivery=delivery, by=request.user)
    messages.success(request, f"The {delivery.event} event is being sent again.")
    return redirect("webhooks")
