"""An opportunity's line items: list and read them, add a product, change a line's quantity,
unit price or discount, remove a line. A line has no version of its own: every write names the
deal's version (``If-Match`` with the deal's ETag, or ``version`` in the body), goes through
the pipeline's line-item services, which keep the amount the sum of the lines, and answers
with the line and the deal as it is now (its new version is the ETag). A deal one may not see
answers 404 for its lines too, exactly like a deal that does not exist."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from api import concurrency
from api import serializers as s
from api.deal_lines import with_lines
from api.views.base import ERROR, ID_REGEX, IF_MATCH, WRITE_ERRORS
from pipeline import services
from pipeline.models import LineItem, Opportunity

DEAL_ID = OpenApiParameter(
    "opportunity_id",
    OpenApiTypes.INT,
    OpenApiParameter.PATH,
    description="The opportunity's id.",
)
LINE_ID = OpenApiParameter(
    "id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The line item's id."
)
READ_ERRORS = {404: OpenApiResponse(ERROR, description="No such deal or line, or unseen.")}
CHANGED = {200: s.LineItemChangeSerializer, **WRITE_ERRORS}


@extend_schema_view(
    list=extend_schema(
        summary="List an opportunity's line items",
        parameters=[DEAL_ID],
        responses={200: s.LineItemSerializer(many=True), **READ_ERRORS},
    ),
    retrieve=extend_schema(
        summary="Read a line item",
        parameters=[DEAL_ID, LINE_ID],
        responses={200: s.LineItemSerializer, **READ_ERRORS},
    ),
    create=extend_schema(
        summary="Add a product to an opportunity",
        description="An empty unit price takes the product's list price in the deal's currency. "
        "The deal's amount becomes the sum of its lines.",
        parameters=[DEAL_ID, IF_MATCH],
        request=s.LineItemInput,
        responses={201: s.LineItemChangeSerializer, **WRITE_ERRORS},
        examples=[
            OpenApiExample(
                "Three seats at 10% off",
                value={"product": 1, "quantity": "3", "discount_percent": "10", "version": 1},
            )
        ],
    ),
    update=extend_schema(
        summary="Change a line item",
        parameters=[DEAL_ID, LINE_ID, IF_MATCH],
        request=s.LineItemUpdateInput,
        responses=CHANGED,
        examples=[OpenApiExample("Five seats", value={"quantity": "5"})],
    ),
    partial_update=extend_schema(
        summary="Change some fields of a line item",
        parameters=[DEAL_ID, LINE_ID, IF_MATCH],
        request=s.LineItemUpdateInput,
        responses=CHANGED,
        examples=[OpenApiExample("A better discount", value={"discount_percent": "15"})],
    ),
    destroy=extend_schema(
        summary="Remove a line item",
        description="The amount becomes the sum of the lines left; with none left the deal "
        "keeps its amount, typed from then on. Name the deal's version with If-Match.",
        parameters=[DEAL_ID, LINE_ID, IF_MATCH],
        request=None,
        responses=CHANGED,
    ),
)
class LineItemViewSet(viewsets.GenericViewSet):
    """The products an opportunity sells."""

    queryset = LineItem.objects.none()  # the schema's id type; get_queryset decides
    serializer_class = s.LineItemSerializer
    lookup_value_regex = ID_REGEX
    pagination_class = None
    filter_backends: list = []

    # --- reads ---------------------------------------------------------------------------

    def deal(self) -> Opportunity:
        """The opportunity in the URL, if the caller may see it (else 404)."""
        visible = Opportunity.objects.visible_to(self.request.user)
        return get_object_or_404(visible, pk=self.kwargs["opportunity_id"])

    def get_queryset(self):
        return LineItem.objects.select_related("product").order_by("id")

    def line(self, deal: Opportunity) -> LineItem:
        return get_object_or_404(self.get_queryset(), opportunity=deal, pk=self.kwargs["pk"])

    def tagged(self, deal: Opportunity, data) -> Response:
        """A read carries the deal's ETag (every line change raises the deal's version);
        ``If-None-Match`` with it is a 304."""
        tag = concurrency.etag(deal.version)
        if self.request.headers.get("If-None-Match") == tag:
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": tag})
        return Response(data(), headers={"ETag": tag})

    def list(self, request, *args, **kwargs):
        deal = self.deal()
        lines = self.get_queryset().filter(opportunity=deal)
        return self.tagged(deal, lambda: self.get_serializer(lines, many=True).data)

    def retrieve(self, request, *args, **kwargs):
        deal = self.deal()
        line = self.line(deal)
        return self.tagged(deal, lambda: self.get_serializer(line).data)

    # --- writes --------------------------------------------------------------------------

    def parsed(self, serializer_class, *, partial=False) -> dict:
        data = self.request.data
        if not isinstance(data, dict):
            raise ValidationError({"non_field_errors": ["Send a JSON object."]})
        serializer = serializer_class(
            data=data, partial=partial, context=self.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def changed(self, deal_id: int, line_id: int | None, status_code=status.HTTP_200_OK):
        deal = with_lines(Opportunity.objects.all()).get(pk=deal_id)
        line = next((x for x in deal.line_items.all() if x.pk == line_id), None)
        context = self.get_serializer_context()
        data = {
            "line_item": s.LineItemSerializer(line, context=context).data if line else None,
            "opportunity": s.OpportunitySerializer(deal, context=context).data,
        }
        response = Response(data, status=status_code)
        response["ETag"] = concurrency.etag(deal.version)
        if line is not None and status_code == status.HTTP_201_CREATED:
            response["Location"] = f"/api/v1/opportunities/{deal.pk}/line-items/{line.pk}/"
        return response

    def write(self, deal: Opportunity, data: dict, func, **kwargs):
        """Call the line-item service ``func`` with the deal's version the client named; a
        stale one answers with the deal as stored now."""
        exp = concurrency.expected(self.request, data)
        data.pop("version", None)

        def current():
            stored = with_lines(Opportunity.objects.all()).get(pk=deal.pk)
            return s.OpportunitySerializer(stored, context=self.get_serializer_context()).data

        with concurrency.checked(exp, current):
            return func(by=self.request.user, version=exp.version, **kwargs, **data)

    def create(self, request, *args, **kwargs):
        deal = self.deal()
        data = self.parsed(s.LineItemInput)
        line = self.write(deal, data, services.add_line_item, opportunity=deal)
        return self.changed(deal.pk, line.pk, status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        deal = self.deal()
        line = self.line(deal)
        data = self.parsed(s.LineItemUpdateInput, partial=True)
        for field in ("quantity", "unit_price", "discount_percent"):
            data.setdefault(field, getattr(line, field))
        self.write(deal, data, services.update_line_item, line_item=line)
        return self.changed(deal.pk, line.pk)

    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, **kwargs)

    def destroy(self, request, *args, **kwargs):
        deal = self.deal()
        line = self.line(deal)
        data = self.parsed(s.VersionInput) if request.data else {}
        self.write(deal, data, services.remove_line_item, line_item=line)
        return self.changed(deal.pk, None)
