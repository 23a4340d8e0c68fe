from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from accounts.visibility import can_administer
from config.views import favicon, healthz, readyz
from workspace.login import LoginView

admin.site.site_header = "Opportune administration"
admin.site.site_title = "Opportune admin"
admin.site.index_title = "Pipelines, stages, teams and users"


def _admin_only(request):
    """Django admin is for admins (role admin or superuser) only, never for reps or managers."""
    return can_administer(request.user)


admin.site.has_permission = _admin_only

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("favicon.ico", favicon),
    path("admin/", admin.site.urls),
    path(
        "accounts/login/",
        LoginView.as_view(),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("pipeline/", include("pipeline.urls")),
    path("forecasting/", include("forecasting.urls")),
    path("notifications/", include("notifications.urls")),
    path("api/", include("api.urls")),
    path("", include("api.page_urls")),
    path("imports/", include("imports.urls")),
    path("", include("workspace.urls")),
    path("", include("accounts.urls")),
]
