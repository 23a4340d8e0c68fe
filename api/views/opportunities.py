"""Opportunities: list, read, create and update, and the move, close-won and close-lost
actions (only the pipeline's services assign a stage)."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.decorators import action

from api import deal_rows
from api import filters as api_filters
from api import serializers as s
from api.deal_lines import with_lines
from api.deal_rows import as_rows
from api.views.base import IF_MATCH, WRITE_ERRORS, Records, record_schema
from pipeline import services
from pipeline.models import Opportunity

DEAL_EXAMPLE = {
    "name": "Acme — 40 seats",
    "company": 12,
    "pipeline": 1,
    "amount": "48000.00",
    "expected_close_date": "2027-03-31",
}


@record_schema(
    "an opportunity",
    "opportunities",
    serializer=s.OpportunitySerializer,
    request=s.OpportunityInput,
    update_request=s.OpportunityUpdateInput,
    change_summary="Change an opportunity (never its stage)",
    create_example=("New deal", DEAL_EXAMPLE),
    patch_example=("New amount", {"amount": "52000.00"}),
)
class OpportunityViewSet(Records):
    queryset = Opportunity.objects.none()  # the schema's id type; get_queryset decides
    serializer_class = s.OpportunitySerializer
    input_class = s.OpportunityInput
    update_class = s.OpportunityUpdateInput
    filterset_class = api_filters.OpportunityFilter
    ordering_fields = ["id", "amount", "expected_close_date", "created_at", "updated_at"]

    def queryset_for(self, user):
        deals = Opportunity.objects.all() if user is None else Opportunity.objects.visible_to(user)
        return with_lines(deals)

    def get_queryset(self):
        """Reads (the list, one deal) are rows, not instances (``api.deal_rows``): the
        same representation for a fraction of the work; the writes' actions need the deal."""
        if self.action in ("list", "retrieve"):
            return as_rows(Opportunity.objects.visible_to(self.request.user))
        return super().get_queryset()

    def get_object(self):
        if self.action != "retrieve":
            return super().get_object()
        deal = deal_rows.read_one(self.request.user, int(self.kwargs[self.lookup_field]))
        if deal is None:
            raise Http404
        return deal

    def create(self, request):
        data = self.parsed(s.OpportunityInput)
        data.pop("version", None)
        deal = services.create_opportunity(by=request.user, **data)
        return self.respond(deal, status.HTTP_201_CREATED)

    def do_update(self, obj, data):
        return self.write(obj, services.update_opportunity, data, opportunity=obj)

    @extend_schema(
        summary="Move an opportunity to another stage of its pipeline",
        parameters=[IF_MATCH],
        request=s.MoveInput,
        responses={200: s.OpportunitySerializer, **WRITE_ERRORS},
        examples=[OpenApiExample("Next stage", value={"stage": 2})],
    )
    @action(detail=True, methods=["post"])
    def move(self, request, pk=None):
        deal = self.get_object()
        data = self.parsed(s.MoveInput)
        data["to_stage"] = data.pop("stage")
        return self.write(deal, services.move_opportunity, data, opportunity=deal)

    @extend_schema(
        summary="Close an opportunity as won",
        parameters=[IF_MATCH],
        request=s.CloseWonInput,
        responses={200: s.OpportunitySerializer, **WRITE_ERRORS},
        examples=[OpenApiExample("Won today", value={})],
    )
    @action(detail=True, methods=["post"], url_path="close-won")
    def close_won(self, request, pk=None):
        deal = self.get_object()
        data = self.parsed(s.CloseWonInput)
        return self.write(deal, services.close_won, data, opportunity=deal)

    @extend_schema(
        summary="Close an opportunity as lost",
        parameters=[IF_MATCH],
        request=s.CloseLostInput,
        responses={200: s.OpportunitySerializer, **WRITE_ERRORS},
        examples=[OpenApiExample("Lost on price", value={"lost_reason": 1, "lost_note": ""})],
    )
    @action(detail=True, methods=["post"], url_path="close-lost")
    def close_lost(self, request, pk=None):
        deal = self.get_object()
        data = self.parsed(s.CloseLostInput)
        return self.write(deal, services.close_lost, data, opportunity=deal)
