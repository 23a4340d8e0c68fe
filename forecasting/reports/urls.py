from django.urls import path

from forecasting.reports import views

urlpatterns = [
    path("", views.index, name="reports_index"),
    path("funnel/", views.funnel, name="report_funnel"),
    path("stages/", views.stages, name="report_stages"),
    path("win-rate/", views.win_rate, name="report_win_rate"),
    path("pipeline/", views.pipeline_by_month, name="report_pipeline"),
    path("rotting/", views.rotting, name="report_rotting"),
    path("scorecards/", views.scorecards, name="report_scorecards"),
    path("scorecards/<int:user_id>/", views.scorecard, name="report_scorecard"),
    path("products/", views.products, name="report_products"),
    path("priorities/", views.priorities, name="report_priorities"),
    path("deals/", views.deals, name="report_deals"),
]
