from django.urls import include, path

from forecasting import views

app_name = "forecasting"
urlpatterns = [
    path("", views.dashboard_view, name="dashboard"),
    path("deals/", views.deals_view, name="deals"),
    path("changes/", views.changes_view, name="changes"),
    path("accuracy/", views.accuracy_view, name="accuracy"),
    path("calibration/", views.calibration_view, name="calibration"),
    path(
        "calibration/<int:pk>/source/",
        views.probability_source_view,
        name="probability_source",
    ),
    path("quotas/", views.quotas_view, name="quotas"),
    path("adjust/", views.adjust_view, name="adjust"),
    path("reports/", include("forecasting.reports.urls")),
]
