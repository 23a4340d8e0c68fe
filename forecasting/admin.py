"""Django admin for quotas, adjustments and (read-only) snapshots and ranges. Snapshots are
written only by the nightly job (``manage.py snapshot_forecasts`` re-takes a date); its
schedule is the "Nightly forecast snapshot" periodic task under Periodic tasks; each date's
last run (one task or per-pipeline chunks, started, finished, rows) is under Snapshot runs."""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django_celery_beat import admin as celery_beat_admin
from django_celery_beat.models import PeriodicTask

from forecasting import services
from forecasting.models import (
    ForecastAdjustment,
    ForecastRange,
    ForecastSnapshot,
    Quota,
    SnapshotRun,
)


@admin.register(Quota)
class QuotaAdmin(admin.ModelAdmin):
    list_display = ("month", "user", "team", "amount", "updated_at")
    list_filter = ("month", "team")
    search_fields = ("user__username", "user__first_name", "user__last_name", "team__name")
    date_hierarchy = "month"
    ordering = ("-month", "team__name", "user__username")
    list_select_related = ("user", "team")


@admin.register(ForecastAdjustment)
class ForecastAdjustmentAdmin(admin.ModelAdmin):
    list_display = ("period", "period_kind", "user", "team", "amount", "author", "updated_at")
    list_filter = ("period_kind", "period", "team")
    search_fields = ("user__username", "team__name", "note")
    readonly_fields = ("author", "created_at", "updated_at")
    list_select_related = ("user", "team", "author")

    def save_model(self, request, obj, form, change):
        obj.author = request.user
        super().save_model(request, obj, form, change)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Derived data: visible for inspection, written only by the snapshot job."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ForecastSnapshot)
class ForecastSnapshotAdmin(ReadOnlyAdmin):
    list_display = (
        "taken_on", "period", "owner", "pipeline", "open_count", "open_amount",
        "weighted_amount", "commit_amount", "best_case_amount", "won_amount", "won_count",
        "lost_count",
    )  # fmt: skip
    list_filter = ("taken_on", "period", "pipeline")
    date_hierarchy = "taken_on"
    list_select_related = ("owner", "pipeline")
    actions = ["retake"]

    @admin.action(description="Take these dates' snapshots again")
    def retake(self, request, queryset):
        dates = sorted(set(queryset.values_list("taken_on", flat=True)))
        try:
            for day in dates:
                services.take_snapshot(taken_on=day)
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return
        self.message_user(request, f"Re-took {len(dates)} snapshot date(s).", messages.SUCCESS)


@admin.register(ForecastRange)
class ForecastRangeAdmin(ReadOnlyAdmin):
    list_display = (
        "taken_on", "period_kind", "period", "owner", "team", "pipeline", "p10", "p50", "p90",
        "quota", "chance_to_reach_quota", "open_count",
    )  # fmt: skip
    list_filter = ("taken_on", "period_kind", "period", "team", "pipeline")
    list_select_related = ("owner", "team", "pipeline")


@admin.register(SnapshotRun)
class SnapshotRunAdmin(ReadOnlyAdmin):
    """The run record of each snapshot date: a run started but not finished is under way or
    failed (a chunk that kept failing stops the chord, so the run never finishes); re-take the
    date from the snapshots' action or ``manage.py snapshot_forecasts --date``."""

    list_display = (
        "taken_on", "mode", "chunks_done", "chunks", "rows", "started_at", "finished_at",
        "duration",
    )  # fmt: skip
    list_filter = ("mode", ("finished_at", admin.EmptyFieldListFilter))
    date_hierarchy = "taken_on"
    readonly_fields = list_display + ("chunk_rows",)


class PeriodicTaskAdmin(celery_beat_admin.PeriodicTaskAdmin):
    """django-celery-beat's schedule admin, whose "Run selected tasks" says so when the task
    queue is down instead of hanging the request and failing with a server error."""

    def run_tasks(self, request, queryset):
        from config.celery import QueueUnavailable, publishing

        try:
            with publishing():
                return super().run_tasks(request, queryset)
        except QueueUnavailable as exc:
            self.message_user(request, str(exc), level=messages.ERROR)
            return None

    run_tasks.short_description = celery_beat_admin.PeriodicTaskAdmin.run_tasks.short_description


admin.site.unregister(PeriodicTask)
admin.site.register(PeriodicTask, PeriodicTaskAdmin)
