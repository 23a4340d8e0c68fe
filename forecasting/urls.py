from django.urls import include, path

app_name = "forecasting"
urlpatterns = [
    path("reports/", include("forecasting.reports.urls")),
]
