from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import DefaultRouter

from api import docs, views

app_name = "api"

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("companies", views.CompanyViewSet, basename="company")
router.register("contacts", views.ContactViewSet, basename="contact")
router.register("leads", views.LeadViewSet, basename="lead")
router.register("opportunities", views.OpportunityViewSet, basename="opportunity")
router.register(
    r"opportunities/(?P<opportunity_id>[0-9]{1,18})/line-items",
    views.LineItemViewSet,
    basename="line-item",
)
router.register("activities", views.ActivityViewSet, basename="activity")
router.register("tasks", views.TaskViewSet, basename="task")
router.register("pipelines", views.PipelineViewSet, basename="pipeline")
router.register("stages", views.StageViewSet, basename="stage")
router.register("lost-reasons", views.LostReasonViewSet, basename="lost-reason")
router.register("products", views.ProductViewSet, basename="product")
router.register("users", views.UserViewSet, basename="user")
router.register("teams", views.TeamViewSet, basename="team")
router.register("forecast-snapshots", views.ForecastSnapshotViewSet, basename="snapshot")

urlpatterns = [
    path("v1/", include(router.urls)),
    path("v1/dashboard/", views.DashboardView.as_view(), name="dashboard"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", docs.docs, name="docs"),
    # Anything else under /api/ is the API's JSON 404, never the site's HTML page.
    re_path(r"^[\s\S]*\Z", views.not_found, name="not_found"),
]
