"""The REST API's endpoints: thin, like every view. Reads start from ``visible_to(user)`` (a
record one may not see is a 404); every write is a service call, with the version the client
names (``If-Match`` or ``version``); business actions are endpoints of their own.

``base`` holds what they share; one module per area holds its endpoints."""

from api.views.base import not_found
from api.views.leads import LeadViewSet
from api.views.line_items import LineItemViewSet
from api.views.opportunities import OpportunityViewSet
from api.views.records import ActivityViewSet, CompanyViewSet, ContactViewSet, TaskViewSet
from api.views.reference import (
    DashboardView,
    ForecastSnapshotViewSet,
    LostReasonViewSet,
    PipelineViewSet,
    ProductViewSet,
    StageViewSet,
    TeamViewSet,
    UserViewSet,
)

__all__ = [
    "ActivityViewSet",
    "CompanyViewSet",
    "ContactViewSet",
    "DashboardView",
    "ForecastSnapshotViewSet",
    "LeadViewSet",
    "LineItemViewSet",
    "LostReasonViewSet",
    "OpportunityViewSet",
    "PipelineViewSet",
    "ProductViewSet",
    "StageViewSet",
    "TaskViewSet",
    "TeamViewSet",
    "UserViewSet",
    "not_found",
]
