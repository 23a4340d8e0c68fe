"""Reference data and figures, read-only: pipelines, stages, lost reasons, users, teams,
forecast snapshots and the dashboard's figures."""

from __future__ import annotations

from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import visibility
from accounts.models import Team, User
from api import filters as api_filters
from api import serializers as s
from api.views.base import ERROR, ReadOnly
from forecasting.forms import ScopeForm
from forecasting.models import ForecastSnapshot
from pipeline.models import LostReason, Pipeline, Product, ProductPrice, Stage


class PipelineViewSet(ReadOnly):
    queryset = Pipeline.objects.none()  # the schema's id type; get_queryset decides
    serializer_class = s.PipelineSerializer

    def queryset_for(self, user):
        return Pipeline.objects.prefetch_related("stages")


class StageViewSet(ReadOnly):
    queryset = Stage.objects.none()  # the schema's id type; get_queryset decides
    serializer_class = s.StageSerializer
    filterset_fields = ["pipeline", "kind"]

    def queryset_for(self, user):
        return Stage.objects.all()


class LostReasonViewSet(ReadOnly):
    queryset = LostReason.objects.none()  # the schema's id type; get_queryset decides
    serializer_class = s.LostReasonSerializer
    filterset_fields = ["is_active"]

    def queryset_for(self, user):
        return LostReason.objects.all()


class ProductViewSet(ReadOnly):
    """The product catalogue with its price list (a unit price per currency); products no
    longer offered are listed too (``?is_active=true`` for those on sale)."""

    queryset = Product.objects.none()  # the schema's id type; get_queryset decides
    serializer_class = s.ProductSerializer
    filterset_class = api_filters.ProductFilter

    def queryset_for(self, user):
        prices = ProductPrice.objects.order_by("currency")
        return Product.objects.prefetch_related(Prefetch("prices", queryset=prices))


class UserViewSet(ReadOnly):
    """The users whose records you may see (reps: themselves)."""

    queryset = User.objects.none()  # the schema's id type; get_queryset decides
    serializer_class = s.UserSerializer

    def queryset_for(self, user):
        return visibility.visible_users(user)


class TeamViewSet(ReadOnly):
    queryset = Team.objects.none()  # the schema's id type; get_queryset decides
    serializer_class = s.TeamSerializer

    def queryset_for(self, user):
        return visibility.visible_teams(user) if user is not None else Team.objects.all()


class ForecastSnapshotViewSet(ReadOnly):
    """Nightly forecast snapshots (one row per date, period, owner and pipeline)."""

    queryset = ForecastSnapshot.objects.none()  # the schema's id type; get_queryset decides
    serializer_class = s.ForecastSnapshotSerializer
    filterset_class = api_filters.SnapshotFilter

    def queryset_for(self, user):
        return ForecastSnapshot.objects.visible_to(user)


class DashboardView(APIView):
    """The forecast dashboard's figures for a period, pipeline, team or rep."""

    @extend_schema(
        summary="Forecast figures of a period",
        parameters=[
            OpenApiParameter("period", str, description="2026-11 (a month) or 2026-Q4."),
            OpenApiParameter("pipeline", int),
            OpenApiParameter("team", int),
            OpenApiParameter("rep", int),
        ],
        responses={200: s.DashboardSerializer, 400: OpenApiResponse(ERROR)},
    )
    def get(self, request):
        from forecasting import selectors

        form = ScopeForm(request.GET, user=request.user)
        if not form.is_valid():
            raise ValidationError(
                form.errors.get_json_data()
                and {k: [e["message"] for e in v] for k, v in form.errors.get_json_data().items()}
            )
        scope = form.scope()
        board = selectors.dashboard(scope)
        data = {
            "period": scope.period.param,
            "period_start": scope.period.start,
            "period_end": scope.period.last_day,
            "pipeline": scope.pipeline.pk if scope.pipeline else None,
            "team": scope.team.pk if scope.team else None,
            "rep": scope.rep.pk if scope.rep else None,
            "total": board.total,
            "reps": board.rows,
        }
        return Response(s.DashboardSerializer(data).data)
