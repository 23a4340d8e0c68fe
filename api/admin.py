from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from api import tokens, webhooks
from api.models import ApiToken, WebhookDelivery, WebhookEndpoint


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Every user's tokens: admins see and revoke them (tokens are created by their owners on
    Settings > API tokens; only the fingerprint is stored)."""

    list_display = (
        "name",
        "user",
        "prefix",
        "scope",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
    )
    list_filter = ("scope",)
    search_fields = ("name", "user__username", "prefix")
    fields = (
        "user",
        "name",
        "scope",
        "prefix",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
        "throttle_rate",
    )
    readonly_fields = (
        "user",
        "name",
        "scope",
        "prefix",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
    )
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    def save_model(self, request, obj, form, change):
        from rest_framework.throttling import SimpleRateThrottle

        if obj.throttle_rate:
            try:
                SimpleRateThrottle.parse_rate(None, obj.throttle_rate)
            except (ValueError, KeyError, IndexError):
                messages.error(request, "Enter a rate such as 1000/min; nothing was changed.")
                return
        super().save_model(request, obj, form, change)

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset):
        for token in queryset:
            tokens.revoke_token(token=token, by=request.user)
        messages.success(request, "The tokens are revoked.")


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    """Receivers of webhook events. A URL on a private, loopback or link-local address is
    refused unless OPPORTUNE_WEBHOOK_ALLOW_PRIVATE is set."""

    list_display = ("url", "is_active", "consecutive_failures", "disabled_reason", "created_at")
    readonly_fields = ("consecutive_failures", "disabled_reason", "created_at")

    def save_model(self, request, obj, form, change):
        obj.created_by = obj.created_by or request.user
        super().save_model(request, obj, form, change)

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)

        def clean(this):
            data = super(form, this).clean()
            try:
                webhooks.validate_endpoint(
                    url=data.get("url", ""), events=data.get("events"), secret=data.get("secret")
                )
            except ValidationError as exc:
                raise ValidationError(exc.message_dict) from None
            return data

        form.clean = clean
        return form


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    """The delivery log; “Redeliver” sends the selected events again."""

    list_display = (
        "event",
        "endpoint",
        "status",
        "response_code",
        "duration_ms",
        "attempts",
        "last_attempt_at",
    )
    list_filter = ("status", "event")
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]
    actions = ["redeliver"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Redeliver the selected events")
    def redeliver(self, request, queryset):
        for delivery in queryset:
            webhooks.redeliver(delivery=delivery, by=request.user)
        messages.success(request, "The events are being sent again.")
