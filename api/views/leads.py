"""Leads: list, read, create and update, and the qualify, disqualify and convert actions."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from api import concurrency
from api import filters as api_filters
from api import serializers as s
from api.deal_lines import with_lines
from api.views.base import IF_MATCH, WRITE_ERRORS, Records, record_schema, scoped
from pipeline import services
from pipeline.models import Lead, Opportunity

LEAD_EXAMPLE = {
    "first_name": "Sam",
    "last_name": "Okafor",
    "email": "sam@northwind.test",
    "company_name": "Northwind",
    "source": "web",
    "need": "Replace spreadsheets for 40 sellers",
    "budget": "48000.00",
    "timeline": "Decide in Q1",
}


@record_schema(
    "a lead",
    "leads",
    serializer=s.LeadSerializer,
    request=s.LeadInput,
    create_example=("From the website form", LEAD_EXAMPLE),
    patch_example=("Budget known", {"budget": "50000.00"}),
)
class LeadViewSet(Records):
    queryset = Lead.objects.none()  # the schema's id type; get_queryset decides
    serializer_class = s.LeadSerializer
    input_class = s.LeadInput
    filterset_class = api_filters.LeadFilter
    ordering_fields = ["id", "created_at", "updated_at", "last_name", "budget"]
    queryset_for = scoped(Lead)

    def create(self, request):
        data = self.parsed(s.LeadInput)
        data.pop("version", None)
        lead = services.create_lead(by=request.user, **data)
        return self.respond(lead, status.HTTP_201_CREATED)

    def do_update(self, obj, data):
        return self.write(obj, services.update_lead, data, lead=obj)

    @extend_schema(
        summary="Qualify a lead as a prospect",
        parameters=[IF_MATCH],
        request=s.VersionInput,
        responses={200: s.LeadSerializer, **WRITE_ERRORS},
        examples=[OpenApiExample("With the version in the body", value={"version": 1})],
    )
    @action(detail=True, methods=["post"])
    def qualify(self, request, pk=None):
        lead = self.get_object()
        return self.write(lead, services.qualify_lead, self.parsed(s.VersionInput), lead=lead)

    @extend_schema(
        summary="Disqualify a lead",
        parameters=[IF_MATCH],
        request=s.LeadDisqualifyInput,
        responses={200: s.LeadSerializer, **WRITE_ERRORS},
        examples=[OpenApiExample("Too small", value={"reason": "Fewer than 5 seats"})],
    )
    @action(detail=True, methods=["post"])
    def disqualify(self, request, pk=None):
        lead = self.get_object()
        data = self.parsed(s.LeadDisqualifyInput)
        return self.write(lead, services.disqualify_lead, data, lead=lead)

    @extend_schema(
        summary="Convert a prospect into an opportunity",
        description="Needs the lead's need, budget and timeline. Answers with the new deal.",
        parameters=[IF_MATCH],
        request=s.LeadConvertInput,
        responses={201: s.OpportunitySerializer, **WRITE_ERRORS},
        examples=[
            OpenApiExample(
                "Convert", value={"amount": "48000.00", "expected_close_date": "2027-03-31"}
            )
        ],
    )
    @action(detail=True, methods=["post"])
    def convert(self, request, pk=None):
        lead = self.get_object()
        data = self.parsed(s.LeadConvertInput)
        exp = concurrency.expected(request, data)
        data.pop("version", None)
        with concurrency.checked(exp, self.current(lead)):
            deal = services.convert_lead(lead=lead, by=request.user, version=exp.version, **data)
        deal = with_lines(Opportunity.objects.all()).get(pk=deal.pk)
        response = Response(
            s.OpportunitySerializer(deal, context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED,
        )
        response["ETag"] = concurrency.etag(deal.version)
        response["Location"] = f"/api/v1/opportunities/{deal.pk}/"
        return response
