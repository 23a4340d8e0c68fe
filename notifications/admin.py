from django.contrib import admin

from notifications.models import DigestRun, Notification, Preference


@admin.register(Preference)
class PreferenceAdmin(admin.ModelAdmin):
    list_display = ("user", "digest_enabled", "digest_hour", "time_zone", "updated_at")
    list_filter = ("digest_enabled", "time_zone")
    search_fields = ("user__username", "user__email")
    readonly_fields = ("calendar_token", "version", "updated_at")
    autocomplete_fields = ()
    raw_id_fields = ("user",)


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("title", "recipient", "event", "created_at", "read_at")
    list_filter = ("event",)
    search_fields = ("title", "recipient__username")
    raw_id_fields = ("recipient", "actor")

    def has_add_permission(self, request):
        return False


@admin.register(DigestRun)
class DigestRunAdmin(admin.ModelAdmin):
    """Read-only: what each user's digest of a day became (sent, nothing to say, failed)."""

    list_display = ("user", "day", "status", "attempts", "items", "updated_at")
    list_filter = ("status", "day")
    search_fields = ("user__username", "user__email")
    readonly_fields = [f.name for f in DigestRun._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
