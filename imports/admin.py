from django.contrib import admin

from imports.models import ImportBatch, ImportMapping


@admin.register(ImportBatch)
class ImportBatchAdmin(admin.ModelAdmin):
    list_display = ("file_name", "kind", "owner", "status", "row_count", "created_at")
    list_filter = ("status", "kind")
    exclude = ("data",)
    readonly_fields = [f.name for f in ImportBatch._meta.fields if f.name != "data"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ImportMapping)
class ImportMappingAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "owner", "created_at")
